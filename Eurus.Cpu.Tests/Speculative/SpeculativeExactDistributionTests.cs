using Eurus.Cpu.Generation;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>
/// Sampled drafts from a draft that partly overlaps the target (acceptance between 30% and 80%), checked against the
/// exact distribution of the first two tokens: the first is sampled plainly, the second is the first draft token, kept
/// with probability min(1, p/q) or replaced from the residual max(0, p − q). The draft is the demo model itself with its
/// q taken at another temperature than the target's p (<see cref="SpeculativeDecoding.DraftTemperature"/>: speculative
/// sampling is exact for any q the draft was drawn from), so p and q are both known exactly: the test computes, from
/// the model's logits, the joint distribution of the two tokens the generation must have, the distributions two wrong
/// verifications would give instead — "always keep the draft" (the second token is then distributed as q) and "draw
/// from p at a rejection" (min(p, q) + (1 − Σ min(p, q))·p) — and the chi-square test's power against each at this
/// sample size, and asserts that power before it runs the generations. Drafts that are (nearly) always kept, or never,
/// cannot tell those verifications from the right one; this one can. Also under a grammar, whose mask q and p share.
/// </summary>
public class SpeculativeExactDistributionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// Temperature 1 over the 10 likeliest tokens (the exact distribution has at most 100 pairs; the default top-p and
    /// min-p would leave one or two likely tokens, where no q differs much from p); the first pass drafts one token.
    /// </summary>
    private static readonly SamplingSettings Hot = new() { Temperature = 1f, TopK = 10, TopP = 1f, MinP = 0f, StopAtEos = false, MaxTokens = 3 };

    /// <summary>The draft's temperature: q is much flatter than p over the same candidates, and a good part of the draft tokens is rejected.</summary>
    private const float DraftTemperature = 5f;

    /// <summary>Critical chi-square value for p = 0.0005 (z = 3.29), Wilson–Hilferty.</summary>
    private static double Critical(int df) => df * Math.Pow(1 - 2.0 / (9 * df) + 3.29 * Math.Sqrt(2.0 / (9 * df)), 3);

    [Fact]
    public Task PartlyOverlappingDraftGivesTheExactDistribution() => CheckExact(grammar: null, runs: Runs);

    [Fact]
    public Task PartlyOverlappingDraftUnderAGrammarGivesTheExactDistribution() =>
        // Words only: the model's favourite next tokens here (",", " that") are partly masked out, so p and q are the
        // masked distributions; the first draft token may be the end ("."), or a word's next piece.
        CheckExact(Grammar.Parse("root ::= word word? word? \".\"\nword ::= \" \" [a-z]+"), runs: Runs);

    /// <summary>
    /// Runs per test: "draw from p at a rejection" differs from p by min(p, q) − Σ min(p, q)·p, about λ = 0.045 a run
    /// here (measured: λ = 21.5 and 25.3 for 500 runs), so 1400 runs give λ ≈ 60, which the power check needs.
    /// </summary>
    private const int Runs = 1400;

    private async Task CheckExact(Grammar? grammar, int runs)
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 64, BatchSize = 8 });
        using var draft = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 64, BatchSize = 8 });
        var prompt = model.Tokenizer.Encode(Texts[4]);
        var settings = Hot with { Grammar = grammar };
        int vocab = model.Config.Vocab, eos = model.Tokenizer.EosId;

        // The exact joint distribution of the first two tokens, and the wrong verifications' (−1: none, after the end).
        var exact = new Dictionary<(int, int), double>();
        var keepAll = new Dictionary<(int, int), double>();
        var pOnReject = new Dictionary<(int, int), double>();
        double acceptance = 0;
        using (var session = model.CreateSession())
        {
            var sampler = new Sampler(settings, vocab);
            var constraint = grammar is null ? null : new GrammarConstraint(grammar, model.Tokenizer);
            float[] p0 = new float[vocab], p1 = new float[vocab], q1 = new float[vocab];
            sampler.SampleDraft(session.Evaluate(prompt), prompt, p0, constraint?.Allowed());
            for (int t0 = 0; t0 < vocab; t0++)
            {
                if (p0[t0] == 0) continue;
                if (constraint is not null && t0 == eos) { Add(exact, (t0, -1), p0[t0]); Add(keepAll, (t0, -1), p0[t0]); Add(pOnReject, (t0, -1), p0[t0]); continue; }
                session.Rewind(prompt.Length);
                var logits = session.Evaluate([t0]).ToArray();
                int[] history = [.. prompt, t0];
                var mask = constraint is null ? null : Advance(constraint, t0);
                sampler.SampleDraft(logits, history, p1, mask);
                sampler.SampleDraft(logits, history, q1, mask, DraftTemperature);
                double overlap = 0;
                for (int x = 0; x < vocab; x++) overlap += Math.Min(p1[x], q1[x]);
                acceptance += p0[t0] * overlap;
                for (int x = 0; x < vocab; x++)
                {
                    var key = (t0, x == eos && constraint is not null ? -1 : x);
                    Add(exact, key, p0[t0] * p1[x]);
                    Add(keepAll, key, p0[t0] * q1[x]);
                    Add(pOnReject, key, p0[t0] * (Math.Min(p1[x], q1[x]) + (1 - overlap) * p1[x]));
                }
            }
        }
        output.WriteLine($"{exact.Count(e => e.Value > 0)} pairs; expected acceptance {100 * acceptance:F1}%");
        // Neither token can end the generation (the grammar needs a word and "."; without one the end is an ordinary
        // token): every run streams its first two tokens, and a kept draft token is always counted as kept.
        Assert.DoesNotContain(exact.Keys, k => k.Item2 == -1);
        Assert.InRange(acceptance, 0.3, 0.8); // a partial overlap: neither nearly always kept nor nearly never

        // Cells: the pairs expected at least 5 times in the sample, the rest pooled (into the last cell if they are rarer).
        var ordered = exact.Where(e => e.Value > 0).OrderByDescending(e => e.Value).Select(e => e.Key).ToList();
        int kept = ordered.FindIndex(k => exact[k] * runs < 5);
        if (kept < 0) kept = ordered.Count;
        double pooled = ordered.Skip(kept).Sum(k => exact[k]);
        var cellOf = new Dictionary<(int, int), int>();
        for (int i = 0; i < ordered.Count; i++) cellOf[ordered[i]] = Math.Min(i, pooled * runs < 5 ? kept - 1 : kept);
        int cells = cellOf.Values.Max() + 1, df = cells - 1;
        double[] Cells(Dictionary<(int, int), double> d)
        {
            var c = new double[cells + 1]; // the last: pairs the right distribution never gives (a wrong one may)
            foreach (var (k, v) in d) c[cellOf.TryGetValue(k, out int i) ? i : cells] += v;
            return c;
        }
        var expected = Cells(exact);

        // The test's power against each wrong verification: the chi-square statistic is then about noncentral with
        // λ = n Σ (f − p)² / p (mean df + λ, variance 2(df + 2λ)); a λ whose mean lies 2.33 standard deviations above
        // the critical value fails them with probability about 99% or more (a pair p never gives fails at once).
        foreach (var (name, wrong) in new[] { ("always keep", keepAll), ("p at a rejection", pOnReject) })
        {
            var f = Cells(wrong);
            double lambda = 0;
            for (int i = 0; i < cells; i++) lambda += runs * (f[i] - expected[i]) * (f[i] - expected[i]) / expected[i];
            output.WriteLine($"{name}: λ = {lambda:F1} ({df} degrees of freedom, critical {Critical(df):F1}), {runs * f[cells]:F1} pairs expected outside p's support");
            Assert.True(df + lambda - 2.33 * Math.Sqrt(2 * (df + 2 * lambda)) > Critical(df) || runs * f[cells] > 10,
                $"{name}: too little power (λ = {lambda:F1})");
        }

        // The generations: one prompt evaluation, then each run evaluates its last token again (rewound to before it).
        var spec = settings with { Speculation = new SpeculativeDecoding { DraftModel = draft, MaxDraftTokens = 4, DraftTemperature = DraftTemperature } };
        var counts = new double[cells + 1];
        int drafted = 0, accepted = 0;
        using (var session = model.CreateSession())
        {
            session.Evaluate(prompt);
            for (int r = 0; r < runs; r++)
            {
                session.Rewind(prompt.Length - 1);
                var ids = await Collect(session.GenerateTokensAsync([prompt[^1]], spec with { Seed = (ulong)r }));
                var key = (ids.Count > 0 ? ids[0] : eos, ids.Count > 1 ? ids[1] : -1);
                if (grammar is null) Assert.Equal(3, ids.Count);
                counts[cellOf.TryGetValue(key, out int cell) ? cell : cells]++;
                drafted += session.LastTimings!.DraftTokens;
                accepted += session.LastTimings.AcceptedDraftTokens;
                if (grammar is not null && session.LastTimings.FinishReason == FinishReason.EndOfSequence)
                    Assert.True(grammar.Matches(model.Tokenizer.Decode(ids)), model.Tokenizer.Decode(ids));
            }
        }
        Assert.Equal(0.0, counts[cells]); // no pair outside p's support
        double chi2 = 0;
        for (int i = 0; i < cells; i++) chi2 += (counts[i] - runs * expected[i]) * (counts[i] - runs * expected[i]) / (runs * expected[i]);
        output.WriteLine($"chi-square {chi2:F1} ({df} degrees of freedom, critical {Critical(df):F1}); {accepted} of {drafted} draft tokens kept");
        Assert.True(chi2 < Critical(df), $"chi-square {chi2:F1} with {df} degrees of freedom (critical {Critical(df):F1})");
        // Each run drafts one token, after its first (3 tokens: a second pass would have no room to draft); the share
        // kept is the exact acceptance within 4 standard deviations.
        Assert.Equal(runs, drafted);
        double rate = accepted / (double)drafted, sd = Math.Sqrt(acceptance * (1 - acceptance) / drafted);
        Assert.InRange(rate, acceptance - 4 * sd, acceptance + 4 * sd);
    }

    private static TokenMask Advance(GrammarConstraint constraint, int token)
    {
        constraint.Reset();
        constraint.Accept(token);
        return constraint.Allowed();
    }

    private static void Add(Dictionary<(int, int), double> d, (int, int) key, double p)
    {
        if (p > 0) d[key] = d.GetValueOrDefault(key) + p;
    }
}
