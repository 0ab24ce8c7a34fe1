using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Tests.Oracle;

namespace Eurus.Cpu.Tests.Forward;

/// <summary>
/// The whole forward pass against llama.cpp (through LLamaSharp) on the same GGUF files, with an F32 KV cache on both
/// sides (the tolerances were measured so; llama.cpp's default F16 cache is <see cref="DefaultsOracleTests"/>).
/// </summary>
public class ForwardOracleTests
{
    private static readonly string[] Prompts =
    [
        "And God said",
        "In the beginning God created the heaven and the earth. And the earth was without form, and void;",
        "Jesus wept. 12345 é — [INST] hello [/INST]\n\nThe LORD is my shepherd; I shall not want.",
        string.Concat(Enumerable.Repeat("Blessed are the meek: for they shall inherit the earth. ", 12)),
    ];

    public static TheoryData<string, double> Files() => new()
    {
        { "F32", 1e-3 },
        { "F16", 1e-2 },
        { "Q8_0", 1e-2 },
        { "Q4_0", 1e-2 },
        { "GQA-F32", 1e-3 },
        { "GQA-Q8_0", 1e-2 },
        { "GQA-Q4_0", 1e-2 },
    };

    internal static string PathOf(string name) => name switch
    {
        "F32" => TestPaths.F32,
        "F16" => TestModels.DemoF16,
        "Q8_0" => TestPaths.Q8,
        "Q4_0" => TestPaths.Q4,
        "GQA-F32" => TestModels.SyntheticGqa(GgmlType.F32),
        "GQA-Q8_0" => TestModels.SyntheticGqa(GgmlType.Q8_0),
        "GQA-Q4_0" => TestModels.SyntheticGqa(GgmlType.Q4_0),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void LogitsAtEveryPositionMatchLlamaCpp(string name, double tolerance)
    {
        string path = PathOf(name);
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 32, KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 });
        foreach (var prompt in Prompts)
        {
            var ids = model.Tokenizer.Encode(prompt);
            Assert.Equal(LlamaOracle.Tokenize(path, prompt), ids);
            OracleAssert.LogitsMatch($"{name}, prompt '{prompt[..Math.Min(20, prompt.Length)]}…'", path, model, ids, tolerance);
        }
    }

    /// <summary>
    /// Greedy continuations of 64 tokens equal llama.cpp's. Quantized models are not bit-exact (llama.cpp's SIMD sums
    /// and exp approximations differ in the last ulp, which can flip an activation's Q8 rounding), so a continuation
    /// may part at a genuine near-tie: there the oracle's own logits for its token and ours must lie within 0.5% of
    /// the logit range. Every file must also give at least one fully identical continuation.
    /// </summary>
    [Theory]
    [InlineData("F32")]
    [InlineData("Q8_0")]
    [InlineData("Q4_0")]
    [InlineData("F16")]
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
