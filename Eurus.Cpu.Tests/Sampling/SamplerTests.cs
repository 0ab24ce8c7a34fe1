using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Sampling;

public class SamplerTests
{
    // Logits whose softmax is (roughly) 0.5, 0.25, 0.125, 0.0625, … over 10 tokens, shuffled.
    private static readonly int[] Order = [3, 7, 0, 9, 1, 5, 2, 8, 4, 6];
    private static float[] Logits()
    {
        var l = new float[10];
        for (int rank = 0; rank < 10; rank++) l[Order[rank]] = -rank * MathF.Log(2);
        return l;
    }

    private static Dictionary<int, int> Histogram(SamplingSettings s, int draws = 4000, int[]? history = null)
    {
        var sampler = new Sampler(s with { Seed = 99 }, 10);
        var h = new Dictionary<int, int>();
        var logits = Logits();
        for (int i = 0; i < draws; i++)
        {
            int t = sampler.Sample(logits, history ?? []);
            h[t] = h.GetValueOrDefault(t) + 1;
        }
        return h;
    }

    private static readonly SamplingSettings Plain = new() { Temperature = 1, TopK = 0, TopP = 1, MinP = 0 };

    [Fact]
    public void GreedyPicksTheLargestLogit() =>
        Assert.Equal(3, new Sampler(SamplingSettings.Greedy, 10).Sample(Logits(), []));

    [Fact]
    public void PlainSamplingFollowsTheDistribution()
    {
        var h = Histogram(Plain);
        Assert.InRange(h[3] / 4000.0, 0.45, 0.55);
        Assert.InRange(h[7] / 4000.0, 0.21, 0.29);
        Assert.True(h.Count >= 7);
    }

    [Fact]
    public void TopKKeepsKTokens() => Assert.Equal([0, 3, 7], Histogram(Plain with { TopK = 3 }).Keys.Order());

    [Fact]
    public void TopPKeepsTheSmallestSetReachingP()
    {
        // 0.5 + 0.25 = 0.75 < 0.8, + 0.125 = 0.875 ≥ 0.8 → three tokens.
        Assert.Equal([0, 3, 7], Histogram(Plain with { TopP = 0.8f }).Keys.Order());
    }

    [Fact]
    public void MinPDropsTokensBelowTheFraction()
    {
        // p ≥ 0.2 × 0.5 = 0.1 keeps 0.5, 0.25, 0.125.
        Assert.Equal([0, 3, 7], Histogram(Plain with { MinP = 0.2f }).Keys.Order());
    }

    [Fact]
    public void LowTemperatureSharpensHighFlattens()
    {
        Assert.True(Histogram(Plain with { Temperature = 0.2f })[3] > 3800);
        Assert.True(Histogram(Plain with { Temperature = 5f })[3] < 1200);
    }

    [Fact]
    public void RepetitionPenaltyDemotesRecentTokens()
    {
        // A negative logit is multiplied by the penalty, a positive one divided.
        var s = SamplingSettings.Greedy with { RepeatPenalty = 4f };
        Assert.Equal(3, new Sampler(s, 10).Sample(Logits(), [7]));
        var l = Logits();
        l[3] = 2f;      // penalised: 2 / 100 = 0.02, now below token 7
        l[7] = 1f;
        Assert.NotEqual(3, new Sampler(SamplingSettings.Greedy with { RepeatPenalty = 100f }, 10).Sample(l, [3]));
    }

    [Fact]
    public void FrequencyAndPresencePenaltiesSubtract()
    {
        var l = Logits();
        // Token 3 leads 7 by ln 2 ≈ 0.69; two occurrences × 0.4 frequency penalty = 0.8 flips it.
        Assert.Equal(7, new Sampler(SamplingSettings.Greedy with { FrequencyPenalty = 0.4f }, 10).Sample(l, [3, 3]));
        Assert.Equal(3, new Sampler(SamplingSettings.Greedy with { FrequencyPenalty = 0.4f }, 10).Sample(l, [3]));
        Assert.Equal(7, new Sampler(SamplingSettings.Greedy with { PresencePenalty = 1f }, 10).Sample(l, [3]));
        // Outside the window the token is not penalised.
        Assert.Equal(3, new Sampler(SamplingSettings.Greedy with { PresencePenalty = 1f, PenaltyWindow = 1 }, 10).Sample(l, [3, 5]));
    }

    [Fact]
    public void SameSeedSameSequenceOtherSeedOtherSequence()
    {
        int[] Run(ulong seed)
        {
            var s = new Sampler(Plain with { Seed = seed }, 10);
            return Enumerable.Range(0, 50).Select(_ => s.Sample(Logits(), [])).ToArray();
        }
        Assert.Equal(Run(1), Run(1));
        Assert.NotEqual(Run(1), Run(2));
    }

    [Fact]
    public void BadSettingsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new Sampler(Plain with { TopP = 0 }, 10));
        Assert.Throws<ArgumentException>(() => new Sampler(Plain with { TopK = -1 }, 10));
        Assert.Throws<ArgumentException>(() => new Sampler(Plain with { Temperature = float.NaN }, 10));
        Assert.Throws<ArgumentException>(() => new Sampler(Plain with { StopStrings = [""] }, 10));
        Assert.Throws<ArgumentException>(() => new Sampler(Plain, 10).Sample(new float[9], []));
    }
}
