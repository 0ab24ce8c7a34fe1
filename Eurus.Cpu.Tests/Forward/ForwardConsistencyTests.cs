using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Tests.Forward;

public class ForwardConsistencyTests
{
    private static int[] SomeTokens(int n, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(i => i == 0 ? 1 : rng.Next(3, vocab)).ToArray();
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tol * (1 + MathF.Abs(expected[i])), $"{what}: index {i}: {expected[i]} vs {actual[i]}");
    }

    [Theory]
    [InlineData("Q8_0")]
    [InlineData("Q4_0")]
    [InlineData("GQA-F32")]
    public void BatchedPromptEqualsTokenByToken(string name)
    {
        using var model = EurusModel.Load(ForwardOracleTests.PathOf(name), new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        int vocab = model.Config.Vocab;
        var ids = SomeTokens(40, vocab, 3);
        using var batched = model.CreateSession();
        var all = new float[ids.Length * vocab];
        batched.EvaluateAll(ids, all);
        using var single = model.CreateSession();
        for (int i = 0; i < ids.Length; i++)
        {
            var logits = single.Evaluate([ids[i]]);
            AssertClose(all.AsSpan(i * vocab, vocab), logits, 1e-5f, $"position {i}");
        }
    }

    [Fact]
    public void FollowUpPromptEvaluatesOnlyNewTokensAndMatchesFromScratch()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256 });
        var a = model.Tokenizer.Encode("And God said, Let there be light:");
        var b = model.Tokenizer.Encode(" and there was light.", addBos: false);
        using var s1 = model.CreateSession();
        s1.Evaluate(a);
        var cont = s1.Evaluate(b).ToArray();
        using var s2 = model.CreateSession();
        var scratch = s2.Evaluate([.. a, .. b]).ToArray();
        AssertClose(scratch, cont, 1e-5f, "continuation");
        Assert.Equal(a.Length + b.Length, s1.Tokens.Count);
    }

    [Fact]
    public void SlidingWindowMatchesThePlainReference()
    {
        string path = TestModels.SyntheticWindow;
        var naive = new NaiveMistral(path);
        var ids = SomeTokens(30, 4096, 11);
        var expected = naive.Logits(ids, window: 8);
        var full = naive.Logits(ids, window: null);
        foreach (int batch in new[] { 1, 5, 30 })
        {
            using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, BatchSize = batch, KvCacheType = KvCacheType.F32 });
            Assert.Equal(8, model.SlidingWindow);
            using var s = model.CreateSession();
            var ours = new float[ids.Length * 4096];
            s.EvaluateAll(ids, ours);
            Assert.True(s.KvCacheBytes < 2L * 2 * 64 * 4 * 256, "the ring buffer must be smaller than a full-context cache");
            for (int p = 0; p < ids.Length; p++) AssertClose(expected[p], ours.AsSpan(p * 4096, 4096), 2e-3f, $"batch {batch} position {p}");
        }
        // Past the window the answer really differs from full attention (so the test can fail).
        Assert.True(expected[^1].Zip(full[^1]).Max(z => MathF.Abs(z.First - z.Second)) > 1e-2f);
        // Within the window it is the same.
        AssertClose(full[7], expected[7], 1e-5f, "inside the window");
    }

    [Fact]
    public void WindowFromOptionsOverridesFullAttention()
    {
        string path = TestModels.SyntheticGqa(Eurus.Cpu.Gguf.GgmlType.F32);
        var naive = new NaiveMistral(path);
        var ids = SomeTokens(20, 4096, 5);
        var expected = naive.Logits(ids, window: 6);
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 1, SlidingWindow = 6, BatchSize = 4, KvCacheType = KvCacheType.F32 });
        using var s = model.CreateSession();
        var ours = new float[ids.Length * 4096];
        s.EvaluateAll(ids, ours);
        for (int p = 0; p < ids.Length; p++) AssertClose(expected[p], ours.AsSpan(p * 4096, 4096), 2e-3f, $"position {p}");
    }

    [Fact]
    public void F16KvCacheStaysClose()
    {
        using var m32 = EurusModel.Load(TestPaths.F32, new ModelOptions { Threads = 2, ContextLength = 128, KvCacheType = KvCacheType.F32 });
        using var m16 = EurusModel.Load(TestPaths.F32, new ModelOptions { Threads = 2, ContextLength = 128, KvCacheType = KvCacheType.F16 });
        var ids = m32.Tokenizer.Encode("And the spirit of God moved upon the face of the waters.");
        using var a = m32.CreateSession();
        using var b = m16.CreateSession();
        var la = a.Evaluate(ids).ToArray();
        var lb = b.Evaluate(ids).ToArray();
        float range = la.Max() - la.Min();
        Assert.True(la.Zip(lb).Max(z => MathF.Abs(z.First - z.Second)) < 1e-2f * range);
        Assert.Equal(a.KvCacheBytes / 2, b.KvCacheBytes);
    }

    [Fact]
    public void OverlongPromptsAndBadTokensAreRejectedWithoutCorruptingTheSession()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 32 });
        using var s = model.CreateSession();
        var ok = model.Tokenizer.Encode("And God said");
        var before = s.Evaluate(ok).ToArray();
        Assert.Throws<ContextFullException>(() => s.Evaluate(new int[40]));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Evaluate([5000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Evaluate([-1]));
        Assert.Equal(ok.Length, s.Tokens.Count);
        s.Rewind(ok.Length - 1);
        var again = s.Evaluate([ok[^1]]).ToArray();
        AssertClose(before, again, 1e-5f, "after rewind");
    }
}
