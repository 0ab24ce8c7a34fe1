using System.Text.Json;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// A model folder's vocabulary laid out as GGUF's <c>tokenizer.ggml.*</c> arrays, built the way llama.cpp's
/// <c>convert_hf_to_gguf.py</c> builds it from <c>tokenizer.model</c>: piece types unknown/control/unused/byte are kept
/// and every other piece (user-defined ones included) is normal; tokens of <c>added_tokens.json</c> and the
/// <c>added_tokens_decoder</c> of <c>tokenizer_config.json</c> become control (special) or user-defined tokens with
/// score -1000; slots up to <c>config.json</c>'s vocab_size that nothing fills are unused <c>[PADi]</c> tokens.
/// </summary>
public sealed class HfVocabulary
{
    /// <summary>Mistral-Instruct's chat format, used when the folder's tokenizer_config.json has no template.</summary>
    public const string DefaultChatTemplate =
        "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

    private HfVocabulary(string[] tokens, float[] scores, int[] types)
    {
        Tokens = tokens;
        Scores = scores;
        TokenTypes = types;
    }

    /// <summary>Token strings (<c>▁</c> for a space).</summary>
    public string[] Tokens { get; }
    /// <summary>Scores.</summary>
    public float[] Scores { get; }
    /// <summary>GGUF token types (<see cref="TokenType"/> values).</summary>
    public int[] TokenTypes { get; }
    /// <summary>BOS id.</summary>
    public int BosId { get; private init; }
    /// <summary>EOS id.</summary>
    public int EosId { get; private init; }
    /// <summary>Unknown-token id.</summary>
    public int UnknownId { get; private init; }
    /// <summary>Padding id, when the model has one.</summary>
    public int? PaddingId { get; private init; }
    /// <summary>Whether BOS is added when encoding.</summary>
    public bool AddBos { get; private init; } = true;
    /// <summary>Whether EOS is added when encoding.</summary>
    public bool AddEos { get; private init; }
    /// <summary>Whether a space is put before the text (SentencePiece's add_dummy_prefix).</summary>
    public bool AddSpacePrefix { get; private init; } = true;
    /// <summary>The chat template (Jinja text).</summary>
    public string ChatTemplate { get; private init; } = DefaultChatTemplate;

    /// <summary>
    /// Reads <c>tokenizer.model</c> and the optional <c>added_tokens.json</c> / <c>tokenizer_config.json</c> of
    /// <paramref name="folder"/>. <paramref name="vocabSize"/> (config.json's) pads the vocabulary; pass null to keep
    /// the model's size. Throws <see cref="HuggingFaceFormatException"/> naming the file for malformed content.
    /// </summary>
    public static HfVocabulary Read(string folder, int? vocabSize = null, int? configBos = null, int? configEos = null)
    {
        string spPath = Path.Combine(folder, SentencePieceModel.FileName);
        if (!File.Exists(spPath))
            throw new FileNotFoundException($"{folder} has no {SentencePieceModel.FileName} (Eurus.Cpu reads SentencePiece vocabularies only).", spPath);
        var sp = SentencePieceModel.Read(spPath);
        int n = vocabSize ?? sp.Pieces.Count;
        // As llama.cpp's converter: every slot starts as an unused "[PADi]" (score -10000); the model's pieces fill
        // the first ones (pieces beyond config.json's vocab_size are dropped), added tokens may claim the rest.
        var tokens = new string[n];
        var scores = new float[n];
        var types = new int[n];
        for (int i = 0; i < n; i++)
        {
            tokens[i] = $"[PAD{i}]";
            scores[i] = -10000f;
            types[i] = (int)TokenType.Unused;
        }
        for (int i = 0; i < Math.Min(n, sp.Pieces.Count); i++)
        {
            var p = sp.Pieces[i];
            tokens[i] = p.Piece;
            scores[i] = p.Score;
            types[i] = p.Type switch
            {
                SentencePieceModel.PieceType.Unknown => (int)TokenType.Unknown,
                SentencePieceModel.PieceType.Control => (int)TokenType.Control,
                SentencePieceModel.PieceType.Unused => (int)TokenType.Unused,
                SentencePieceModel.PieceType.Byte => (int)TokenType.Byte,
                _ => (int)TokenType.Normal,
            };
        }

        string addedPath = Path.Combine(folder, "added_tokens.json");
        if (File.Exists(addedPath))
        {
            using var doc = HfJson.ReadObject(addedPath);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                    throw new HuggingFaceFormatException(addedPath, $"token '{p.Name}' has id {p.Value.GetRawText()}, not a non-negative integer.");
                if (id >= n) continue; // llama.cpp ignores (with a warning) added tokens beyond the vocabulary
                tokens[id] = p.Name;
                scores[id] = -1000f;
                types[id] = (int)TokenType.UserDefined;
            }
        }

        bool addBos = true, addEos = false;
        string template = DefaultChatTemplate;
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using var doc = HfJson.ReadObject(configPath);
            var o = doc.RootElement;
            if (o.TryGetProperty("added_tokens_decoder", out var dec) && dec.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in dec.EnumerateObject())
                {
                    if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
                        throw new HuggingFaceFormatException(configPath, $"added_tokens_decoder key '{p.Name}' is not a token id.");
                    if (p.Value.ValueKind != JsonValueKind.Object || HfJson.String(configPath, p.Value, "content") is not { Length: > 0 } content)
                        throw new HuggingFaceFormatException(configPath, $"added_tokens_decoder entry {id} has no 'content' string.");
                    if (id >= n) continue;
                    if (HfJson.Bool(configPath, p.Value, "special") == true || LooksSpecial(content))
                    {
                        tokens[id] = content;
                        types[id] = (int)TokenType.Control;
                    }
                    else
                    {
                        // User-defined tokens are matched against raw text, so spaces are stored as spaces.
                        tokens[id] = content.Replace('\u2581', ' ');
                        types[id] = (int)TokenType.UserDefined;
                    }
                    scores[id] = -1000f;
                }
            }
            addBos = HfJson.Bool(configPath, o, "add_bos_token") ?? true;
            addEos = HfJson.Bool(configPath, o, "add_eos_token") ?? false;
            if (o.TryGetProperty("chat_template", out var ct))
            {
                if (ct.ValueKind == JsonValueKind.String) template = ct.GetString()!;
                else if (ct.ValueKind == JsonValueKind.Array)
                {
                    // A list of named templates: llama.cpp keeps the one called "default".
                    foreach (var t in ct.EnumerateArray())
                        if (t.ValueKind == JsonValueKind.Object && HfJson.String(configPath, t, "name") == "default"
                            && HfJson.String(configPath, t, "template") is { } text)
                            template = text;
                }
            }
        }

        int bos = configBos ?? sp.BosId;
        int eos = configEos ?? sp.EosId;
        foreach (var (what, id) in new[] { ("bos_token_id", bos), ("eos_token_id", eos), ("unk_id", sp.UnkId) })
            if (id < 0 || id >= n)
                throw new HuggingFaceFormatException(spPath, $"{what} {id} is outside the vocabulary of {n} tokens.");
        return new HfVocabulary(tokens, scores, types)
        {
            BosId = bos,
            EosId = eos,
            UnknownId = sp.UnkId,
            PaddingId = sp.PadId >= 0 ? sp.PadId : null,
            AddBos = addBos,
            AddEos = addEos,
            AddSpacePrefix = sp.AddDummyPrefix,
            ChatTemplate = template,
        };
    }

    /// <summary>Token texts llama.cpp's converter treats as special even when not marked so.</summary>
    private static bool LooksSpecial(string t) =>
        t is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (t.StartsWith("<|", StringComparison.Ordinal) && t.EndsWith("|>", StringComparison.Ordinal))
        || (t.StartsWith("<\uFF5C", StringComparison.Ordinal) && t.EndsWith("\uFF5C>", StringComparison.Ordinal))
        || (t.StartsWith("<start_of_", StringComparison.Ordinal) && t.EndsWith('>'))
        || (t.StartsWith("<end_of_", StringComparison.Ordinal) && t.EndsWith('>'));

    /// <summary>The engine's tokenizer over this vocabulary (the same ids as a GGUF converted from the folder).</summary>
    public Tokenizer CreateTokenizer() =>
        Tokenizer.Create(Tokens, Scores, TokenTypes, BosId, EosId, UnknownId, AddBos, AddSpacePrefix, AddEos);
}
