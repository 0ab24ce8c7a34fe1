using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;
using Eurus.Cpu.Quantization;
using Eurus.Cpu.Sampling;
using Xunit.Abstractions;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Model;

/// <summary>
/// The constructed copying model (<see cref="SyntheticWeights.Induction"/>): after a random token sequence S and a
/// prefix of S, greedy decoding continues with the rest of S — computed by the weights' induction circuit, in F32 and
/// quantized — while the random-weight model of the same shape does not.
/// </summary>
public class InductionModelTests(ITestOutputHelper output)
{
    /// <summary>A small model with the 7B's head dimension (128), grouped-query attention 2:1 and an inert fourth layer.</summary>
    private static readonly SyntheticModelOptions Small = SyntheticModelOptions.Tiny with
    {
        Dim = 512, Layers = 4, Heads = 4, KvHeads = 2, FeedForward = 512, Vocab = 1024, ContextLength = 512,
        Weights = SyntheticWeights.Induction, Name = "induction-test",
    };

    private static string Write(TempDir tmp, SyntheticModelOptions o, string name)
    {
        string path = tmp.File(name);
        SyntheticModel.Write(path, o);
        return path;
    }

    /// <summary>Copies by the prompt [BOS, S, noise, S[..prefix]] for several seeded sequences: (copied, total) continuation tokens.</summary>
    private static async Task<(int Copied, int Total)> CopyScore(EurusModel model, int sequences, int length, int noise, int prefix, int seed)
    {
        var rng = new Random(seed);
        int vocab = model.Config.Vocab, copied = 0, total = 0;
        var greedy = SamplingSettings.Greedy with { StopAtEos = false };
        for (int i = 0; i < sequences; i++)
        {
            var s = Enumerable.Range(3, vocab - 3).OrderBy(_ => rng.Next()).Take(length + noise).ToArray();
            int[] prompt = [1, .. s[..length], .. s[length..], .. s[..prefix]];
            using var session = model.CreateSession();
            var got = await Collect(session.GenerateTokensAsync(prompt, greedy with { MaxTokens = length - prefix }));
            for (int k = 0; k < got.Count; k++) if (got[k] == s[prefix + k]) copied++;
            total += length - prefix;
        }
        return (copied, total);
    }

    /// <summary>The small model in <paramref name="type"/>: a single type, or a llama-quantize mixture (q4_k_m, q4_0_mix).</summary>
    private static SyntheticModelOptions Typed(string type) => type switch
    {
        "q4_k_m" => Small with { Mix = QuantMix.Q4_K_M },
        "q4_0_mix" => Small with { Mix = QuantMix.Q4_0 },
        _ => Small with { WeightType = Enum.Parse<GgmlType>(type, ignoreCase: true) },
    };

    [Theory]
    [InlineData("f32", 20)]
    [InlineData("f16", 20)]
    [InlineData("q8_0", 20)]
    [InlineData("q4_0", 20)]
    [InlineData("q4_0_mix", 20)]
    [InlineData("q4_k", 20)]
    [InlineData("q4_k_m", 20)]
    [InlineData("f32", 400)]
    [InlineData("q4_0", 400)]
    public async Task ContinuesTheRepeatedSequence(string type, int noise)
    {
        using var tmp = TestPaths.Temp();
        string path = Write(tmp, Typed(type), "copy.gguf");
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 512 });
        var (copied, total) = await CopyScore(model, sequences: 6, length: 48, noise: noise, prefix: 3, seed: 1);
        output.WriteLine($"{type}, noise {noise}: {copied} of {total}");
        Assert.Equal(total, copied);
    }

    [Fact]
    public async Task RandomWeightsDoNotCopy()
    {
        using var tmp = TestPaths.Temp();
        string path = Write(tmp, Small with { Weights = SyntheticWeights.Random, WeightType = GgmlType.Q8_0 }, "random.gguf");
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 512 });
        var (copied, total) = await CopyScore(model, sequences: 6, length: 48, noise: 20, prefix: 3, seed: 1);
        output.WriteLine($"random: {copied} of {total}");
        Assert.True(copied < total / 10, $"{copied} of {total}");
    }
}
