using System.Runtime.Intrinsics;
using Eurus.Cpu.Kernels;
using Xunit.Abstractions;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// The attention loops (scores q·k_j and the weighted sum of values) on every path against the scalar reference, for
/// head sizes that fit each vector width (and its eight-, four- and one-vector output blocks) and position counts around the eight-key step. Re-run in the ISA child processes.
/// </summary>
public unsafe class AttentionKernelTests(ITestOutputHelper output)
{
    private delegate void ScoresPath(float* q, float* k, int stride, int count, int hd, float scale, float* s);
    private delegate void AccumulatePath(float* p, float* v, int stride, int count, int hd, float* o);

    private static (string Name, int Width, bool Supported, ScoresPath Scores, AccumulatePath Accumulate)[] Paths() =>
    [
        ("v512", 16, Lanes512.IsAccelerated, AttentionKernel.Scores<Lanes512, Vector512<float>>, AttentionKernel.Accumulate<Lanes512, Vector512<float>>),
        ("v256", 8, Lanes256.IsAccelerated, AttentionKernel.Scores<Lanes256, Vector256<float>>, AttentionKernel.Accumulate<Lanes256, Vector256<float>>),
        ("v128", 4, Lanes128.IsAccelerated, AttentionKernel.Scores<Lanes128, Vector128<float>>, AttentionKernel.Accumulate<Lanes128, Vector128<float>>),
        ("dispatch", 1, true, AttentionKernel.Scores, AttentionKernel.Accumulate),
    ];

    [Fact]
    public void PathsMatchTheScalarReference()
    {
        var rng = new Random(5);
        int checkedPaths = 0;
        foreach (int hd in new[] { 3, 4, 8, 16, 32, 48, 64, 80, 96, 128, 144, 208, 256 })
            foreach (int count in new[] { 0, 1, 3, 4, 5, 7, 8, 9, 12, 13, 15, 16, 17, 64, 129 })
            {
                int stride = hd * 3 + 4; // the head's slice of a GQA cache row, rows further apart than the head
                var keys = Enumerable.Range(0, Math.Max(1, count) * stride).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                var values = Enumerable.Range(0, Math.Max(1, count) * stride).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                var q = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
                var p = Enumerable.Range(0, Math.Max(1, count)).Select(_ => (float)rng.NextDouble()).ToArray();
                var start = Enumerable.Range(0, hd).Select(_ => (float)rng.NextDouble()).ToArray();
                var refScores = new float[Math.Max(1, count)];
                var refOut = (float[])start.Clone();
                fixed (float* pk = keys, pv = values, pq = q, pp = p, rs = refScores, ro = refOut)
                {
                    AttentionKernel.ScoresScalar(pq, pk, stride, count, hd, 0.125f, rs);
                    AttentionKernel.AccumulateScalar(pp, pv, stride, count, hd, ro);
                    foreach (var (name, width, supported, scores, accumulate) in Paths())
                    {
                        if (!supported || hd % width != 0) continue;
                        var s = new float[Math.Max(1, count)];
                        var o = (float[])start.Clone();
                        fixed (float* ps = s, po = o)
                        {
                            scores(pq, pk, stride, count, hd, 0.125f, ps);
                            accumulate(pp, pv, stride, count, hd, po);
                        }
                        for (int j = 0; j < count; j++)
                            Assert.True(MathF.Abs(s[j] - refScores[j]) <= 1e-5f * hd, $"{name} hd {hd} count {count}: score {j} {s[j]} vs {refScores[j]}");
                        for (int i = 0; i < hd; i++)
                            Assert.True(MathF.Abs(o[i] - refOut[i]) <= 1e-5f * (count + 1), $"{name} hd {hd} count {count}: out {i} {o[i]} vs {refOut[i]}");
                        checkedPaths++;
                    }
                }
            }
        Assert.True(checkedPaths > 0);
        foreach (var (name, _, supported, _, _) in Paths())
            if (!supported) output.WriteLine($"attention path '{name}' is not available in this process; it runs in the ISA child processes.");
    }
    /// <summary>
    /// Grouped-query attention of a prompt (<see cref="CachedAttention.AttendGroup"/>: four query heads per KV
    /// head, positions in blocks of 64) equals each head attended alone (<see cref="CachedAttention.Attend"/>,
    /// what decoding uses) bit for bit: counts around the four-key step and the 64-position block, a ring-buffer cache
    /// whose positions wrap (two runs of slots), both KV heads, F32 and F16 caches.
    /// </summary>
    [Fact]
    public void GroupedAttentionEqualsEachHeadAlone()
    {
        var rng = new Random(8);
        const int hd = 128, kvHeads = 2, group = 4, capacity = 200;
        foreach (var type in new[] { Eurus.Cpu.Model.KvCacheType.F32, Eurus.Cpu.Model.KvCacheType.F16 })
        {
            var cache = new Eurus.Cpu.Model.KvCache(2, kvHeads * hd, capacity, type, hd);
            // 330 positions through a 200-slot ring: the last ones overwrite the first slots.
            for (int pos = 0; pos < 330; pos++)
                for (int layer = 0; layer < 2; layer++)
                    cache.Store(layer, pos, Enumerable.Range(0, kvHeads * hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(),
                        Enumerable.Range(0, kvHeads * hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
            var q = Enumerable.Range(0, group * hd).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var scratch = new float[CachedAttention.ScratchLength(hd, group)];
            foreach (var (first, count) in new[] { (329, 1), (326, 4), (325, 5), (266, 64), (265, 65), (200, 130), (131, 199), (130, 200), (0, 63), (10, 129) })
                foreach (int kv in new[] { 0, 1 })
                {
                    var scores = new float[group * capacity];
                    var grouped = new float[group * hd];
                    CachedAttention.AttendGroup(cache, 1, first, count, kv * hd, hd, group, q, 0.088f, scores, capacity, grouped, scratch);
                    for (int g = 0; g < group; g++)
                    {
                        var alone = new float[hd];
                        CachedAttention.Attend(cache, 1, first, count, kv * hd, hd, q.AsSpan(g * hd, hd), 0.088f, new float[count], alone, scratch);
                        Assert.True(alone.AsSpan().SequenceEqual(grouped.AsSpan(g * hd, hd)), $"{type}, first {first}, count {count}, kv head {kv}, head {g}");
                    }
                }
        }
    }

    /// <summary>
    /// A prompt chunk's queries over an F16 cache with the rows converted once for all of them
    /// (<see cref="CachedAttention.AttendHalfPrompt"/>) equal each query attended on its own
    /// (<see cref="CachedAttention.AttendGroup"/>, what decoding uses) bit for bit: runs of 1–70 queries whose counts
    /// cross the eight-key step and the conversion block, a ring whose slots wrap, both KV heads. Bad sizes throw.
    /// </summary>
    [Fact]
    public void PromptAttentionEqualsEachQueryAlone()
    {
        var rng = new Random(9);
        const int hd = 128, kvHeads = 2, group = 4, capacity = 200, dim = kvHeads * group * hd;
        var cache = new Eurus.Cpu.Model.KvCache(2, kvHeads * hd, capacity, Eurus.Cpu.Model.KvCacheType.F16, hd);
        for (int pos = 0; pos < 330; pos++)
            for (int layer = 0; layer < 2; layer++)
                cache.Store(layer, pos, Enumerable.Range(0, kvHeads * hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(),
                    Enumerable.Range(0, kvHeads * hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        var scratch = new float[CachedAttention.ScratchLength(hd, group)];
        var rows = new float[2 * capacity * hd];
        // (first position, the first query's count, queries): 330 positions through 200 slots, so runs from 130 on wrap.
        foreach (var (first, count0, tokens) in new[] { (0, 1, 1), (0, 1, 70), (0, 7, 3), (0, 30, 5), (10, 60, 9), (130, 1, 200), (200, 100, 31), (131, 190, 9), (290, 2, 38) })
            foreach (int kv in new[] { 0, 1 })
            {
                var q = Enumerable.Range(0, tokens * dim).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
                var scores = new float[group * capacity];
                var prompt = new float[tokens * dim];
                CachedAttention.AttendHalfPrompt(cache, 1, first, count0, tokens, kv * hd, hd, group, q.AsSpan(kv * group * hd), dim, 0.088f,
                    scores, capacity, prompt.AsSpan(kv * group * hd), dim, scratch, rows);
                for (int i = 0; i < tokens; i++)
                {
                    var alone = new float[group * hd];
                    CachedAttention.AttendGroup(cache, 1, first, count0 + i, kv * hd, hd, group, q.AsSpan(i * dim + kv * group * hd, group * hd), 0.088f,
                        new float[group * capacity], capacity, alone, scratch);
                    Assert.True(alone.AsSpan().SequenceEqual(prompt.AsSpan(i * dim + kv * group * hd, group * hd)), $"first {first}, query {i} of {tokens} from count {count0}, kv head {kv}");
                }
            }
        // Positions past the cache, a rows buffer too short for the last query, an F32 cache.
        Assert.Throws<ArgumentOutOfRangeException>(() => CachedAttention.AttendHalfPrompt(cache, 1, 0, 190, 12, 0, hd, group, new float[12 * dim], dim, 1f,
            new float[group * capacity], capacity, new float[12 * dim], dim, scratch, rows));
        Assert.Throws<ArgumentOutOfRangeException>(() => CachedAttention.AttendHalfPrompt(cache, 1, 0, 10, 2, 0, hd, group, new float[2 * dim], dim, 1f,
            new float[group * capacity], capacity, new float[2 * dim], dim, scratch, new float[2 * 10 * hd]));
        var f32 = new Eurus.Cpu.Model.KvCache(2, kvHeads * hd, capacity, Eurus.Cpu.Model.KvCacheType.F32, hd);
        Assert.Throws<ArgumentOutOfRangeException>(() => CachedAttention.AttendHalfPrompt(f32, 1, 0, 1, 2, 0, hd, group, new float[2 * dim], dim, 1f,
            new float[group * capacity], capacity, new float[2 * dim], dim, scratch, rows));
    }
}
