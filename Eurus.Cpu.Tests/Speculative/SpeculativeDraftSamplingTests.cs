using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tests.Forward;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>
/// Sampled draft-model drafts (a temperature and a draft model): the draft model samples each draft token from its own
/// filtered distribution q, and speculative sampling (keep with probability min(1, p/q), else draw from max(0, p − q))
/// leaves the output distributed as plain sampling's. Checked exactly on small hand-made distributions, and over many
/// seeds on the demo model with itself, a Q4_0 copy and a synthetic model of the same vocabulary as drafts.
/// </summary>
public class SpeculativeDraftSamplingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly SamplingSettings Hot = new() { Temperature = 1f, StopAtEos = false }; // top-k 40, top-p 0.95, min-p 0.05

    /// <summary>Critical chi-square value for p = 0.0005 (z = 3.29), Wilson–Hilferty.</summary>
    private static double Critical(int df) => df * Math.Pow(1 - 2.0 / (9 * df) + 3.29 * Math.Sqrt(2.0 / (9 * df)), 3);

    [Theory]
    [InlineData(0)] // q overlaps p, with different weights
    [InlineData(1)] // q's support misses p's best tokens and has tokens p gives nothing (top-k 3)
    [InlineData(2)] // q = p
    public void VerificationOfSampledDraftsGivesTheTargetDistribution(int kind)
    {
        float[] target = [2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3f];
        float[] draft = kind switch
        {
            0 => [0.5f, 2.0f, 1.0f, 1.5f, -1.0f, 0.0f, -0.5f, -3f],
            1 => [-5f, 1.0f, 3.0f, 0.5f, 2.5f, -1f, -2f, 4f], // top-3: tokens 7, 2, 4
            _ => target,
        };
        var settings = new SamplingSettings { Temperature = 0.9f, TopK = kind == 1 ? 3 : 0, TopP = 1f, MinP = 0f, Seed = 42 };
        var sampler = new Sampler(settings, target.Length);
        var p = new float[target.Length];
        var q = new float[target.Length];
        sampler.SampleDraft(target, [], p); // p over the vocabulary (the draw itself is not used)
        const int trials = 200_000;
        var counts = new int[target.Length];
        int accepted = 0;
        for (int t = 0; t < trials; t++)
        {
            int d = sampler.SampleDraft(draft, [], q);
            Assert.True(q[d] > 0);
            int x = sampler.SampleVerified(target, [], d, q);
            counts[x]++;
            if (x == d) accepted++;
        }
        double chi2 = 0;
        int cells = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == 0) { Assert.Equal(0, counts[i]); continue; }
            double e = p[i] * (double)trials;
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
            cells++;
        }
        Assert.True(chi2 < Critical(cells - 1), $"chi-square {chi2:F1} with {cells - 1} degrees of freedom (critical {Critical(cells - 1):F1})");
        // The acceptance rate is Σ min(p, q) (the residual never returns the draft token).
        double overlap = p.Zip(q, Math.Min).Sum(); // q is the same in every trial
        Assert.InRange(accepted / (double)trials, overlap - 0.01, overlap + 0.01);
        if (kind == 2) Assert.Equal(trials, accepted);
    }

    /// <summary>
    /// Three drafts — the model itself (p = q), its Q4_0 copy (q close to p), a synthetic model sharing the vocabulary (q
    /// far from p) — against one plain sample (made once: the same model, prompt, settings and seeds for all three).
    /// </summary>
    [Fact]
    public async Task SampledDraftsGiveThePlainDistribution()
    {
        // Different seeds on the two sides (a statistical comparison). The first token is sampled plainly; the next two
        // are the first pass's two sampled draft tokens (kept or replaced), the fourth its extra token or a plain one.
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        var prompt = model.Tokenizer.Encode(Texts[4]);
        const int runs = 1200, length = 4;
        using var session = model.CreateSession();
        int drafted = 0, accepted = 0;
        async Task<List<int>[]> Sample(SpeculativeDecoding? spec, int seed0)
        {
            // The prompt is evaluated once: each run rewinds to before its last token and evaluates that one again (the
            // same logits, bit for bit, as a whole prompt pass gives; the draft model's session keeps the prompt too).
            session.Reset();
            session.Evaluate(prompt);
            int[] last = [prompt[^1]];
            var ids = new List<int>[runs];
            for (int r = 0; r < runs; r++)
            {
                session.Rewind(prompt.Length - 1);
                var settings = Hot with { Seed = (ulong)(seed0 + r), MaxTokens = length, Speculation = spec };
                ids[r] = await Collect(session.GenerateTokensAsync(last, settings));
                Assert.Equal(length, ids[r].Count);
                if (spec is not null)
                {
                    drafted += session.LastTimings!.DraftTokens;
                    accepted += session.LastTimings.AcceptedDraftTokens;
                }
            }
            return ids;
        }
        var plain = await Sample(null, 1_000_000);
        foreach (var drafter in new[] { "self", "q4", "synthetic" })
        {
            string draftPath = drafter switch { "self" => TestPaths.Q8, "q4" => TestPaths.Model("kjv-tiny-Q4_0.gguf"), _ => TestModels.SyntheticLongContext };
            using var draft = EurusModel.Load(draftPath, new ModelOptions { Threads = 1, ContextLength = 128, BatchSize = 16 });
            drafted = accepted = 0;
            var sampled = await Sample(new SpeculativeDecoding { DraftModel = draft, MaxDraftTokens = 4 }, 0);
            Assert.True(drafted >= 2 * runs, $"{drafter}: {drafted} draft tokens in {runs} runs");
            // Each position's marginal, and the joint of the two drafted positions (pairs hashed into cells).
            for (int j = 0; j < length; j++)
                AssertSameDistribution(plain.Select(t => t[j]), sampled.Select(t => t[j]), $"{drafter}: position {j}");
            AssertSameDistribution(plain.Select(t => t[1] * 40_009 + t[2]), sampled.Select(t => t[1] * 40_009 + t[2]), $"{drafter}: positions 1 and 2");
            output.WriteLine($"{drafter}: {accepted} of {drafted} draft tokens accepted ({100.0 * accepted / drafted:F1}%)");
            if (drafter == "self") Assert.Equal(drafted, accepted); // p = q: every draft token is kept
            else Assert.True(drafted > accepted, $"{drafter}: {accepted} of {drafted} draft tokens accepted");
        }
    }

    [Fact]
    public async Task SeededSampledDraftsAreReproducible()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        using var draft = EurusModel.Load(TestPaths.Model("kjv-tiny-Q4_0.gguf"), new ModelOptions { Threads = 1, ContextLength = 256, BatchSize = 16 });
        var prompts = Ids(model, randomCount: 2);
        using var a = model.CreateSession();
        using var b = model.CreateSession();
        int drafted = 0, accepted = 0;
        for (int seed = 0; seed < 10; seed++)
        {
            var prompt = prompts[seed % prompts.Count];
            var settings = Hot with
            {
                Seed = (ulong)seed, MaxTokens = 40, Temperature = seed % 2 == 0 ? 1f : 0.5f, TopK = seed % 3 == 0 ? 0 : 40,
                RepeatPenalty = seed % 4 == 1 ? 1.1f : 1f, Speculation = new SpeculativeDecoding { DraftModel = draft, MaxDraftTokens = 4 },
            };
            a.Reset();
            b.Reset();
            var first = await Collect(a.GenerateTokensAsync(prompt, settings));
            var second = await Collect(b.GenerateTokensAsync(prompt, settings));
            Assert.Equal(first, second);
            Assert.Equal(a.LastTimings!.AcceptedDraftTokens, b.LastTimings!.AcceptedDraftTokens);
            drafted += b.LastTimings.DraftTokens;
            accepted += b.LastTimings.AcceptedDraftTokens;
        }
        // The same session again (its drafter's cache rewinds): the same tokens.
        var again = Hot with { Seed = 3, MaxTokens = 40, Speculation = new SpeculativeDecoding { DraftModel = draft } };
        a.Reset();
        var once = await Collect(a.GenerateTokensAsync(prompts[0], again));
        a.Reset();
        Assert.Equal(once, await Collect(a.GenerateTokensAsync(prompts[0], again)));
        Assert.True(accepted > 0 && drafted > accepted, $"{accepted} of {drafted} draft tokens accepted");
    }

    [Fact]
    public async Task SampledDraftsOfTheModelItselfAreAllKept()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        using var draft = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 256, BatchSize = 16 });
        using var session = model.CreateSession();
        int drafted = 0, accepted = 0;
        foreach (var (prompt, i) in Ids(model, randomCount: 4).Select((p, i) => (p, i)))
        {
            session.Reset();
            var settings = Hot with
            {
                Seed = (ulong)i, MaxTokens = 48, TopK = i % 2 == 0 ? 0 : 40, RepeatPenalty = i % 3 == 0 ? 1.1f : 1f,
                Speculation = new SpeculativeDecoding { DraftModel = draft },
            };
            await Collect(session.GenerateTokensAsync(prompt, settings));
            drafted += session.LastTimings!.DraftTokens;
            accepted += session.LastTimings.AcceptedDraftTokens;
        }
        output.WriteLine($"self-draft: {accepted} of {drafted} draft tokens accepted ({100.0 * accepted / drafted:F1}%)");
        Assert.True(drafted > 100, $"{drafted} draft tokens");
        Assert.Equal(drafted, accepted); // p = q exactly (the same logits and filters): min(1, p/q) = 1
    }

    [Fact]
    public void SampledDraftsAllocateNothingPerToken()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        using var draft = EurusModel.Load(TestPaths.Model("kjv-tiny-Q4_0.gguf"), new ModelOptions { Threads = 1, ContextLength = 256, BatchSize = 16 });
        using var session = model.CreateSession();
        var prompt = model.Tokenizer.Encode(Texts[6]);
        // The prompt is evaluated once; each run rewinds to before its last token (the same generation as from scratch).
        session.Evaluate(prompt);
        int[] last = [prompt[^1]];
        // On a pool thread without a synchronization context the generation runs synchronously on this thread.
        long Allocated(SamplingSettings settings) => Task.Run(() =>
        {
            session.Rewind(prompt.Length - 1);
            long before = GC.GetAllocatedBytesForCurrentThread();
            foreach (var _ in session.GenerateTokensAsync(last, settings).ToBlockingEnumerable()) { }
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }).Result;
        // What 80 more tokens allocate: the least of three 100-token runs less the least of three 20-token runs (a
        // tier-up of the JIT now and then allocates once, on whichever run it falls; the least of each drops it).
        long Growth(SamplingSettings settings)
        {
            long small = Math.Min(Allocated(settings with { MaxTokens = 20 }), Math.Min(Allocated(settings with { MaxTokens = 20 }), Allocated(settings with { MaxTokens = 20 })));
            return Math.Min(Allocated(settings with { MaxTokens = 100 }), Math.Min(Allocated(settings with { MaxTokens = 100 }), Allocated(settings with { MaxTokens = 100 }))) - small;
        }
        var plain = Hot with { Seed = 5, TopK = 0, RepeatPenalty = 1.1f }; // the whole vocabulary, and the penalties' history
        var spec = plain with { Speculation = new SpeculativeDecoding { DraftModel = draft } };
        // Under a grammar (KJV prose, ended only by a character the model never writes, so every run is 100 tokens):
        // each draft token is drawn within the mask of a scratch walk of the grammar state, whose masks are cached.
        var grammar = spec with { Grammar = Eurus.Cpu.Grammars.Grammar.Parse("root ::= [a-zA-Z ,.;:'?!]+ \"@\"") };
        for (int i = 0; i < 8; i++) { Allocated(plain with { MaxTokens = 100 }); Allocated(spec with { MaxTokens = 100 }); Allocated(grammar with { MaxTokens = 100 }); } // JIT tiers settle
        long plainGrowth = Growth(plain);
        long grammarGrowth = Growth(grammar);
        var g = session.LastTimings!;
        Assert.Equal(100, g.GeneratedTokens);
        Assert.True(g.AcceptedDraftTokens > 10 && g.DraftTokens > g.AcceptedDraftTokens, $"grammar: {g.AcceptedDraftTokens} of {g.DraftTokens} draft tokens accepted");
        long specGrowth = Growth(spec);
        var t = session.LastTimings!;
        Assert.True(t.AcceptedDraftTokens > 10 && t.DraftTokens > t.AcceptedDraftTokens, $"{t.AcceptedDraftTokens} of {t.DraftTokens} draft tokens accepted");
        // The draws differ with sampled drafts, so the tokens and their text strings (the plain loop's own cost, some
        // 60 bytes a token) differ a little; a vocabulary-sized buffer per pass would be 128 KB.
        output.WriteLine($"80 more tokens allocate {specGrowth} bytes with sampled drafts ({grammarGrowth} under a grammar), {plainGrowth} without");
        Assert.True(specGrowth <= plainGrowth + 1024, $"80 more tokens allocate {specGrowth} bytes with sampled drafts, {plainGrowth} without");
        Assert.True(grammarGrowth <= plainGrowth + 1024, $"80 more tokens allocate {grammarGrowth} bytes with sampled drafts under a grammar, {plainGrowth} without");
    }

    /// <summary>Chi-square test of homogeneity of two samples; values seen fewer than 10 times in all are pooled.</summary>
    private static void AssertSameDistribution(IEnumerable<int> a, IEnumerable<int> b, string what)
    {
        var ca = a.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        var cb = b.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        var cells = new List<(int A, int B)>();
        int restA = 0, restB = 0;
        foreach (int key in ca.Keys.Union(cb.Keys))
        {
            int x = ca.GetValueOrDefault(key), y = cb.GetValueOrDefault(key);
            if (x + y >= 10) cells.Add((x, y));
            else { restA += x; restB += y; }
        }
        if (restA + restB > 0) cells.Add((restA, restB));
        double na = ca.Values.Sum(), nb = cb.Values.Sum(), n = na + nb, chi2 = 0;
        foreach (var (x, y) in cells)
        {
            double total = x + y, ea = total * na / n, eb = total * nb / n;
            chi2 += (x - ea) * (x - ea) / ea + (y - eb) * (y - eb) / eb;
        }
        int df = Math.Max(1, cells.Count - 1);
        Assert.True(chi2 < Critical(df), $"{what}: chi-square {chi2:F1} with {df} degrees of freedom (critical {Critical(df):F1})");
    }
}
