using System.Text;
using System.Text.Json;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;
using Xunit;

namespace Eurus.Cpu.Tests.Grammars;

/// <summary>
/// Generation under a grammar on the demo model (a KJV model that knows nothing of JSON): every output is a sentence
/// of the grammar; with a JSON Schema, every output parses and validates against the schema, over many seeds and
/// temperatures. Each generation has a timeout, so a hang fails the test instead of stalling it.
/// </summary>
public sealed class ConstrainedGenerationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static EurusModel Load() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 1024 });

    // Bounded schemas (strings, arrays): every sentence is short, so a generation must finish within its budget.
    public static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},"alive":{"type":"boolean"}},"required":["name","age","alive"],"additionalProperties":false}""",
        """{"type":"object","properties":{"book":{"enum":["Genesis","Exodus","Psalms"]},"chapter":{"type":"integer"},"note":{"type":"string","maxLength":8}},"required":["book"]}""",
        """{"type":"array","items":{"type":"number"},"minItems":1,"maxItems":3}""",
        """{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","minLength":1,"maxLength":6},"maxItems":3},"kind":{"const":"verse"}},"required":["kind","tags"]}""",
        """{"$defs":{"point":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},"required":["x","y"]}},"type":"object","properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"},"label":{"type":["string","null"],"maxLength":5}},"required":["from","to","label"]}""",
        """{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"string","maxLength":4}}}""",
        """{"anyOf":[{"type":"integer"},{"type":"string","maxLength":10},{"type":"array","items":{"type":"boolean"},"maxItems":2}]}""",
        """{"type":"object","properties":{"day":{"type":"string","format":"date"},"id":{"type":"string","format":"uuid"}},"required":["day","id"]}""",
        """{"type":"array","prefixItems":[{"type":"string","maxLength":3},{"type":"integer"},{"enum":[true,null,"x"]}],"items":false}""",
    ];

    public static TheoryData<int> SchemaIndexes() => [.. Enumerable.Range(0, Schemas.Length)];

    [Theory]
    [MemberData(nameof(SchemaIndexes))]
    public async Task EveryOutputParsesAndValidatesAgainstItsSchema(int index)
    {
        using var model = Load();
        using var session = model.CreateSession();
        var grammar = Grammar.FromJsonSchema(Schemas[index]);
        using var schemaDoc = JsonDocument.Parse(Schemas[index]);
        string[] prompts = ["And God said", "The LORD is my shepherd", "In the beginning"];
        int n = 0;
        foreach (float temperature in new[] { 0f, 0.8f, 1.0f, 1.2f })
            for (int seed = 0; seed < (temperature == 0 ? 1 : 4); seed++)
            {
                var settings = new SamplingSettings { Grammar = grammar, Temperature = temperature, Seed = (ulong)seed, MaxTokens = 600, TopK = 0, TopP = 1, MinP = 0 };
                session.Reset();
                string text = await Generate(session, prompts[(seed + index) % prompts.Length], settings);
                output.WriteLine($"t={temperature} seed={seed}: {JsonSerializer.Serialize(text)}");
                Assert.Equal(FinishReason.EndOfSequence, session.LastTimings!.FinishReason);
                Assert.True(grammar.Matches(text), $"not a sentence of the grammar: {text}");
                using var doc = JsonDocument.Parse(text);
                Assert.Null(MiniSchemaValidator.Validate(schemaDoc.RootElement, doc.RootElement));
                n++;
            }
        Assert.Equal(13, n);
    }

    [Fact]
    public async Task GbnfGrammarsConstrainGreedyAndSampledText()
    {
        using var model = Load();
        using var session = model.CreateSession();
        foreach (var (name, gbnf) in new[] { ("list", GrammarCorpus.List), ("chess", GrammarCorpus.Chess), ("arithmetic", GrammarCorpus.Arithmetic) })
        {
            var grammar = Grammar.Parse(gbnf);
            foreach (float t in new[] { 0f, 1f })
            {
                session.Reset();
                var settings = new SamplingSettings { Grammar = grammar, Temperature = t, Seed = 7, MaxTokens = 40 };
                string text = await Generate(session, "And God said", settings);
                Assert.False(string.IsNullOrEmpty(text), name);
                // Cut at the token budget, the text is a prefix of a sentence; ended by the model, a whole sentence.
                if (session.LastTimings!.FinishReason == FinishReason.EndOfSequence) Assert.True(grammar.Matches(text), $"{name}: {text}");
                else Assert.True(IsPrefix(grammar, text), $"{name}: {text}");
            }
        }
    }

    [Fact]
    public async Task TheGrammarEndsTheGenerationWhenOnlyTheEndIsLeft()
    {
        using var model = Load();
        using var session = model.CreateSession();
        var grammar = Grammar.Parse("root ::= \"Yea, \" (\"verily\" | \"truly\") \".\"");
        foreach (bool stopAtEos in new[] { true, false })
        {
            session.Reset();
            string text = await Generate(session, "And God said", new SamplingSettings { Grammar = grammar, Temperature = 1, Seed = 3, StopAtEos = stopAtEos, MaxTokens = 50 });
            Assert.True(text is "Yea, verily." or "Yea, truly.", text);
            Assert.Equal(FinishReason.EndOfSequence, session.LastTimings!.FinishReason);
        }
    }

    [Fact]
    public async Task BatchedGenerationHonoursTheGrammar()
    {
        using var model = Load();
        using var generator = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 3 });
        var grammar = Grammar.FromJsonSchema(Schemas[0]);
        var runs = Enumerable.Range(0, 3).Select(i => generator.Submit(model.Tokenizer.Encode("And God said"),
            new SamplingSettings { Grammar = grammar, Temperature = 1, Seed = (ulong)i, MaxTokens = 600, TopK = 0, TopP = 1, MinP = 0 })).ToArray();
        foreach (var run in runs)
        {
            var sb = new StringBuilder();
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await foreach (var t in run.WithCancellation(cts.Token)) sb.Append(t.Text);
            using var doc = JsonDocument.Parse(sb.ToString());
            using var schema = JsonDocument.Parse(Schemas[0]);
            Assert.Null(MiniSchemaValidator.Validate(schema.RootElement, doc.RootElement));
        }
    }

    [Fact]
    public async Task GreedyCheckingTheBestTokenFirstEqualsTheMaskedArgmax()
    {
        // The greedy shortcut (take the best token when the grammar allows it) must pick what the full mask would.
        using var model = Load();
        using var session = model.CreateSession();
        using var replay = model.CreateSession();
        // Bible text inside list items (the model's own choice is usually allowed) between forced "- " and newlines.
        var grammar = Grammar.Parse(GrammarCorpus.List);
        var prompt = model.Tokenizer.Encode("And God said");
        var ids = new List<int>();
        await foreach (var t in session.GenerateTokensAsync(prompt, new SamplingSettings { Grammar = grammar, Temperature = 0, MaxTokens = 60 }))
            if (t.Id >= 0) ids.Add(t.Id);
        if (session.LastTimings!.FinishReason == FinishReason.EndOfSequence) ids.Add(model.Tokenizer.EosId);
        var constraint = new GrammarConstraint(grammar, model.Tokenizer);
        var logits = replay.Evaluate(prompt).ToArray();
        int shortcuts = 0;
        foreach (int id in ids)
        {
            var mask = constraint.Allowed();
            int best = -1;
            for (int i = 0; i < logits.Length; i++)
                if (mask.Allows(i) && (best < 0 || logits[i] > logits[best])) best = i;
            Assert.Equal(best, id);
            int unconstrained = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[unconstrained]) unconstrained = i;
            if (unconstrained == best) shortcuts++;
            if (id == model.Tokenizer.EosId) break;
            constraint.Accept(id);
            logits = replay.Evaluate([id]).ToArray();
        }
        Assert.InRange(shortcuts, 1, ids.Count - 1); // both paths were exercised
    }

    [Fact]
    public void AGrammarTheVocabularyCannotSpellIsATypedError()
    {
        var tok = Eurus.Cpu.Tokenization.Tokenizer.Create(["<unk>", "<s>", "</s>", "a", "b"], [0, 0, 0, -1, -2], [2, 3, 3, 1, 1], 1, 2, 0);
        var c = new GrammarConstraint(Grammar.Parse("root ::= \"a\" \"c\""), tok);
        Assert.True(c.Allowed().Allows(3));
        c.Accept(3);
        var e = Assert.Throws<GrammarException>(() => c.Allowed());
        Assert.Contains("no token of the vocabulary can continue the grammar", e.Message);
    }

    private static bool IsPrefix(Grammar g, string text)
    {
        var a = g.Automaton;
        int s = a.Start;
        foreach (byte b in Encoding.UTF8.GetBytes(text)) { s = a.Step(s, b); if (s < 0) return false; }
        return true;
    }

    internal static async Task<string> Generate(InferenceSession session, string prompt, SamplingSettings settings)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // a hang fails instead of stalling
        var sb = new StringBuilder();
        await foreach (var piece in session.GenerateAsync(prompt, settings, cts.Token)) sb.Append(piece);
        return sb.ToString();
    }
}
