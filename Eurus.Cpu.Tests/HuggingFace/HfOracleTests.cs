using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;
using Eurus.Cpu.Tests.Oracle;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>llama.cpp (LLamaSharp) loads the GGUF files our converter writes and computes the same logits as our engine.</summary>
public class HfOracleTests
{
    // F32 checks the conversion with exact arithmetic. Quantized runs are not bit-exact with llama.cpp (its sum order
    // differs, so an activation that rounds at a near-tie can quantize one step apart and the difference propagates):
    // on this BF16-derived model one position of one prompt reaches 1.1–1.2% of the range with either of our two Q8_0
    // kernel orders (AVX-512 and AVX2), hence 2% there; every other position stays far below.
    [Theory]
    [InlineData(GgmlType.F32, 1e-3)]
    [InlineData(GgmlType.Q8_0, 2e-2)]
    [InlineData(GgmlType.Q4_0, 2e-2)]
    public Task LlamaCppRunsTheConvertedFileWithOurLogits(GgmlType type, double tolerance) =>
        RunsWithOurLogits(type.ToString(), HfTestModels.Converted(type), tolerance);

    /// <summary>
    /// The K-quant mixtures people download, written by our converter (Q4_K/Q5_K/Q6_K blocks from our quantizer). Q5_K_M
    /// and Q6_K stay within the 1% of the range; Q4_K_M reaches 1.3% at one position of the third prompt (the
    /// same near-tie propagation as Q8_0/Q4_0 above), hence 2% there.
    /// </summary>
    [Theory]
    [InlineData(QuantMix.Q4_K_M, 2e-2)]
    [InlineData(QuantMix.Q5_K_M, 1e-2)]
    [InlineData(QuantMix.Q6_K, 1e-2)]
    public Task LlamaCppRunsTheConvertedMixtureWithOurLogits(QuantMix mix, double tolerance) =>
        RunsWithOurLogits(mix.ToString(), HfTestModels.Converted(mix), tolerance);

    private static async Task RunsWithOurLogits(string type, string path, double tolerance)
    {
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 32, KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 });
        foreach (var prompt in HfConversionTests.Prompts)
        {
            var ids = model.Tokenizer.Encode(prompt);
            Assert.Equal(LlamaOracle.Tokenize(path, prompt), ids);
            OracleAssert.LogitsMatch($"{type} '{prompt[..12]}…'", path, model, ids, tolerance);
        }

        // Greedy 64-token continuations: identical, or parting only where llama.cpp's own margin is a near-tie.
        int identical = 0;
        foreach (var text in new[] { "And God said", "The LORD is my shepherd" })
            if (await OracleAssert.GreedyMatches($"{type} '{text}'", path, model, model.Tokenizer.Encode(text))) identical++;
        Assert.True(identical >= 1, $"{type}: no continuation identical to llama.cpp's");
    }
}
