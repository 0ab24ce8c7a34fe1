namespace Eurus.Cpu.Tests.Oracle;

/// <summary>Smoke tests of the llama.cpp oracle itself.</summary>
public class LlamaOracleTests
{
    [Fact]
    public void GreedyIsDeterministicAndLogitsCoverTheVocabulary()
    {
        int[] prompt = LlamaOracle.Tokenize(TestPaths.F32, "And God said");
        Assert.Equal(1, prompt[0]);
        Assert.True(prompt.Length > 1);

        int[] first = LlamaOracle.Greedy(TestPaths.F32, prompt, 16);
        int[] second = LlamaOracle.Greedy(TestPaths.F32, prompt, 16);
        Assert.Equal(16, first.Length);
        Assert.Equal(first, second);
        Assert.All(first, t => Assert.InRange(t, 0, 4095));

        float[][] rows = LlamaOracle.Logits(TestPaths.F32, prompt);
        Assert.Equal(prompt.Length, rows.Length);
        Assert.All(rows, r => Assert.Equal(4096, r.Length));
        Assert.All(rows, r => Assert.All(r, v => Assert.True(float.IsFinite(v))));

        // The last row's arg-max is the first greedy token.
        float[] last = rows[^1];
        Assert.Equal(first[0], Array.IndexOf(last, last.Max()));
    }
}
