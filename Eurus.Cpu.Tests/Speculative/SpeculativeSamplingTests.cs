using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>
/// With a temperature, speculation leaves the output distribution unchanged: a seeded generation gives the same tokens
/// with or without it, and over many seeds the tokens at the speculated positions are distributed alike (chi-square).
/// The speculative decode loop allocates nothing per token beyond what plain decoding does.
/// </summary>
public class SpeculativeSamplingTests
{
    private static readonly SamplingSettings Hot = new() { Temperature = 0.5f, TopK = 0, TopP = 1f, MinP = 0f, StopAtEos = false };
    private static readonly SpeculativeDecoding Lookup = new() { MinNgramSize = 1, MaxDraftTokens = 6 };

    [Fact]
    public async Task SeededGenerationsAreIdenticalWithAndWithoutSpeculation()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        var prompts = Ids(model, randomCount: 4);
        int drafted = 0, accepted = 0;
        using var a = model.CreateSession();
        using var b = model.CreateSession();
        for (int seed = 0; seed < 24; seed++)
        {
            var prompt = prompts[seed % prompts.Count];
            var settings = Hot with { Seed = (ulong)seed, MaxTokens = 40, Temperature = seed % 2 == 0 ? 1f : 0.5f, TopK = seed % 3 == 0 ? 40 : 0, RepeatPenalty = seed % 4 == 1 ? 1.1f : 1f };
            a.Reset();
            b.Reset();
            Assert.Equal(await Collect(a.GenerateTokensAsync(prompt, settings)), await Collect(b.GenerateTokensAsync(prompt, settings with { Speculation = Lookup })));
            drafted += b.LastTimings!.DraftTokens;
            accepted += b.LastTimings.AcceptedDraftTokens;
        }
        Assert.True(accepted > 20 && drafted - accepted > 20, $"{accepted} of {drafted} draft tokens accepted");
    }

    [Fact]
    public async Task SpeculatedPositionsHaveThePlainDistribution()
    {
        // Different seeds on the two sides: a statistical comparison, not the same draws. The prompt quotes a verse, so
        // the lookup drafts from the second token on; at temperature 0.5 over the whole vocabulary most drafts are rejected.
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        var prompt = model.Tokenizer.Encode(Texts[0]);
        const int runs = 400, length = 8;
        using var session = model.CreateSession();
        int drafted = 0, accepted = 0;
        // The prompt is evaluated once: each run rewinds to before its last token and evaluates that one again (the
        // same logits, bit for bit, as a whole prompt pass gives), so a run costs its own tokens only.
        session.Evaluate(prompt);
        int[] last = [prompt[^1]];
        async Task<int[][]> Sample(bool speculate, int seed0)
        {
            var counts = new int[length][];
            for (int j = 0; j < length; j++) counts[j] = new int[model.Config.Vocab];
            for (int r = 0; r < runs; r++)
            {
                session.Rewind(prompt.Length - 1);
                var settings = Hot with { Seed = (ulong)(seed0 + r), MaxTokens = length, Speculation = speculate ? Lookup : null };
                var ids = await Collect(session.GenerateTokensAsync(last, settings));
                for (int j = 0; j < length; j++) counts[j][ids[j]]++;
                if (speculate)
                {
                    drafted += session.LastTimings!.DraftTokens;
                    accepted += session.LastTimings.AcceptedDraftTokens;
                }
            }
            return counts;
        }
        var plain = await Sample(false, 1_000_000);
        var spec = await Sample(true, 0);
        Assert.True(accepted >= 50 && drafted - accepted >= 50, $"{accepted} of {drafted} draft tokens accepted");
        for (int j = 1; j < length; j++)
        {
            var (chi2, df) = ChiSquare(plain[j], spec[j]);
            // Wilson–Hilferty: the chi-square quantile for p = 0.0005 (z = 3.29), per position.
            double crit = df * Math.Pow(1 - 2.0 / (9 * df) + 3.29 * Math.Sqrt(2.0 / (9 * df)), 3);
            Assert.True(chi2 < crit, $"position {j}: chi-square {chi2:F1} with {df} degrees of freedom (critical {crit:F1})");
        }
    }

    /// <summary>Chi-square test of homogeneity of two count vectors; tokens seen fewer than 10 times in all are pooled.</summary>
    private static (double Chi2, int Df) ChiSquare(int[] a, int[] b)
    {
        var cells = new List<(int A, int B)>();
        int restA = 0, restB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] + b[i] >= 10) cells.Add((a[i], b[i]));
            else { restA += a[i]; restB += b[i]; }
        }
        if (restA + restB > 0) cells.Add((restA, restB));
        double na = a.Sum(), nb = b.Sum(), n = na + nb, chi2 = 0;
        foreach (var (ca, cb) in cells)
        {
            double total = ca + cb, ea = total * na / n, eb = total * nb / n;
            chi2 += (ca - ea) * (ca - ea) / ea + (cb - eb) * (cb - eb) / eb;
        }
        return (chi2, Math.Max(1, cells.Count - 1));
    }

    [Fact]
    public async Task SpeculativeDecodingAllocatesNothingPerToken()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
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
        var greedy = SamplingSettings.Greedy with { StopAtEos = false };
        var spec = greedy with { Speculation = Lookup };
        for (int i = 0; i < 8; i++) { Allocated(greedy with { MaxTokens = 100 }); Allocated(spec with { MaxTokens = 100 }); } // JIT tiers settle
        long plainGrowth = Growth(greedy);
        long specGrowth = Growth(spec);
        var t = session.LastTimings!;
        Assert.True(t.AcceptedDraftTokens > 10 && t.DraftTokens > t.AcceptedDraftTokens, $"{t.AcceptedDraftTokens} of {t.DraftTokens} draft tokens accepted");
        // The same 80 extra tokens (their text strings are the plain loop's own cost): speculation adds nothing per token.
        Assert.True(specGrowth <= plainGrowth, $"80 more tokens allocate {specGrowth} bytes with speculation, {plainGrowth} without");
    }
}
