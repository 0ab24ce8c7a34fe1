using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Tests.HuggingFace;

public class HfModelConfigTests
{
    [Fact]
    public void ConfigJsonGivesTheSameMistralConfigAsTheGguf()
    {
        var hf = HfModelConfig.Read(TestPaths.Model("kjv-tiny-hf"));
        using var g = GgufFile.Open(TestPaths.F32);
        var expected = MistralConfig.FromGguf(g) with { SlidingWindow = 256 };
        Assert.Equal(expected, hf.Config);
        Assert.False(hf.TiedEmbeddings);
        Assert.Equal(1, hf.BosTokenId);
        Assert.Equal(2, hf.EosTokenId);
    }

    [Theory]
    [InlineData("""{"architectures": ["GPT2LMHeadModel"]}""", "not supported")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": 256}""", "num_attention_heads")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": 250, "num_attention_heads": 8}""", "multiple")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 3}""", "multiple")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": "256"}""", "not an integer")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": -1}""", "out of range")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": 256, "num_attention_heads": 8, "rope_scaling": {"type": "linear"}}""", "rope_scaling")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": 256, "num_attention_heads": 8, "hidden_act": "gelu"}""", "hidden_act")]
    [InlineData("""{"architectures": ["MistralForCausalLM"], "hidden_size": 256, "num_attention_heads": 8, "sliding_window": 0}""", "sliding_window")]
    [InlineData("""[1, 2]""", "not an object")]
    [InlineData("""{"architectures": """, "invalid JSON")]
    public void BadConfigsAreRejected(string json, string contains)
    {
        using var dir = TestPaths.Temp();
        File.WriteAllText(dir.File("config.json"), json);
        var e = Assert.Throws<HuggingFaceFormatException>(() => HfModelConfig.Read(dir.Path));
        Assert.Contains(contains, e.Message);
        Assert.EndsWith("config.json", e.FilePath);
    }

    [Fact]
    public void NullSlidingWindowMeansFullAttention()
    {
        using var dir = TestPaths.Temp();
        string json = File.ReadAllText(TestPaths.Model("kjv-tiny-hf/config.json")).Replace("\"sliding_window\": 256", "\"sliding_window\": null");
        File.WriteAllText(dir.File("config.json"), json);
        Assert.Null(HfModelConfig.Read(dir.Path).Config.SlidingWindow);
    }
}
