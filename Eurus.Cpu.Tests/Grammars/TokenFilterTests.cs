using System.Diagnostics;
using Eurus.Cpu.Bench;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tokenization;
using Xunit;

namespace Eurus.Cpu.Tests.Grammars;

/// <summary>
/// The token filter: the trie walk gives exactly the tokens whose bytes keep the text inside the grammar (checked
/// token by token, on the demo vocabulary and a synthetic 32000-token one, along sampled paths); byte tokens that
/// spell a character across tokens are allowed exactly when the character can complete; sampling under a grammar
/// allocates nothing once its states are cached.
/// </summary>
public sealed class TokenFilterTests
{
    private static Tokenizer Demo()
    {
        using var file = GgufFile.Open(TestPaths.Q8);
        return Tokenizer.FromGguf(file);
    }

    private static readonly Lazy<Tokenizer> Big = new(() => SyntheticVocabulary.Grow(Demo()));

    public static TheoryData<bool, string> Cases() => new()
    {
        { false, "json" }, { false, "c-like" }, { false, "schema" }, { true, "json" }, { true, "c-like" }, { true, "schema" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheTrieWalkEqualsCheckingEveryToken(bool big, string grammarName)
    {
        var tok = big ? Big.Value : Demo();
        Assert.Equal(big ? 32000 : 4096, tok.VocabSize);
        var grammar = Grammar.Parse(grammarName switch
        {
            "json" => GrammarCorpus.Json,
            "c-like" => GrammarCorpus.CLike,
            _ => Grammar.JsonSchemaToGbnf(ConstrainedGenerationTests.Schemas[4]),
        });
        var trie = TokenTrie.For(tok);
        var a = grammar.Automaton;
        var sampler = new Sampler(new SamplingSettings { Seed = 5, Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0 }, tok.VocabSize);
        var logits = new float[tok.VocabSize];
        var rng = new Random(3);
        int state = a.Start, checkedStates = 0;
        for (int step = 0; step < (big ? 12 : 40); step++)
        {
            var mask = a.MaskFor(trie, state);
            int count = 0;
            for (int id = 0; id < tok.VocabSize; id++)
            {
                bool expected = id == tok.EosId ? a.IsAccepting(state) : Walks(a, state, tok.GetPieceBytes(id));
                Assert.True(expected == mask.Allows(id), $"step {step}, token {id} '{tok.GetTokenText(id)}': expected {expected}");
                if (expected) count++;
            }
            Assert.Equal(count, mask.Count);
            checkedStates++;
            for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 4);
            int t = sampler.Sample(logits, [], mask);
            Assert.True(mask.Allows(t));
            state = t == tok.EosId ? a.Start : a.AfterToken(trie, state, t);
        }
        Assert.True(checkedStates > 10);
    }

    private static bool Walks(GrammarAutomaton a, int state, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return false;
        foreach (byte b in bytes) { state = a.Step(state, b); if (state < 0) return false; }
        return true;
    }

    [Fact]
    public void ByteTokensSpellACharacterAcrossTokens()
    {
        var tok = Demo();
        int Byte(int b) => Enumerable.Range(0, tok.VocabSize).Single(i => tok.GetTokenText(i) == $"<0x{b:X2}>");
        var grammar = Grammar.Parse("root ::= \"x\" [α-ω] \"!\"");
        var c = new GrammarConstraint(grammar, tok);
        int Piece(string text) => Enumerable.Range(0, tok.VocabSize).First(i => tok.GetPieceBytes(i).SequenceEqual(System.Text.Encoding.UTF8.GetBytes(text)));
        c.Accept(Piece("x"));
        // β is CE B2 in UTF-8: the lead byte CE is allowed (it can complete to a Greek letter), C3 (é's) is not.
        Assert.True(c.Allowed().Allows(Byte(0xCE)));
        Assert.False(c.Allowed().Allows(Byte(0xC3)));
        Assert.False(c.Allowed().Allows(Byte(0xB2)));
        c.Accept(Byte(0xCE));
        Assert.True(c.Allowed().Allows(Byte(0xB2)));
        Assert.False(c.Allowed().Allows(Byte(0x41)));
        Assert.False(c.CanEnd);
        c.Accept(Byte(0xB2));
        Assert.False(c.Allowed().Allows(tok.EosId));
        c.Accept(Piece("!"));
        Assert.True(c.CanEnd);
        Assert.True(c.Allowed().Allows(tok.EosId));
        Assert.Equal(1, c.Allowed().Count); // only the end is left
    }

    [Fact]
    public void SamplingUnderAGrammarAllocatesNothingOnceWarm()
    {
        var tok = Big.Value;
        var grammar = Grammar.Parse(GrammarCorpus.Json);
        var sampler = new Sampler(new SamplingSettings { Seed = 1 }, tok.VocabSize);
        var logits = new float[tok.VocabSize];
        var rng = new Random(9);
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 8);
        // Record a path, then replay it: every state it meets is cached.
        var path = new List<int>();
        var c = new GrammarConstraint(grammar, tok);
        for (int i = 0; i < 200; i++)
        {
            int t = sampler.Sample(logits, [], c.Allowed());
            path.Add(t);
            if (t == tok.EosId) c = new GrammarConstraint(grammar, tok); else c.Accept(t);
        }
        var replay = new GrammarConstraint(grammar, tok);
        var fresh = new GrammarConstraint(grammar, tok);
        void Run()
        {
            var r = replay;
            foreach (int t in path)
            {
                sampler.Sample(logits, [], r.Allowed());
                _ = r.Allows(t);
                if (t == tok.EosId) { fresh.Reset(); (r, fresh) = (fresh, r); } else r.Accept(t);
            }
            replay = r;
        }
        replay.Reset();
        Run();
        replay.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void MaskTimesStayFarBelowADecodeStep()
    {
        // The uncached trie walk over 32000 tokens (the cost of a state met for the first time, transitions known) —
        // a loose bound (20 ms, a tenth of a 7B decode step at 2 threads); the figures are in the README (bench: grammar).
        var tok = Big.Value;
        var grammar = Grammar.Parse(GrammarCorpus.Json);
        var trie = TokenTrie.For(tok);
        var a = grammar.Automaton;
        int state = a.Start;
        foreach (byte b in "{\"text\": \"In the beginning"u8) state = a.Step(state, b);
        a.MaskUncached(trie, state);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 10; i++) a.MaskUncached(trie, state);
        Assert.True(sw.Elapsed.TotalMilliseconds / 10 < 20, $"{sw.Elapsed.TotalMilliseconds / 10:F2} ms per mask");
    }
}
