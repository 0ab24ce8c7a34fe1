using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Api;

/// <summary>
/// <see cref="InferenceSession.SaveState"/> / <see cref="InferenceSession.LoadState"/>: a restored session continues
/// exactly as the uninterrupted one; foreign, truncated, corrupted or mismatched states are typed errors.
/// </summary>
public sealed class SessionStateTests
{
    private static readonly SamplingSettings Greedy = SamplingSettings.Greedy with { MaxTokens = 30, StopAtEos = false };

    [Theory]
    [InlineData("kjv-tiny-Q8_0.gguf", KvCacheType.F32, null)]
    [InlineData("kjv-tiny-Q4_0.gguf", KvCacheType.F16, null)]
    [InlineData("kjv-tiny-Q8_0.gguf", KvCacheType.F32, 24)] // a sliding window: the cache is a ring
    public async Task ARestoredSessionContinuesExactlyAsTheUninterruptedOne(string file, KvCacheType kv, int? window)
    {
        var options = new ModelOptions { Threads = 2, ContextLength = 128, KvCacheType = kv, SlidingWindow = window, BatchSize = 8 };
        using var model = EurusModel.Load(TestPaths.Model(file), options);
        var prompt = model.Tokenizer.Encode("And God said, Let there be light: and there was light. And God saw the light", addBos: true);

        // Uninterrupted: the prompt, then 30 greedy tokens.
        using var whole = model.CreateSession();
        var expected = (await whole.GenerateTokensAsync(prompt, Greedy).ToListAsync()).Where(t => t.Id >= 0).Select(t => t.Id).ToArray();

        // Interrupted: the prompt evaluated, saved; a fresh session loads it and continues.
        using var first = model.CreateSession();
        first.Evaluate(prompt);
        var state = new MemoryStream();
        first.SaveState(state);
        using var second = model.CreateSession();
        state.Position = 0;
        second.LoadState(state);
        Assert.Equal(prompt, second.Tokens);
        var continued = (await second.GenerateTokensAsync([], Greedy).ToListAsync()).Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(expected, continued);

        // Saved mid-generation (after 10 tokens) and restored: the rest is the same too.
        using var third = model.CreateSession();
        await third.GenerateTokensAsync(prompt, Greedy with { MaxTokens = 10 }).ToListAsync();
        var mid = new MemoryStream();
        third.SaveState(mid);
        using var fourth = model.CreateSession();
        mid.Position = 0;
        fourth.LoadState(mid);
        var rest = (await fourth.GenerateTokensAsync([], Greedy with { MaxTokens = 20 }).ToListAsync()).Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(expected[10..], rest);
    }

    private static byte[] Saved(EurusModel model, string text = "In the beginning God created the heaven and the earth.")
    {
        using var s = model.CreateSession();
        s.Evaluate(model.Tokenizer.Encode(text, addBos: true));
        var ms = new MemoryStream();
        s.SaveState(ms);
        return ms.ToArray();
    }

    private static SessionStateException Rejected(EurusModel model, byte[] bytes)
    {
        using var s = model.CreateSession();
        s.Evaluate([1, 5, 6]);
        var e = Assert.Throws<SessionStateException>(() => s.LoadState(new MemoryStream(bytes)));
        Assert.Empty(s.Tokens); // left empty, and usable
        s.Evaluate([1, 7]);
        return e;
    }

    [Fact]
    public void ForeignTruncatedCorruptedAndMismatchedStatesAreTypedErrors()
    {
        var options = new ModelOptions { Threads = 1, ContextLength = 64 };
        using var model = EurusModel.Load(TestPaths.Q8, options);
        var good = Saved(model);

        Assert.Contains("not a Eurus.Cpu session state", Rejected(model, File.ReadAllBytes(TestPaths.Q8)[..4096]).Message);
        Assert.Contains("truncated", Rejected(model, []).Message);
        // Truncated anywhere: in the header, in the tokens, in the cache, before the checksum.
        foreach (int length in new[] { 5, 20, 60, 90, good.Length / 2, good.Length - 1 })
            Assert.Contains("truncated", Rejected(model, good[..length]).Message);
        // One bit flipped in the cache: the checksum.
        var flipped = (byte[])good.Clone();
        flipped[good.Length - 100] ^= 0x10;
        Assert.Contains("corrupted", Rejected(model, flipped).Message);
        // Another version.
        var v2 = (byte[])good.Clone();
        v2[8] = 2;
        Assert.Contains("version 2", Rejected(model, v2).Message);

        // Another model of the same shape (F32 weights of the same network): another identity.
        using var other = EurusModel.Load(TestPaths.F32, options);
        Assert.Contains("different model", Rejected(other, good).Message);
        // The same model with another context or KV type.
        using var longer = EurusModel.Load(TestPaths.Q8, options with { ContextLength = 128 });
        Assert.Contains("context 64", Rejected(longer, good).Message);
        using var half = EurusModel.Load(TestPaths.Q8, options with { KvCacheType = options.KvCacheType == KvCacheType.F32 ? KvCacheType.F16 : KvCacheType.F32 });
        Assert.Contains("KV cache", Rejected(half, good).Message);
    }

    [Fact]
    public void RandomCorruptionNeverCrashes()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 64 });
        var good = Saved(model, "And God said");
        var rng = new Random(20);
        using var s = model.CreateSession();
        for (int i = 0; i < 300; i++)
        {
            var bad = (byte[])good.Clone();
            int flips = rng.Next(1, 4);
            for (int f = 0; f < flips; f++) bad[rng.Next(bad.Length)] ^= (byte)(1 << rng.Next(8));
            if (rng.Next(4) == 0) bad = bad[..rng.Next(bad.Length)];
            Assert.Throws<SessionStateException>(() => s.LoadState(new MemoryStream(bad)));
        }
    }
}
