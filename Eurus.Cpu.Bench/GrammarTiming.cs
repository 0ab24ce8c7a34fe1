using System.Diagnostics;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Bench;

/// <summary>
/// <c>grammar [MODEL.gguf]</c>: the cost per token of grammar-constrained sampling, on the demo model's vocabulary
/// and on a synthetic 32000-token one. A decode is simulated with random logits: at each step the allowed tokens are
/// found, a token is sampled among them (default sampling settings) and the grammar advances; a finished sentence
/// starts again. Three passes over the same token path: cold (a fresh grammar: its automaton and masks are built as
/// they are met), warm (every state's mask cached) and uncached (the trie walk every token, transitions known).
/// Compared with the same sampler without a grammar.
/// </summary>
internal static class GrammarTiming
{
    private const string PersonSchema = """{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"email":{"type":"string","format":"uuid"},"tags":{"type":"array","items":{"type":"string"}},"address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}},"required":["city"]}},"required":["name","age"]}""";

    public static void Run(string[] args)
    {
        string path = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "models", "kjv-tiny-Q8_0.gguf");
        using var file = Gguf.GgufFile.Open(path);
        var demo = Tokenizer.FromGguf(file);
        var sw = Stopwatch.StartNew();
        var big = SyntheticVocabulary.Grow(demo);
        Console.WriteLine($"synthetic vocabulary: {big.VocabSize} tokens ({sw.Elapsed.TotalMilliseconds:F0} ms to build)");
        foreach (var (vocabName, tok) in new[] { ("demo 4096", demo), ("synthetic 32000", big) })
        {
            sw.Restart();
            var trie = TokenTrie.For(tok);
            Console.WriteLine($"{vocabName}: trie of {trie.NodeCount} nodes, built in {sw.Elapsed.TotalMilliseconds:F1} ms");
            foreach (var (grammarName, text) in new[] { ("json object", Grammar.JsonSchemaToGbnf("""{"type":"object"}""")), ("person schema", Grammar.JsonSchemaToGbnf(PersonSchema)), ("c-like gbnf", CLike), ("tools, auto", Tools(required: false)), ("tools, required", Tools(required: true)) })
                Measure(vocabName, tok, grammarName, text);
        }
        EndToEnd(path);
    }

    /// <summary>Whole decode steps on the demo model (2 threads), with and without a grammar: ms per generated token.</summary>
    private static void EndToEnd(string path)
    {
        using var model = Generation.EurusModel.Load(path, new Generation.ModelOptions { Threads = 2, ContextLength = 1024 });
        using var session = model.CreateSession();
        var grammar = Grammar.Parse(Grammar.JsonSchemaToGbnf("""{"type":"object"}"""));
        double Run(Grammar? g, int seed)
        {
            session.Reset();
            var settings = new SamplingSettings { Grammar = g, Seed = (ulong)seed, MaxTokens = 300, StopAtEos = false };
            foreach (var _ in session.GenerateAsync("And God said", settings).ToBlockingEnumerable()) { }
            var t = session.LastTimings!;
            return t.DecodeSeconds * 1000 / Math.Max(1, t.GeneratedTokens);
        }
        Run(null, 0); Run(grammar, 0); // warm-up
        double plain = Enumerable.Range(1, 3).Select(i => Run(null, i)).Min();
        double constrained = Enumerable.Range(1, 3).Select(i => Run(grammar, i)).Min();
        Console.WriteLine($"demo model decode (2 threads, json object grammar, 300 tokens, best of 3): plain {plain:F3} ms/token, constrained {constrained:F3} ms/token (+{constrained - plain:F3} ms)");
    }

    private static void Measure(string vocabName, Tokenizer tok, string grammarName, string gbnf)
    {
        const int steps = 400;
        var logits = new float[tok.VocabSize];
        var rng = new Random(1);
        var grammar = Grammar.Parse(gbnf);
        var path = new int[steps];
        double cold = Pass(grammar, tok, logits, rng, path, record: true, uncached: false, out double coldSample, out double coldMax);
        double warm = Pass(grammar, tok, logits, rng, path, record: false, uncached: false, out double warmSample, out _);
        double walk = Pass(grammar, tok, logits, rng, path, record: false, uncached: true, out _, out double walkMax);
        // The same sampler without a grammar, on the same logits.
        var plain = new Sampler(new SamplingSettings { Seed = 1 }, tok.VocabSize);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) { Fill(logits, rng); sw.Start(); plain.Sample(logits, []); sw.Stop(); }
        double plainMs = sw.Elapsed.TotalMilliseconds / steps;
        Console.WriteLine($"  {grammarName,-14} mask ms/token: cold {cold:F3} (worst {coldMax:F2}), warm {warm:F4}, uncached walk {walk:F3} (worst {walkMax:F2}); " +
                          $"sampling ms/token: plain {plainMs:F3}, with mask {warmSample:F3} (cold {coldSample:F3}); states {grammar.Automaton.StateCount}");
    }

    /// <summary>Mean ms per token spent finding the allowed tokens (and, out, sampling among them).</summary>
    private static double Pass(Grammar grammar, Tokenizer tok, float[] logits, Random rng, int[] path, bool record, bool uncached, out double sampleMs, out double worstMs)
    {
        var sampler = new Sampler(new SamplingSettings { Seed = 1 }, tok.VocabSize);
        var trie = TokenTrie.For(tok);
        var a = grammar.Automaton;
        int state = a.Start;
        var maskTime = new Stopwatch();
        var sampleTime = new Stopwatch();
        worstMs = 0;
        for (int i = 0; i < path.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            maskTime.Start();
            var mask = uncached ? a.MaskUncached(trie, state) : a.MaskFor(trie, state);
            maskTime.Stop();
            worstMs = Math.Max(worstMs, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            int t;
            if (record)
            {
                Fill(logits, rng);
                sampleTime.Start();
                t = sampler.Sample(logits, [], mask);
                sampleTime.Stop();
                path[i] = t;
            }
            else
            {
                t = path[i];
                Fill(logits, rng);
                sampleTime.Start();
                sampler.Sample(logits, [], mask);
                sampleTime.Stop();
            }
            state = t == tok.EosId ? a.Start : a.AfterToken(trie, state, t);
            if (state < 0) throw new InvalidOperationException("the path left the grammar");
        }
        sampleMs = (sampleTime.Elapsed.TotalMilliseconds + maskTime.Elapsed.TotalMilliseconds) / path.Length;
        return maskTime.Elapsed.TotalMilliseconds / path.Length;
    }

    private static void Fill(float[] logits, Random rng)
    {
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 8);
    }

    /// <summary>
    /// The reply grammar of a chat request with two tools (EurusChatClient's): a call of either tool, arguments valid
    /// against its schema, or (<c>ToolMode.Auto</c>; random logits mostly take this branch) text not starting with '{'.
    /// </summary>
    private static string Tools(bool required)
    {
        var weather = Microsoft.Extensions.AI.AIFunctionFactory.CreateDeclaration("get_weather", "Gets the weather.",
            System.Text.Json.JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"unit":{"enum":["C","F"]}},"required":["city"]}""").RootElement);
        var person = Microsoft.Extensions.AI.AIFunctionFactory.CreateDeclaration("add_person", null, System.Text.Json.JsonDocument.Parse(PersonSchema).RootElement);
        Microsoft.Extensions.AI.ChatToolMode mode = required ? Microsoft.Extensions.AI.ChatToolMode.RequireAny : Microsoft.Extensions.AI.ChatToolMode.Auto;
        return Chat.ToolPlan.For(new Microsoft.Extensions.AI.ChatOptions { Tools = [weather, person], ToolMode = mode })!.Gbnf(null);
    }

    private const string CLike = """
        root ::= (declaration)*
        declaration ::= dataType identifier "(" parameter? ")" "{" statement* "}"
        dataType  ::= "int" ws | "float" ws | "char" ws
        identifier ::= [a-zA-Z_] [a-zA-Z_0-9]*
        parameter ::= dataType identifier
        statement ::= ( dataType identifier ws "=" ws expression ";" ) | ( identifier ws "=" ws expression ";" ) | ( "return" ws expression ";" )
        expression ::= term (("+" | "-") term)*
        term ::= factor(("*" | "/") factor)*
        factor ::= identifier | number | "(" ws expression ws ")"
        number ::= [0-9]+
        ws ::= ([ \t\n]+)
        """;
}
