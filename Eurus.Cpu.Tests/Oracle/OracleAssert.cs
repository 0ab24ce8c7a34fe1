using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Oracle;

/// <summary>The two comparisons every oracle test makes against llama.cpp on the same file.</summary>
internal static class OracleAssert
{
    /// <summary>
    /// Our logits after every token of <paramref name="ids"/> are within <paramref name="tolerance"/> × the oracle's
    /// logit range of llama.cpp's, at every position; llama.cpp runs with the model's KV cache type. Returns the worst
    /// |Δ|/range over the positions.
    /// </summary>
    public static double LogitsMatch(string label, string path, EurusModel model, int[] ids, double tolerance)
    {
        int vocab = model.Config.Vocab;
        var expected = LlamaOracle.Logits(path, ids, 256, model.Options.KvCacheType);
        using var session = model.CreateSession();
        var ours = new float[ids.Length * vocab];
        session.EvaluateAll(ids, ours);
        var relative = new double[ids.Length];
        for (int p = 0; p < ids.Length; p++)
        {
            var e = expected[p];
            var o = ours.AsSpan(p * vocab, vocab);
            float range = e.Max() - e.Min();
            float maxDiff = 0;
            for (int i = 0; i < vocab; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(e[i] - o[i]));
            relative[p] = maxDiff / range;
            // The message shows the run up to here: a near-tie flip is a jump at one position from ~1e-6, a wrong kernel
            // is off from the first position.
            Assert.True(maxDiff <= tolerance * range, $"{label}, position {p}: max |Δ| {maxDiff} > {tolerance} × range {range}; " +
                $"|Δ|/range by position: {string.Join(" ", relative.Take(p + 1).Select(r => r.ToString("E1", System.Globalization.CultureInfo.InvariantCulture)))}");
        }
        return relative.Max();
    }

    /// <summary>
    /// llama.cpp's own near-tie rule: a greedy continuation may part from llama.cpp only at a step where llama.cpp's
    /// top-2 logit margin is below this fraction of its logit range (computed from its logits, never assumed).
    /// </summary>
    public const double NearTie = 2e-3;

    /// <summary>Where a greedy continuation parted from llama.cpp (−1: never) and llama.cpp's margins there, over its logit range.</summary>
    public readonly record struct Parting(int Step, double Top2Margin, double OurTokenGap)
    {
        public bool Identical => Step < 0;

        public override string ToString() => Identical ? "identical" : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"parted at step {Step}: llama.cpp top-2 margin {Top2Margin:E2} × range, its logit of our token {OurTokenGap:E2} × range below its top");
    }

    /// <summary>
    /// Our greedy continuation of <paramref name="n"/> tokens equals llama.cpp's (run with the model's KV cache type),
    /// or parts from it only at a genuine near-tie: llama.cpp's own top-2 margin at that step, and the gap between its
    /// top token and ours in its logits, below <see cref="NearTie"/> × its logit range. Quantized runs are not bit-exact
    /// (one activation's Q8 rounding landing the other way moves the logits by ~1e-3 × range), so a tie closer than
    /// that can go either way.
    /// </summary>
    public static async Task<Parting> GreedyParting(string label, string path, EurusModel model, int[] ids, int n = 64)
    {
        var kv = model.Options.KvCacheType;
        var (expected, rows) = LlamaOracle.GreedyWithLogits(path, ids, n, 256, kv);
        using var session = model.CreateSession();
        var ours = new List<int>();
        await foreach (var t in session.GenerateTokensAsync(ids, SamplingSettings.Greedy with { MaxTokens = n, StopAtEos = false }))
            if (t.Id >= 0) ours.Add(t.Id);
        Assert.Equal(n, ours.Count);
        int split = Enumerable.Range(0, n).FirstOrDefault(i => ours[i] != expected[i], -1);
        if (split < 0) return new Parting(-1, 0, 0);
        var row = rows[split]; // the logits llama.cpp picked its token from
        float range = row.Max() - row.Min();
        var sorted = row.OrderDescending().ToArray();
        var parting = new Parting(split, (sorted[0] - sorted[1]) / range, (sorted[0] - row[ours[split]]) / range);
        Assert.True(parting.Top2Margin < NearTie && parting.OurTokenGap < NearTie, $"{label}: {parting}: not a near-tie");
        return parting;
    }

    /// <summary><see cref="GreedyParting"/>; returns whether the continuation was identical throughout.</summary>
    public static async Task<bool> GreedyMatches(string label, string path, EurusModel model, int[] ids, int n = 64) =>
        (await GreedyParting(label, path, model, ids, n)).Identical;
}
