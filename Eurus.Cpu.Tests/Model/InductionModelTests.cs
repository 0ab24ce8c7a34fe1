using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;
using Eurus.Cpu.Quantization;
using Eurus.Cpu.Sampling;
using Xunit.Abstractions;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Model;

/// <summary>
/// The constructed copying model (<see cref="SyntheticWeights.Induction"/>): after a random token sequence S, other
/// tokens and a prefix of S, greedy decoding continues with the rest of S — computed by the weights' induction circuit,
/// in F32 and quantized — while the random-weight model of the same shape does not; speculative prompt lookup on it
/// keeps most drafts and gives the plain greedy tokens.
/// </summary>
public class InductionModelTests(ITestOutputHelper output)
{
    /// <summary>
    /// A small model with the 7B's head dimension (128) and grouped-query attention (4:1): the circuit's seven layers
    /// and an inert eighth, 32-dim token codes (the 7B's are 192), two key/value heads per induction layer (the 7B has 8).
    /// </summary>
    private static readonly SyntheticModelOptions Small = SyntheticModelOptions.Tiny with
    {
        Dim = 1024, Layers = 8, Heads = 8, KvHeads = 2, FeedForward = 256, Vocab = 1024, ContextLength = 512,
        Weights = SyntheticWeights.Induction, Name = "induction-test",
    };

    /// <summary>The small model in <paramref name="type"/>: one type for every matrix, or a llama-quantize mixture (q4_k_m, q4_0_mix).</summary>
    private static SyntheticModelOptions Typed(string type) => type switch
    {
        "q4_k_m" => Small with { Mix = QuantMix.Q4_K_M },
        "q4_0_mix" => Small with { Mix = QuantMix.Q4_0 },
        _ => Small with { WeightType = Enum.Parse<GgmlType>(type, ignoreCase: true) },
    };

    private static EurusModel Load(TempDir tmp, SyntheticModelOptions o)
    {
        string path = tmp.File("model.gguf");
        SyntheticModel.Write(path, o);
        return EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 512 });
    }

    /// <summary>
    /// Greedy continuations of [BOS, S, R, S[..prefix]] for seeded sequences S of distinct random tokens and R of
    /// <paramref name="noise"/> other random tokens: how many of the <c>S.Length − prefix</c> tokens equal the rest of S.
    /// </summary>
    private static async Task<(int Copied, int Total)> CopyScore(EurusModel model, int sequences, int length, int noise, int prefix, int seed)
    {
        var rng = new Random(seed);
        int vocab = model.Config.Vocab, copied = 0, total = 0;
        for (int i = 0; i < sequences; i++)
        {
            var s = Enumerable.Range(3, vocab - 3).OrderBy(_ => rng.Next()).Take(length + noise).ToArray();
            int[] prompt = [1, .. s, .. s[..prefix]];
            using var session = model.CreateSession();
            var got = await Collect(session.GenerateTokensAsync(prompt, SamplingSettings.Greedy with { StopAtEos = false, MaxTokens = length - prefix }));
            for (int k = 0; k < got.Count; k++) if (got[k] == s[prefix + k]) copied++;
            total += length - prefix;
        }
        return (copied, total);
    }

    [Theory]
    [InlineData("f32", 20)]
    [InlineData("q8_0", 20)]
    [InlineData("q4_0", 20)]
    [InlineData("q4_k", 20)]
    [InlineData("q4_0_mix", 20)]
    [InlineData("q4_k_m", 20)]
    [InlineData("q4_0", 400)]
    public async Task ContinuesTheRepeatedSequence(string type, int noise)
    {
        using var tmp = TestPaths.Temp();
        using var model = Load(tmp, Typed(type));
        // Every token of S is distinct, so the continuation is determined: all of it must be copied. The prefix of 3
        // matches only orders 1-3 at first (the token before it is not S's), so the higher orders must stay silent.
        var (copied, total) = await CopyScore(model, sequences: 4, length: 32, noise, prefix: 3, seed: 1);
        output.WriteLine($"{type}, {noise} tokens between: {copied} of {total} copied");
        Assert.Equal(total, copied);
    }

    [Fact]
    public async Task RandomWeightsDoNotCopy()
    {
        using var tmp = TestPaths.Temp();
        using var model = Load(tmp, Small with { Weights = SyntheticWeights.Random, WeightType = GgmlType.Q8_0 });
        var (copied, total) = await CopyScore(model, sequences: 4, length: 32, noise: 20, prefix: 3, seed: 1);
        output.WriteLine($"random weights: {copied} of {total} copied");
        Assert.True(copied < total / 10, $"{copied} of {total}");
    }

    [Fact]
    public async Task CopiesThroughRunsOfARepeatedToken()
    {
        // Code indentation in single-space tokens: runs of 3 and 7 of the same token inside S, several times. Inside a
        // run the last 5 tokens are all the same; the order-6 skip-gram (8 tokens back) tells the places apart.
        using var tmp = TestPaths.Temp();
        using var model = Load(tmp, Typed("q4_0"));
        var rng = new Random(3);
        int copied = 0, total = 0;
        for (int i = 0; i < 3; i++)
        {
            const int space = 300;
            var words = Enumerable.Range(3, model.Config.Vocab - 3).Where(t => t != space).OrderBy(_ => rng.Next()).ToArray();
            var s = new List<int>();
            for (int line = 0; line < 6; line++)
            {
                s.AddRange(Enumerable.Repeat(space, line % 2 == 0 ? 3 : 7));
                s.AddRange(words.Skip(s.Count).Take(4));
            }
            int prefix = 6;
            int[] prompt = [1, .. s, .. words[200..210], .. s[..prefix]];
            using var session = model.CreateSession();
            var got = await Collect(session.GenerateTokensAsync(prompt, SamplingSettings.Greedy with { StopAtEos = false, MaxTokens = s.Count - prefix }));
            for (int k = 0; k < got.Count; k++) if (got[k] == s[prefix + k]) copied++;
            total += s.Count - prefix;
        }
        output.WriteLine($"{copied} of {total} copied");
        Assert.Equal(total, copied);
    }

    [Fact]
    public async Task PromptLookupKeepsMostDraftsAndGivesPlainGreedyTokens()
    {
        using var tmp = TestPaths.Temp();
        using var model = Load(tmp, Typed("q4_0"));
        var plain = SamplingSettings.Greedy with { MaxTokens = 40, StopAtEos = false };
        var spec = plain with { Speculation = SpeculativeDecoding.PromptLookup };
        var rng = new Random(5);
        int drafted = 0, accepted = 0, generated = 0;
        for (int i = 0; i < 4; i++)
        {
            var s = Enumerable.Range(3, model.Config.Vocab - 3).OrderBy(_ => rng.Next()).Take(60).ToArray();
            int[] prompt = [1, .. s, .. s[..(4 + i)]];
            using var a = model.CreateSession();
            using var b = model.CreateSession();
            var want = await Collect(a.GenerateTokensAsync(prompt, plain));
            var got = await Collect(b.GenerateTokensAsync(prompt, spec));
            Assert.Equal(want, got);
            Assert.Equal(s[(4 + i)..(44 + i)], want); // and it is the copy
            drafted += b.LastTimings!.DraftTokens;
            accepted += b.LastTimings.AcceptedDraftTokens;
            generated += b.LastTimings.GeneratedTokens;
        }
        output.WriteLine($"{accepted} of {drafted} draft tokens kept; {generated} tokens in {generated - accepted} passes");
        Assert.True(accepted >= 0.9 * drafted, $"{accepted} of {drafted} draft tokens kept");
        Assert.True(generated >= 3 * (generated - accepted), $"{generated} tokens in {generated - accepted} passes");
    }

    [Fact]
    public void TheSevenBShapeFitsTheCircuit()
    {
        // Planning only (writing the 7B file takes a minute): 192-dim codes, and the previous-token heads' peak stands
        // 15% of its height (30 logits) above every other offset up to the 32768-token context.
        var plan = new InductionWeights(SyntheticModelOptions.Eurus7B with { Weights = SyntheticWeights.Induction }, 32000, bos: 1);
        output.WriteLine($"code {plan.CodeDim}, previous-token margin {plan.PreviousTokenMargin:F4}");
        Assert.Equal(192, plan.CodeDim);
        Assert.InRange(plan.PreviousTokenMargin, 0.15, 0.16);
    }

    [Fact]
    public void ShapesTooSmallForTheCircuitAreRejected()
    {
        using var tmp = TestPaths.Temp();
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(tmp.File("a.gguf"), Small with { Layers = 6 }));
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(tmp.File("b.gguf"), Small with { Dim = 512, Heads = 4 }));
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(tmp.File("c.gguf"), Small with { FeedForward = 128 }));
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(tmp.File("d.gguf"), Small with { Heads = 4, KvHeads = 4 })); // 7 previous-token heads need 7 key heads without GQA
    }
}
