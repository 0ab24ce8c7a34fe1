using System.Text;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;
using Eurus.Cpu.Tests.Oracle;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Tests.Tokenization;

public class TokenizerTests
{
    private const string MathCot =
        "[INST] Solve the following math problem step-by-step.\nSimplify your answer as much as possible. " +
        "Present your final answer as \\boxed{Your Answer}.\nWhat is 2+2? [/INST]";

    private const string MathPot =
        "[INST] Tool available:\n[1] Python interpreter\nWhen you send a message containing Python code to python, " +
        "it will be executed in a stateful Jupyter notebook environment.\nSolve the following math problem step-by-step.\n" +
        "Simplify your answer as much as possible.\nFind the sum of all primes below 100. [/INST]";

    private const string Coding = "[INST] Write Python code to solve the task:\nReturn the n-th Fibonacci number. [/INST]";

    private static readonly string Paragraph = string.Concat(Enumerable.Repeat(
        "In the beginning God created the heaven and the earth. And the earth was without form, and void; " +
        "and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. ", 12));

    public static readonly string[] Corpus =
    [
        "",
        " ",
        "Hello",
        "Hello world",
        "The quick brown fox jumps over the lazy dog.",
        "And God said, Let there be light: and there was light.",
        "In the beginning God created the heaven and the earth.",
        "And it came to pass, when men began to multiply on the face of the earth, and daughters were born unto them,",
        "Thou shalt not kill. Thou shalt not commit adultery.",
        "café naïve résumé",
        "El niño comió piña en España.",
        "Über Größe und Müller",
        "日本語のテキストです。",
        "中文测试",
        "한국어",
        "😀",
        "👍🏽 thumbs up",
        "👨‍👩‍👧‍👦 family",
        "🏳️‍🌈",
        "a  b",
        "a   b",
        "a    b",
        "a     b",
        "  leading",
        "trailing  ",
        "     ",
        "tab\there",
        "\t\tindented",
        "line1\nline2",
        "line1\r\nline2",
        "para\n\n\nnext",
        "\n",
        "1234567890123456789012345678901234567890",
        "aaa aaaa lllll eeeeeee sss tttt!!!!! ---- ....",
        "Mississippi bookkeeper committee",
        "3.14159 and 2,718,281",
        "Hello, world! How's it going? (Fine) [ok] {yes} <no> #1 @you $5 %10 ^ & * ~ ` | \\ / ; :",
        "[INST]",
        "[/INST]",
        "[INST] Hello [/INST]",
        "<s>",
        "</s>",
        "<unk>",
        "<s>[INST] hi [/INST]</s>",
        "<0x41>",
        "▁",
        "▁▁x",
        "\u0000 nul",
        "\uFFFD replacement",
        "lone \uD800 surrogate",
        "\uDC00 low surrogate first",
        "\u00A0non-breaking\u2009thin",
        "e\u0301 combining",
        "ﬁ ligature",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        MathCot,
        MathPot,
        Coding,
        "Observation:\n[Executed Successfully with No Output]\nYou have 4 steps left and 2 chances to propose solution left.",
        "```python\nprint(sum(range(10)))\n```",
        "<execute>print(1)</execute> <solution>42</solution>",
        "Step 1: Let x = 5. Step 2: Then x^2 = 25.\nAnswer:\n\\boxed{25}",
        Paragraph,
    ];

    private static readonly Lazy<Tokenizer> Demo = new(() =>
    {
        using var f = GgufFile.Open(TestPaths.Q8);
        return Tokenizer.FromGguf(f);
    });

    private static string Show(string s) =>
        s.Length > 60 ? Escape(s[..60]) + $"...({s.Length} chars)" : Escape(s);

    private static string Escape(string s) =>
        string.Concat(s.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString()));

    [Fact]
    public void DemoVocabularyIsRead()
    {
        var t = Demo.Value;
        Assert.Equal(4096, t.VocabSize);
        Assert.Equal(1, t.BosId);
        Assert.Equal(2, t.EosId);
        Assert.Equal(0, t.UnknownId);
        Assert.True(t.AddBos);
        Assert.False(t.AddEos);
        Assert.True(t.AddSpacePrefix);
        Assert.True(t.IsControl(1));
        Assert.True(t.IsControl(2));
        Assert.False(t.IsControl(0));
        Assert.Equal("<0x41>", t.GetTokenText(3 + 0x41));
        Assert.Equal([(byte)'A'], t.GetPieceBytes(3 + 0x41).ToArray());
        Assert.True(t.GetPieceBytes(1).IsEmpty);
        Assert.Equal([1], t.Encode(""));
        Assert.Empty(t.Encode("", addBos: false));
        Assert.Equal(t.Encode("Hello")[1..], t.Encode("Hello", addBos: false));
    }

    [Fact]
    public void DemoModelTokenizesLikeLlamaCpp()
    {
        Assert.True(Corpus.Length >= 40);
        var t = Demo.Value;
        var failures = new List<string>();
        foreach (string s in Corpus)
        {
            int[] expected = LlamaOracle.Tokenize(TestPaths.Q8, s);
            int[] actual = t.Encode(s);
            if (!expected.SequenceEqual(actual))
                failures.Add($"'{Show(s)}': llama.cpp [{string.Join(",", expected)}] vs ours [{string.Join(",", actual)}]");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void PieceBytesMatchLlamaCppForEveryToken()
    {
        var t = Demo.Value;
        for (int id = 0; id < t.VocabSize; id++)
            Assert.True(LlamaOracle.PieceBytes(TestPaths.Q8, id).AsSpan().SequenceEqual(t.GetPieceBytes(id)), $"token {id} '{t.GetTokenText(id)}'");
    }

    [Fact]
    public void DecodeMatchesLlamaCppAndRoundTrips()
    {
        var t = Demo.Value;
        foreach (string s in Corpus)
        {
            int[] ids = t.Encode(s);
            string decoded = t.Decode(ids);
            Assert.Equal(LlamaOracle.Detokenize(TestPaths.Q8, ids), decoded);
            // The encoder's space prefix stays in the decoded text (llama_token_to_piece does not strip it);
            // lone surrogates went in as U+FFFD, as UTF-8 encoding turns them; a literal '▁' comes back as a space.
            string original = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)).Replace('\u2581', ' ');
            Assert.Equal(s.Length == 0 ? "" : " " + original, decoded);
        }
    }

    [Fact]
    public void StreamingDecoderEmitsOnlyCompleteCharacters()
    {
        var t = Demo.Value;
        int[] ids = t.Encode("😀", addBos: false);
        Assert.Equal(["▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"], ids.Select(t.GetTokenText));

        var d = new StreamingTokenDecoder(t);
        Span<char> buffer = stackalloc char[64];
        Assert.True(d.MaxCharsPerToken <= 64);
        Assert.Equal(" ", d.Append(ids[0]));
        Assert.Equal(0, d.Append(ids[1], buffer));
        Assert.Equal(0, d.Append(ids[2], buffer));
        Assert.Equal(0, d.Append(ids[3], buffer));
        int n = d.Append(ids[4], buffer);
        Assert.Equal("😀", buffer[..n].ToString());
        Assert.Equal("", d.Flush());

        // An incomplete character is flushed as U+FFFD, like Decode does.
        Assert.Equal("", d.Append(ids[1]) + d.Append(ids[2]));
        Assert.Equal("\uFFFD", d.Flush());
        Assert.Equal("\uFFFD", t.Decode(ids[1..3]));
        Assert.Equal("", d.Flush());

        // Reset drops held-back bytes.
        d.Append(ids[1]);
        d.Reset();
        Assert.Equal("A", d.Append(3 + 'A'));

        // Invalid sequences: same replacement as Decode.
        int[] odd = [3 + 0xF0, 3 + 0x9F, 3 + 'x', 3 + 0x80, 3 + 0xE2, 3 + 0x82, 1, 3 + 0xAC, 3 + 0xC3];
        d.Reset();
        Assert.Equal(t.Decode(odd), string.Concat(odd.Select(id => d.Append(id))) + d.Flush());
    }

    [Fact]
    public void StreamedPiecesConcatenateToDecode()
    {
        var t = Demo.Value;
        var d = new StreamingTokenDecoder(t);
        var text = new StringBuilder();
        char[] buffer = new char[d.MaxCharsPerToken];
        foreach (string s in Corpus)
        {
            int[] ids = t.Encode(s);
            text.Clear();
            foreach (int id in ids) text.Append(buffer, 0, d.Append(id, buffer));
            text.Append(d.Flush());
            Assert.Equal(t.Decode(ids), text.ToString());
        }
    }

    [Fact]
    public void StreamingDecoderRejectsTooSmallDestination()
    {
        var t = Demo.Value;
        var d = new StreamingTokenDecoder(t);
        int the = t.Encode("the", addBos: false)[0];
        Assert.Equal("▁the", t.GetTokenText(the));
        var buffer = new char[2];
        Assert.Throws<ArgumentException>(() => d.Append(the, buffer));
        Assert.Equal(" the", d.Append(the));
    }

    [Fact]
    public void SyntheticVocabularyTokenizesLikeLlamaCpp()
    {
        using var dir = TestPaths.Temp();
        string path = dir.File("synthetic.gguf");
        SyntheticModel.Write(path, SyntheticModelOptions.Tiny);
        try
        {
            Tokenizer t;
            using (var f = GgufFile.Open(path)) t = Tokenizer.FromGguf(f);
            string[] samples =
            [
                "", " ", "Hello world", "the cat sat on the mat", "And God said, Let there be light.",
                "a  b   c", "  x", "y  ", "tab\there", "line\nbreak", "12345 67890", "café 日本 😀",
                "[INST] What is 2+2? [/INST]", "<s> </s> <unk>", "tok12 ▁tok3", "qqqq zzzz XYZ!?", "eee eeee ttttt",
            ];
            foreach (string s in samples)
                Assert.True(LlamaOracle.Tokenize(path, s).SequenceEqual(t.Encode(s)), $"'{Show(s)}'");
        }
        finally
        {
            LlamaOracle.Release(path);
        }
    }

    [Fact]
    public void UserDefinedTokensArePartitionedLikeLlamaCpp()
    {
        using var dir = TestPaths.Temp();
        var (tokens, scores, types) = SyntheticVocabulary.Build(600);
        // Turn a few tokens into user-defined ones, including ones that overlap each other and ordinary pieces.
        string[] userDefined = ["[INST]", "[/INST]", "<tool>", "ab", "xyz", "▁hi", "é"];
        for (int i = 0; i < userDefined.Length; i++)
        {
            int slot = 590 - i;
            tokens[slot] = userDefined[i];
            types[slot] = SyntheticVocabulary.UserDefined;
        }
        string vocab = dir.File("vocab.gguf");
        var w = new GgufWriter(vocab);
        w.Add("general.architecture", "llama");
        w.Add(Tokenizer.ModelKey, "llama");
        w.Add(Tokenizer.TokensKey, GgufValue.Array(tokens));
        w.Add(Tokenizer.ScoresKey, GgufValue.Array(scores));
        w.Add(Tokenizer.TokenTypeKey, GgufValue.Array(types));
        w.Complete();
        string path = dir.File("user-defined.gguf");
        SyntheticModel.Write(path, SyntheticModelOptions.Tiny with { VocabularyFrom = vocab });
        try
        {
            Tokenizer t;
            using (var f = GgufFile.Open(path)) t = Tokenizer.FromGguf(f);
            string[] samples =
            [
                "[INST] What is 2+2? [/INST]", "[INST][/INST]", "[INST]x", " [INST] ", "x[/INST]y", "abab cab",
                "<tool>xyz<tool>", "hi hi", " hi", "héé", "no specials here", "[INST]\n[/INST]\n", "xyzab", "ab",
                "<s>ab</s>",
            ];
            foreach (string s in samples)
                Assert.True(LlamaOracle.Tokenize(path, s).SequenceEqual(t.Encode(s)),
                    $"'{Show(s)}': llama.cpp [{string.Join(",", LlamaOracle.Tokenize(path, s))}] vs ours [{string.Join(",", t.Encode(s))}]");
            foreach (int id in t.Encode("[INST] ab é"))
                Assert.True(LlamaOracle.PieceBytes(path, id).AsSpan().SequenceEqual(t.GetPieceBytes(id)), $"token {id}");
        }
        finally
        {
            LlamaOracle.Release(path);
        }
    }

    [Fact]
    public void LongInputEncodesAndRoundTrips()
    {
        var t = Demo.Value;
        var sb = new StringBuilder();
        var rng = new Random(7);
        string[] words = ["the", "LORD", "said", "unto", "Moses", "café", "日本", "😀", "1234", "\n", "  ", "and,", "behold!"];
        while (sb.Length < 100_000) sb.Append(words[rng.Next(words.Length)]).Append(' ');
        string s = sb.ToString();
        int[] ids = t.Encode(s);
        Assert.True(ids.Length > 10_000);
        Assert.Equal(" " + s, t.Decode(ids));

        // A single 100 KB run without spaces (one long merge chain) too.
        string run = new('a', 100_000);
        Assert.Equal(" " + run, t.Decode(t.Encode(run)));
    }

    [Fact]
    public void LongInputMatchesLlamaCpp()
    {
        var sb = new StringBuilder();
        var rng = new Random(11);
        string[] words = ["the", "LORD", "said", "unto", "Moses", "café", "日本", "😀", "1234", "\n", "  ", "and,", "behold!"];
        while (sb.Length < 20_000) sb.Append(words[rng.Next(words.Length)]).Append(' ');
        string s = sb.ToString();
        Assert.Equal(LlamaOracle.Tokenize(TestPaths.Q8, s), Demo.Value.Encode(s));
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "wrong-model", Tokenizer.ModelKey },
        { "missing-tokens", Tokenizer.TokensKey },
        { "empty-vocab", Tokenizer.TokensKey },
        { "short-scores", Tokenizer.ScoresKey },
        { "long-types", Tokenizer.TokenTypeKey },
        { "type-out-of-range", Tokenizer.TokenTypeKey },
        { "negative-type", Tokenizer.TokenTypeKey },
        { "bad-byte-token", Tokenizer.TokenTypeKey },
        { "bos-out-of-range", Tokenizer.BosKey },
        { "eos-out-of-range", Tokenizer.EosKey },
        { "unk-out-of-range", Tokenizer.UnknownKey },
        { "scores-wrong-type", Tokenizer.ScoresKey },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedVocabularyIsRejected(string problem, string key)
    {
        using var dir = TestPaths.Temp();
        string path = dir.File(problem + ".gguf");
        string[] tokens = ["<unk>", "<s>", "</s>", "▁a", "b"];
        float[] scores = [0, 0, 0, -1, -2];
        int[] types = [2, 3, 3, 1, 1];
        var w = new GgufWriter(path);
        w.Add(Tokenizer.ModelKey, problem == "wrong-model" ? "gpt2" : "llama");
        if (problem != "missing-tokens") w.Add(Tokenizer.TokensKey, GgufValue.Array(problem == "empty-vocab" ? Array.Empty<string>() : tokens));
        if (problem == "scores-wrong-type") w.Add(Tokenizer.ScoresKey, GgufValue.Array(new[] { "x", "y", "z", "u", "v" }));
        else w.Add(Tokenizer.ScoresKey, GgufValue.Array(problem == "short-scores" ? scores[..4] : problem == "empty-vocab" ? [] : scores));
        int[] t = problem switch
        {
            "long-types" => [.. types, 1],
            "type-out-of-range" => [2, 3, 3, 7, 1],
            "negative-type" => [2, 3, 3, 1, -1],
            "bad-byte-token" => [2, 3, 3, 1, 6],
            "empty-vocab" => [],
            _ => types,
        };
        w.Add(Tokenizer.TokenTypeKey, GgufValue.Array(t));
        if (problem == "bos-out-of-range") w.Add(Tokenizer.BosKey, 5u);
        if (problem == "eos-out-of-range") w.Add(Tokenizer.EosKey, 99u);
        if (problem == "unk-out-of-range") w.Add(Tokenizer.UnknownKey, 1000u);
        w.Complete();

        using var f = GgufFile.Open(path);
        var e = Assert.Throws<GgufFormatException>(() => Tokenizer.FromGguf(f));
        Assert.Contains(key, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void CreateValidatesItsArrays()
    {
        string[] tokens = ["<unk>", "<s>", "</s>", "▁a", "b"];
        float[] scores = [0, 0, 0, -1, -2];
        int[] types = [2, 3, 3, 1, 1];
        Assert.Contains(Tokenizer.TokensKey, Assert.Throws<ArgumentException>(() => Tokenizer.Create([], [], [], 1, 2, 0)).Message);
        Assert.Contains(Tokenizer.ScoresKey, Assert.Throws<ArgumentException>(() => Tokenizer.Create(tokens, scores[..3], types, 1, 2, 0)).Message);
        Assert.Contains(Tokenizer.TokenTypeKey, Assert.Throws<ArgumentException>(() => Tokenizer.Create(tokens, scores, [2, 3, 3, 1, 9], 1, 2, 0)).Message);
        Assert.Contains(Tokenizer.BosKey, Assert.Throws<ArgumentException>(() => Tokenizer.Create(tokens, scores, types, -1, 2, 0)).Message);
        Assert.Contains(Tokenizer.EosKey, Assert.Throws<ArgumentException>(() => Tokenizer.Create(tokens, scores, types, 1, 5, 0)).Message);

        // A vocabulary without byte tokens falls back to the unknown token.
        var t = Tokenizer.Create(tokens, scores, types, 1, 2, 0);
        Assert.Equal([1, 3, 4, 0, 0], t.Encode("abé"));
        Assert.Equal([3, 0], t.Encode("a!", addBos: false));
        Assert.Equal(" ab", t.Decode(t.Encode("ab")));
        Assert.Equal([3], Tokenizer.Create(tokens, scores, types, 1, 2, 0, addBos: false).Encode("a"));
        Assert.Equal([4], Tokenizer.Create(tokens, scores, types, 1, 2, 0, addSpacePrefix: false).Encode("b", addBos: false));
        Assert.Equal([1, 3, 2], Tokenizer.Create(tokens, scores, types, 1, 2, 0, addEos: true).Encode("a"));
    }

    [Fact]
    public void BadIdsAreRejected()
    {
        var t = Demo.Value;
        Assert.Throws<ArgumentOutOfRangeException>(() => t.GetPieceBytes(4096).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.GetTokenText(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Decode([5, 99999]));
    }
}
