using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Oracle;

/// <summary>The two comparisons every oracle test makes against llama.cpp on the same file.</summary>
internal static class OracleAssert
{
    /// <summary>
    /// Our logits after every token of <paramref name="ids"/> are within <paramref name="tolerance"/> × the oracle's
    /// logit range of llama.cpp's, at every position.
    /// </summary>
    public static void LogitsMatch(string label, string path, EurusModel model, int[] ids, double tolerance)
    {
        int vocab = model.Config.Vocab;
        var expected = LlamaOracle.Logits(path, ids, 256);
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
    }

    /// <summary>
    /// Our greedy continuation of <paramref name="n"/> tokens equals llama.cpp's, or parts from it only at a genuine
    /// near-tie: quantized runs are not bit-exact (llama.cpp's SIMD sums differ in the last ulp, which can flip an
    /// activation's Q8 rounding), so where they part, the oracle's own logits for its token and ours must lie within
    /// 0.5% of its logit range. Returns whether the continuation was identical throughout.
    /// </summary>
    public static async Task<bool> GreedyMatches(string label, string path, EurusModel model, int[] ids, int n = 64)
    {
        var expected = LlamaOracle.Greedy(path, ids, n, 256);
        using var session = model.CreateSession();
        var ours = new List<int>();
        await foreach (var t in session.GenerateTokensAsync(ids, SamplingSettings.Greedy with { MaxTokens = n, StopAtEos = false }))
            if (t.Id >= 0) ours.Add(t.Id);
        Assert.Equal(n, ours.Count);
        int split = Enumerable.Range(0, n).FirstOrDefault(i => ours[i] != expected[i], -1);
        if (split < 0) return true;
        var row = LlamaOracle.Logits(path, ids.Concat(expected.Take(split)).ToArray(), 256)[^1];
        float range = row.Max() - row.Min();
        float gap = row[expected[split]] - row[ours[split]];
        Assert.True(gap <= 5e-3f * range,
            $"{label}: parted from llama.cpp at generated token {split} where its margin was {gap} (range {range}): not a near-tie");
        return false;
    }
}
