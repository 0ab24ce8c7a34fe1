using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Tests.Api;

/// <summary>The default context (4096, or the model's if smaller) and what a session of it holds.</summary>
public sealed class DefaultsTests
{
    /// <summary>Eurus-7B-KTO / Mistral-7B-v0.1 as its GGUF describes it (trained context 32768).</summary>
    internal static readonly MistralConfig SevenB = new()
    {
        Dim = 4096, Layers = 32, Heads = 32, KvHeads = 8, FeedForward = 14336, Vocab = 32000,
        RmsEps = 1e-5f, RopeTheta = 10000f, RopeDim = 128, ContextLength = 32768,
    };

    [Fact]
    public void ASevenBSessionWithDefaultOptionsReservesAtMostOneGibOfKvCache()
    {
        var options = new ModelOptions();
        Assert.Equal(4096, EurusModel.EffectiveContext(SevenB, options));
        // The sizes the load checks and reports (EurusModel.SessionMemoryBytes / KvCacheBytes) for these options.
        var sizes = EurusModel.CheckSizes(SevenB, options, msg => new InvalidOperationException(msg));
        Assert.Equal(4096, sizes.KvCapacity);
        // 2 (K, V) × 32 layers × 4096 positions × 1024 (8 KV heads × 128) × bytes per element.
        long perElement = options.KvCacheType == KvCacheType.F32 ? 4 : 2;
        Assert.Equal(2L * 32 * 4096 * 1024 * perElement, sizes.KvBytesPerSequence);
        Assert.True(sizes.KvBytesPerSequence <= 1L << 30, $"{sizes.KvBytesPerSequence} bytes of KV cache per default session");
        // What SessionMemoryBytes reports: the cache plus the pass's scratch (activations and matmul buffers for a batch
        // of 64 prompt tokens, scores, logits), about 33 MiB for 7B.
        Assert.InRange(sizes.TotalBytes - sizes.KvBytesPerSequence, 16L << 20, 64L << 20);
        // Before: the trained context, 32768 positions, 8 GiB of F32 cache per session.
        var whole = EurusModel.CheckSizes(SevenB, options with { ContextLength = 32768 }, msg => new InvalidOperationException(msg));
        Assert.Equal(8 * sizes.KvBytesPerSequence, whole.KvBytesPerSequence);
    }

    [Fact]
    public void AModelTrainedShorterThanTheDefaultKeepsItsOwnContext()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1 });
        Assert.Equal(256, model.Config.ContextLength);
        Assert.Equal(256, model.ContextLength);
        using var session = model.CreateSession();
        Assert.Equal(session.KvCacheBytes, model.KvCacheBytes);
        Assert.InRange(model.SessionMemoryBytes, model.KvCacheBytes + 1, model.KvCacheBytes + (16L << 20));
    }

    [Fact]
    public void APromptPastTheContextSaysWhatALargerContextWouldHold()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 32 });
        using var session = model.CreateSession();
        var prompt = Enumerable.Range(10, 40).ToArray();
        var e = Assert.Throws<ContextFullException>(() => session.Evaluate(prompt));
        Assert.Contains("40 positions", e.Message);
        Assert.Contains("ContextLength = 40", e.Message);
        Assert.Matches(@"A session of 40 positions would hold [0-9.]+ GiB", e.Message);
        Assert.Empty(session.Tokens);
        // Past what the model was trained for, the message says so instead.
        var tooLong = Enumerable.Range(10, 300).ToArray();
        var e2 = Assert.ThrowsAny<ContextFullException>(() => session.GenerateTokensAsync(tooLong).GetAsyncEnumerator().MoveNextAsync().AsTask().GetAwaiter().GetResult());
        Assert.Contains("trained for 256 positions", e2.Message);
    }
}
