using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Tests.Oracle;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>llama.cpp (LLamaSharp) loads the GGUF files our converter writes and computes the same logits as our engine.</summary>
public class HfOracleTests
{
    [Theory]
    [InlineData(GgmlType.F32, 1e-3)]
    [InlineData(GgmlType.Q8_0, 1e-2)]
    [InlineData(GgmlType.Q4_0, 1e-2)]
    public void LlamaCppRunsTheConvertedFileWithOurLogits(GgmlType type, double tolerance)
    {
        string path = HfTestModels.Converted(type);
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 32 });
        int vocab = model.Config.Vocab;
        foreach (var prompt in HfConversionTests.Prompts)
        {
            var ids = model.Tokenizer.Encode(prompt);
            Assert.Equal(LlamaOracle.Tokenize(path, prompt), ids);
            var expected = LlamaOracle.Logits(path, ids, 256);
            var ours = HfConversionTests.Logits(model, ids);
            for (int p = 0; p < ids.Length; p++)
            {
                var e = expected[p];
                var o = ours.AsSpan(p * vocab, vocab);
                float range = e.Max() - e.Min();
                float maxDiff = 0;
                for (int i = 0; i < vocab; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(e[i] - o[i]));
                Assert.True(maxDiff <= tolerance * range, $"{type} '{prompt[..12]}…' position {p}: max |Δ| {maxDiff} > {tolerance} × range {range}");
            }
        }
        var prompt0 = model.Tokenizer.Encode("And God said");
        Assert.Equal(64, LlamaOracle.Greedy(path, prompt0, 64, 256).Length);
    }
}
