using System.Diagnostics;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Tests.Tokenization;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>tokenizer.model (SentencePiece protobuf) read by our own parser gives the GGUF vocabulary and the same ids.</summary>
public class HfTokenizerTests
{
    private static string Folder => TestPaths.Model("kjv-tiny-hf");

    [Fact]
    public void VocabularyArraysEqualTheGgufOnes()
    {
        var v = HfVocabulary.Read(Folder, 4096);
        using var g = GgufFile.Open(TestPaths.F32);
        var m = g.Metadata;
        Assert.Equal(m.GetStringArray(Tokenizer.TokensKey), v.Tokens);
        Assert.Equal(m.GetFloat32Array(Tokenizer.ScoresKey), v.Scores);
        Assert.Equal(m.GetInt32Array(Tokenizer.TokenTypeKey), v.TokenTypes);
        Assert.Equal(m.GetInt64(Tokenizer.BosKey), v.BosId);
        Assert.Equal(m.GetInt64(Tokenizer.EosKey), v.EosId);
        Assert.Equal(m.GetInt64(Tokenizer.UnknownKey), v.UnknownId);
        Assert.Equal(m.GetBool(Tokenizer.AddBosKey), v.AddBos);
        Assert.Equal(m.GetBool(Tokenizer.AddEosKey), v.AddEos);
        Assert.Null(v.PaddingId);
        Assert.Equal(m.GetString("tokenizer.chat_template"), v.ChatTemplate);

        var sp = SentencePieceModel.Read(Path.Combine(Folder, SentencePieceModel.FileName));
        Assert.Equal(2, sp.ModelType);
        Assert.True(sp.ByteFallback);
        Assert.True(sp.AddDummyPrefix);
        Assert.Equal(-1, sp.PadId);
    }

    [Fact]
    public void IdsEqualTheGgufTokenizersOnTheCorpus()
    {
        var ours = HfVocabulary.Read(Folder).CreateTokenizer();
        using var g = GgufFile.Open(TestPaths.F32);
        var gguf = Tokenizer.FromGguf(g);
        var rng = new Random(5);
        var extra = Enumerable.Range(0, 200).Select(_ =>
            new string(Enumerable.Range(0, rng.Next(1, 40)).Select(_ => (char)rng.Next(1, 0x3000)).ToArray()));
        int n = 0;
        foreach (string s in TokenizerTests.Corpus.Concat(extra))
        {
            Assert.Equal(gguf.Encode(s), ours.Encode(s));
            var ids = ours.Encode(s, addBos: false);
            Assert.Equal(gguf.Decode(ids), ours.Decode(ids));
            n++;
        }
        Assert.True(n >= 240);
    }

    [Fact]
    public void AddedTokensAndTokenizerConfigFollowLlamaCppsConverter()
    {
        using var dir = TestPaths.Temp();
        File.Copy(Path.Combine(Folder, SentencePieceModel.FileName), dir.File(SentencePieceModel.FileName));
        File.WriteAllText(dir.File("added_tokens.json"), """{"<extra>": 4096}""");
        File.WriteAllText(dir.File("tokenizer_config.json"), """
            {"add_bos_token": false, "add_eos_token": true,
             "added_tokens_decoder": {"0": {"content": "<unk>", "special": true}, "4097": {"content": "▁hi▁there", "special": false},
                                      "4098": {"content": "<|im_end|>", "special": false}},
             "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}
            """);
        var v = HfVocabulary.Read(dir.Path, 4100);
        Assert.Equal(4100, v.Tokens.Length);
        Assert.Equal((int)TokenType.Control, v.TokenTypes[0]);
        Assert.Equal(-1000f, v.Scores[0]);
        Assert.Equal(("<extra>", (int)TokenType.UserDefined), (v.Tokens[4096], v.TokenTypes[4096]));
        Assert.Equal((" hi there", (int)TokenType.UserDefined), (v.Tokens[4097], v.TokenTypes[4097]));
        Assert.Equal(("<|im_end|>", (int)TokenType.Control), (v.Tokens[4098], v.TokenTypes[4098]));
        Assert.Equal(("[PAD4099]", (int)TokenType.Unused, -10000f), (v.Tokens[4099], v.TokenTypes[4099], v.Scores[4099]));
        // A vocab_size below the model's piece count drops the pieces past it (as llama.cpp's converter does).
        Assert.Equal(v.Tokens[..4000], HfVocabulary.Read(dir.Path, 4000).Tokens);
        Assert.False(v.AddBos);
        Assert.True(v.AddEos);
        Assert.Equal("D", v.ChatTemplate);
        var t = v.CreateTokenizer();
        Assert.Equal(t.Encode("x", addBos: true)[^1], t.EosId);

        File.WriteAllText(dir.File("tokenizer_config.json"), """{"added_tokens_decoder": {"x": {}}}""");
        Assert.Throws<HuggingFaceFormatException>(() => HfVocabulary.Read(dir.Path));
        File.WriteAllText(dir.File("tokenizer_config.json"), "{");
        Assert.Throws<HuggingFaceFormatException>(() => HfVocabulary.Read(dir.Path));
    }

    [Fact]
    public void MalformedProtobufIsRejectedWithTheTypedException()
    {
        var valid = File.ReadAllBytes(Path.Combine(Folder, SentencePieceModel.FileName));
        var sw = Stopwatch.StartNew();
        // Truncations: all in the first 2 KB, then every 997th byte.
        for (int n = 0; n < valid.Length; n += n < 2048 ? 1 : 997)
        {
            try
            {
                var m = SentencePieceModel.Parse(valid.AsSpan(0, n), "cut");
                // A cut exactly between two pieces is a valid, shorter model.
                Assert.True(m.Pieces.Count < 4096);
            }
            catch (HuggingFaceFormatException e)
            {
                Assert.StartsWith("cut: ", e.Message);
            }
        }
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([], "empty"));
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "huge length"));
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([0x0B], "group wire type"));
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse(Enumerable.Repeat((byte)0x80, 12).ToArray(), "endless varint"));
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([0x0A, 0x03, 0x0A, 0x01, 0xFF], "bad utf-8"));
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([0x0A, 0x05, 0x0A, 0x01, 0x61, 0x18, 0x09], "bad type"));
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([0x0A, 0x02, 0x18, 0x01], "no text"));
        // A piece "a", then trainer_spec.model_type = WORD (3).
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([0x0A, 0x03, 0x0A, 0x01, 0x61, 0x12, 0x02, 0x18, 0x03], "word model"));
        // bos_id = 7 with one piece.
        Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse([0x0A, 0x03, 0x0A, 0x01, 0x61, 0x12, 0x03, 0xC8, 0x02, 0x07], "bos out of range"));
        var rng = new Random(9);
        for (int i = 0; i < 300; i++)
        {
            var bytes = (byte[])valid.Clone();
            for (int k = 0; k < 4; k++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try { SentencePieceModel.Parse(bytes, "fuzz"); }
            catch (HuggingFaceFormatException) { }
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
    }
}
