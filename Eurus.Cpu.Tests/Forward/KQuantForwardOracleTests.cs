using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;
using Eurus.Cpu.Tests.Oracle;
using LLama.Native;

namespace Eurus.Cpu.Tests.Forward;

/// <summary>
/// Files as people download them — K-quant mixtures and llama-quantize's default Q4_0 (whose output.weight is Q6_K)
/// and "Q5_0" (Q5_0 matrices, run widened to Q8_0), "Q4_1" and "Q5_1" (run re-quantized to Q8_0) — made by llama.cpp's own quantizer from the demo F32 model, plus a synthetic model our writer quantized to
/// Q4_K_M: our logits at every position agree with llama.cpp's on the same file, greedy continuations match.
/// </summary>
public class KQuantForwardOracleTests
{
    private static readonly string[] Prompts =
    [
        "And God said",
        "In the beginning God created the heaven and the earth. And the earth was without form, and void;",
        "Jesus wept. 12345 é — [INST] hello [/INST]\n\nThe LORD is my shepherd; I shall not want.",
    ];

    internal static string PathOf(string name) => name switch
    {
        "Q4_K_M" => TestModels.DemoLlamaQuantized(LLamaFtype.MOSTLY_Q4_K_M),
        "Q5_K_M" => TestModels.DemoLlamaQuantized(LLamaFtype.MOSTLY_Q5_K_M),
        "Q6_K" => TestModels.DemoLlamaQuantized(LLamaFtype.MOSTLY_Q6_K),
        "Q4_0-mix" => TestModels.DemoLlamaQuantized(LLamaFtype.MOSTLY_Q4_0),
        "Q5_0-mix" => TestModels.DemoLlamaQuantized(LLamaFtype.MOSTLY_Q5_0),
        "Q4_1-mix" => TestModels.DemoLlamaQuantized(LLamaFtype.MOSTLY_Q4_1),
        "Q5_1-mix" => TestModels.DemoLlamaQuantized(LLamaFtype.MOSTLY_Q5_1),
        "SYN-Q4_K_M-ours" => TestModels.SyntheticMix(QuantMix.Q4_K_M),
        _ => throw new ArgumentException(name),
    };

    /// <summary>
    /// Logits within 1e-2 × the logit range at every position. Up to the first Q8 activation rounding that lands
    /// differently (float sums in another order), llama.cpp and we agree to ~1e-6 × range; after one, the difference
    /// persists through the KV cache. The random-weight synthetic model amplifies such a flip more than the trained
    /// one (up to ~1.05e-2 × range observed), so it gets 2e-2, and must agree to 1e-4 × range on the first prompt —
    /// which shows llama.cpp decodes the blocks our quantizer wrote exactly as we do. On the all-Q6_K file one such flip
    /// happens at position 7 of the third prompt with the vectorised exponentials (|Δ|/range 2.5e-7 at position 6,
    /// 3.4e-3 from position 7 on, 1.07e-2 at its peak; the failure message prints the run by position), hence 2e-2 there.
    /// </summary>
    [Theory]
    [InlineData("Q4_K_M", 1e-2)]
    [InlineData("Q5_K_M", 1e-2)]
    [InlineData("Q6_K", 2e-2)]
    [InlineData("Q4_0-mix", 1e-2)]
    [InlineData("Q5_0-mix", 1e-2)]
    [InlineData("Q4_1-mix", 1e-2)]
    [InlineData("Q5_1-mix", 1e-2)]
    [InlineData("SYN-Q4_K_M-ours", 2e-2)]
    public void LogitsAtEveryPositionMatchLlamaCpp(string name, double tolerance)
    {
        string path = PathOf(name);
        using (var f = GgufFile.Open(path))
        {
            Assert.Contains(f.Tensors, t => t.Type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K); // the file really mixes in K-quants
            if (name.StartsWith("Q4_1", StringComparison.Ordinal)) Assert.Contains(f.Tensors, t => t.Type == GgmlType.Q4_1);
            if (name.StartsWith("Q5_1", StringComparison.Ordinal)) Assert.Contains(f.Tensors, t => t.Type == GgmlType.Q5_1);
        }
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 32, KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 });
        foreach (var prompt in Prompts)
        {
            double tol = prompt == Prompts[0] && name.StartsWith("SYN", StringComparison.Ordinal) ? 1e-4 : tolerance;
            var ids = model.Tokenizer.Encode(prompt);
            OracleAssert.LogitsMatch($"{name}, prompt '{prompt[..Math.Min(20, prompt.Length)]}…'", path, model, ids, tol);
        }
    }

    /// <summary>
    /// Greedy 64-token continuations equal llama.cpp's; as in <see cref="ForwardOracleTests"/>, a continuation may part
    /// only at a genuine near-tie (within 0.5% of the logit range by the oracle's own logits), and at least one of the
    /// four must be identical throughout.
    /// </summary>
    [Theory]
    [InlineData("Q4_K_M")]
    [InlineData("Q5_K_M")]
    [InlineData("Q6_K")]
    [InlineData("Q4_0-mix")]
    [InlineData("Q5_0-mix")]
    [InlineData("Q4_1-mix")]
    [InlineData("Q5_1-mix")]
    public async Task Greedy64TokenContinuationsAreIdentical(string name)
    {
        string path = PathOf(name);
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256, KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 });
        int identical = 0;
        foreach (var prompt in new[] { "And God said", "The LORD is my shepherd", "And it came to pass", "Blessed are the poor in spirit" })
        {
            if (await OracleAssert.GreedyMatches($"{name} '{prompt}'", path, model, model.Tokenizer.Encode(prompt))) identical++;
        }
        Assert.True(identical >= 1, $"{name}: no continuation was fully identical");
    }
}
