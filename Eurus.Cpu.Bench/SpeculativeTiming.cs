using System.Diagnostics;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Bench;

/// <summary>
/// <c>speculative -m MODEL.gguf [-t threads] [-n tokens] [-r repeats] [--draft N] [--ngram N] [--min-ngram N] [--draft-model PATH]
/// [--kinds a,b]</c>: speculative decoding against plain decoding, greedy, on prompts of several kinds — code editing and
/// math rewriting (answers that repeat their input, in Mistral-Instruct form), scripture (quoted verses the demo model
/// repeats) and ordinary prompts. Per prompt and per kind: draft tokens, acceptance, tokens per pass, decode t/s plain and
/// speculative, speed-up, and whether the tokens were identical (they must be). First, the cost of one pass over 1 + k
/// tokens against one token: the price of checking a draft.
/// </summary>
internal static class SpeculativeTiming
{
    private static readonly (string Kind, string Prompt)[] Prompts =
    [
        ("code-editing", "[INST] Rename the variable `total` to `sum` in this function and return the whole function:\n```python\ndef average(values):\n    total = 0\n    for value in values:\n        total = total + value\n    if len(values) == 0:\n        return 0\n    return total / len(values)\n``` [/INST] ```python\ndef average(values):\n    sum = 0\n"),
        ("code-editing", "[INST] Add type hints to this function, changing nothing else:\n```python\ndef find_index(items, target):\n    for index, item in enumerate(items):\n        if item == target:\n            return index\n    return -1\n``` [/INST] ```python\ndef find_index(items: list, target) -> int:\n"),
        ("math-rewriting", "[INST] Simplify step by step: 3(x + 2) - 2(x - 4) + 5(2x + 1) = 0 [/INST] We expand each product in 3(x + 2) - 2(x - 4) + 5(2x + 1) = 0:\n3(x + 2) = 3x + 6\n-2(x - 4) = -2x + 8\n5(2x + 1) = "),
        ("math-rewriting", "[INST] Rewrite the equation 4a + 7b - 2a + 3b = 24 with like terms collected, showing each step. [/INST] Start from 4a + 7b - 2a + 3b = 24.\nGroup the a terms: (4a - 2a) + 7b + 3b = 24\nGroup the b terms: (4a - 2a) + (7b + 3b) = 24\n"),
        ("scripture", "In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. In the beginning God"),
        ("scripture", "The LORD is my shepherd; I shall not want. He maketh me to lie down in green pastures: he leadeth me beside the still waters. The LORD is my shepherd;"),
        ("ordinary", "[INST] Write a short story about a lighthouse keeper who finds a message in a bottle. [/INST]"),
        ("ordinary", "And it came to pass"),
    ];

    public static void Run(string[] args)
    {
        string? path = null, draftPath = null, kinds = null;
        int threads = 2, tokens = 64, draft = 8, ngram = 3, minNgram = 2, repeats = 2;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "-m": path = Value(); break;
                case "-t": threads = int.Parse(Value()); break;
                case "-n": tokens = int.Parse(Value()); break;
                case "-r": repeats = Math.Max(1, int.Parse(Value())); break;
                case "--draft": draft = int.Parse(Value()); break;
                case "--ngram": ngram = int.Parse(Value()); break;
                case "--min-ngram": minNgram = int.Parse(Value()); break;
                case "--draft-model": draftPath = Value(); break;
                case "--kinds": kinds = Value(); break;
                default: throw new ArgumentException($"Unknown argument {args[i]}; usage: speculative -m MODEL.gguf [-t threads] [-n tokens] [-r repeats] [--draft N] [--ngram N] [--min-ngram N] [--draft-model PATH] [--kinds code-editing,math-rewriting,scripture,ordinary]");
            }
        }
        if (path is null) throw new ArgumentException("speculative needs -m MODEL.gguf");
        using var model = EurusModel.Load(path, new ModelOptions { Threads = threads, ContextLength = 1024 });
        using var draftModel = draftPath is null ? null : EurusModel.Load(draftPath, new ModelOptions { Threads = threads, ContextLength = 1024 });
        using var session = model.CreateSession();
        Console.WriteLine($"{Path.GetFileName(path)}, {threads} threads, {tokens} tokens per prompt, greedy; drafts: " +
            (draftModel is null ? $"prompt lookup (n-gram {minNgram}..{ngram})" : $"draft model {Path.GetFileName(draftPath)}") + $", at most {draft} per pass");

        PassCost(model, session, draft);

        var plain = SamplingSettings.Greedy with { MaxTokens = tokens, StopAtEos = false };
        var spec = plain with { Speculation = new SpeculativeDecoding { MaxDraftTokens = draft, NgramSize = ngram, MinNgramSize = minNgram, DraftModel = draftModel } };
        Generate(model, session, Prompts[0].Prompt, plain with { MaxTokens = 4 }); // warm-up
        Generate(model, session, Prompts[0].Prompt, spec with { MaxTokens = 4 });
        Console.WriteLine();
        Console.WriteLine("| kind | prompt | drafted | accepted | acceptance | tokens/pass | plain t/s | speculative t/s | speed-up | identical |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var byKind = new Dictionary<string, (int Drafted, int Accepted, int Tokens, int Passes, double Plain, double Spec)>();
        int number = 0;
        foreach (var (kind, prompt) in Prompts)
        {
            number++;
            if (kinds is not null && !kinds.Split(',').Contains(kind)) continue;
            // Alternated, best decode time of each: a drift of the machine's speed biases neither side.
            var (a, ta) = Generate(model, session, prompt, plain);
            var (b, tb) = Generate(model, session, prompt, spec);
            for (int r = 1; r < repeats; r++)
            {
                var pa = Generate(model, session, prompt, plain).Timings;
                if (pa.DecodeSeconds < ta.DecodeSeconds) ta = pa;
                var pb = Generate(model, session, prompt, spec).Timings;
                if (pb.DecodeSeconds < tb.DecodeSeconds) tb = pb;
            }
            int passes = tb.GeneratedTokens - tb.AcceptedDraftTokens;
            Console.WriteLine($"| {kind} | {number} | {tb.DraftTokens} | {tb.AcceptedDraftTokens} | {Ratio(tb.AcceptedDraftTokens, tb.DraftTokens)} | {(double)tb.GeneratedTokens / Math.Max(1, passes):F2} | " +
                $"{ta.DecodeTokensPerSecond:F2} | {tb.DecodeTokensPerSecond:F2} | {ta.DecodeSeconds / tb.DecodeSeconds:F2}x | {(a.SequenceEqual(b) ? "yes" : "NO")} |");
            var k = byKind.GetValueOrDefault(kind);
            byKind[kind] = (k.Drafted + tb.DraftTokens, k.Accepted + tb.AcceptedDraftTokens, k.Tokens + tb.GeneratedTokens, k.Passes + passes, k.Plain + ta.DecodeSeconds, k.Spec + tb.DecodeSeconds);
        }
        Console.WriteLine();
        Console.WriteLine("| kind | acceptance | tokens/pass | speed-up (decode time plain / speculative) |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (kind, k) in byKind)
            Console.WriteLine($"| {kind} | {Ratio(k.Accepted, k.Drafted)} | {(double)k.Tokens / Math.Max(1, k.Passes):F2} | {k.Plain / k.Spec:F2}x |");
    }

    private static string Ratio(int a, int b) => b == 0 ? "-" : $"{100.0 * a / b:F0}%";

    private static (List<int> Ids, GenerationTimings Timings) Generate(EurusModel model, InferenceSession session, string prompt, SamplingSettings settings)
    {
        session.Reset();
        var ids = new List<int>();
        foreach (var t in session.GenerateTokensAsync(model.Tokenizer.Encode(prompt, addBos: model.Tokenizer.AddBos), settings).ToBlockingEnumerable())
            if (t.Id >= 0) ids.Add(t.Id);
        return (ids, session.LastTimings!);
    }

    /// <summary>The time of one pass over 1 + k tokens (after a 100-token prompt), relative to one token: best of 3.</summary>
    private static void PassCost(EurusModel model, InferenceSession session, int maxDraft)
    {
        var prompt = Enumerable.Range(0, 100).Select(i => 3 + i * 7 % (model.Config.Vocab - 3)).ToArray();
        session.Reset();
        session.Evaluate(prompt);
        var sizes = new[] { 1, 2, 3, 4, 5, 7, 9, 13, 17 }.Where(n => n <= maxDraft + 1).ToArray();
        var best = new double[sizes.Length];
        Array.Fill(best, double.MaxValue);
        var sw = new Stopwatch();
        for (int round = 0; round < 4; round++)
            for (int i = 0; i < sizes.Length; i++)
            {
                var tokens = prompt.AsSpan(0, sizes[i]);
                sw.Restart();
                session.Evaluate(tokens);
                double ms = sw.Elapsed.TotalMilliseconds;
                if (round > 0) best[i] = Math.Min(best[i], ms);
                session.Rewind(prompt.Length);
            }
        Console.WriteLine("pass cost, 1 + k tokens after 100 (best of 3): " + string.Join(", ", sizes.Select((n, i) => $"{n}: {best[i]:F1} ms ({best[i] / best[0]:F2}x)")));
    }
}
