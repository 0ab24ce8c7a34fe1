using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Tests.Oracle;

namespace Eurus.Cpu.Tests.Forward;

/// <summary>The whole forward pass against llama.cpp (through LLamaSharp) on the same GGUF files.</summary>
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
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 32 });
        int vocab = model.Config.Vocab;
        foreach (var prompt in Prompts)
        {
            var ids = model.Tokenizer.Encode(prompt);
            Assert.Equal(LlamaOracle.Tokenize(path, prompt), ids);
            var expected = LlamaOracle.Logits(path, ids, 256);
            using var session = model.CreateSession();
            var ours = new float[ids.Length * vocab];
            session.EvaluateAll(ids, ours);
            for (int p = 0; p < ids.Length; p++)
            {
                var e = expected[p];
                var o = ours.AsSpan(p * vocab, vocab);
                float range = e.Max() - e.Min();
                float maxDiff = 0;
                for (int i = 0; i < vocab; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(e[i] - o[i]));
                Assert.True(maxDiff <= tolerance * range,
                    $"{name}, prompt '{prompt[..Math.Min(20, prompt.Length)]}…', position {p}: max |Δ| {maxDiff} > {tolerance} × range {range}");
            }
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
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256 });
        int identical = 0;
        foreach (var prompt in new[] { "And God said", "The LORD is my shepherd", "And it came to pass", "Blessed are the poor in spirit" })
        {
            var ids = model.Tokenizer.Encode(prompt);
            var expected = LlamaOracle.Greedy(path, ids, 64, 256);
            using var session = model.CreateSession();
            var ours = new List<int>();
            await foreach (var t in session.GenerateTokensAsync(ids, SamplingSettingsGreedy(64)))
                if (t.Id >= 0) ours.Add(t.Id);
            Assert.Equal(64, ours.Count);
            int split = Enumerable.Range(0, 64).FirstOrDefault(i => ours[i] != expected[i], -1);
            if (split < 0) { identical++; continue; }
            var prefix = ids.Concat(expected.Take(split)).ToArray();
            var row = LlamaOracle.Logits(path, prefix, 256)[^1];
            float range = row.Max() - row.Min();
            float gap = row[expected[split]] - row[ours[split]];
            Assert.True(gap <= 5e-3f * range,
                $"{name} '{prompt}': parted from llama.cpp at generated token {split} where its margin was {gap} (range {range}): not a near-tie");
        }
        Assert.True(identical >= 1, $"{name}: no continuation was fully identical");
    }

    private static Eurus.Cpu.Sampling.SamplingSettings SamplingSettingsGreedy(int n) =>
        Eurus.Cpu.Sampling.SamplingSettings.Greedy with { MaxTokens = n, StopAtEos = false };
}
