using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Tests.Model;

public class SyntheticModelTests
{
    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.F16)]
    public void TinyModelIsACompleteLlamaFile(GgmlType type)
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("tiny.gguf");
        var o = SyntheticModelOptions.Tiny with { WeightType = type };
        SyntheticModel.Write(path, o);
        using var f = GgufFile.Open(path);
        var c = MistralConfig.FromGguf(f);
        Assert.Equal((o.Dim, o.Layers, o.Heads, o.KvHeads, o.FeedForward, o.Vocab), (c.Dim, c.Layers, c.Heads, c.KvHeads, c.FeedForward, c.Vocab));
        Assert.Equal(type, f.GetTensor("blk.1.ffn_up.weight").Type);
        Assert.Equal(GgmlType.F32, f.GetTensor("blk.1.ffn_norm.weight").Type);
        Assert.Equal(o.Vocab, f.Metadata.GetStringArray("tokenizer.ggml.tokens").Length);
        Assert.Contains("[INST]", f.Metadata.GetString("tokenizer.chat_template"));
    }

    [Fact]
    public void SameSeedSameBytesOtherSeedOtherBytes()
    {
        using var tmp = TestPaths.Temp();
        SyntheticModel.Write(tmp.File("a.gguf"), SyntheticModelOptions.Tiny with { Seed = 5 });
        SyntheticModel.Write(tmp.File("b.gguf"), SyntheticModelOptions.Tiny with { Seed = 5 });
        SyntheticModel.Write(tmp.File("c.gguf"), SyntheticModelOptions.Tiny with { Seed = 6 });
        Assert.Equal(File.ReadAllBytes(tmp.File("a.gguf")), File.ReadAllBytes(tmp.File("b.gguf")));
        Assert.NotEqual(File.ReadAllBytes(tmp.File("a.gguf")), File.ReadAllBytes(tmp.File("c.gguf")));
    }

    [Fact]
    public void WeightScaleIsOneOverSqrtFanIn()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("s.gguf");
        var o = SyntheticModelOptions.Tiny with { Dim = 128, Heads = 4, KvHeads = 1, FeedForward = 256 };
        SyntheticModel.Write(path, o);
        using var f = GgufFile.Open(path);
        var w = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.GetTensorData(f.GetTensor("blk.0.ffn_down.weight")));
        double mean = 0, sq = 0;
        foreach (float v in w) { mean += v; sq += v * (double)v; }
        mean /= w.Length;
        double std = Math.Sqrt(sq / w.Length - mean * mean);
        Assert.InRange(std, 0.9 / Math.Sqrt(256), 1.1 / Math.Sqrt(256));
    }

    [Fact]
    public void VocabularyCanComeFromAnotherFile()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("v.gguf");
        SyntheticModel.Write(path, SyntheticModelOptions.Tiny with { VocabularyFrom = TestPaths.Q8 });
        using var f = GgufFile.Open(path);
        using var src = GgufFile.Open(TestPaths.Q8);
        Assert.Equal(src.Metadata.GetStringArray("tokenizer.ggml.tokens"), f.Metadata.GetStringArray("tokenizer.ggml.tokens"));
        Assert.Equal(4096, MistralConfig.FromGguf(f).Vocab);
    }

    [Fact]
    public void ConfigRejectsUnsupportedTensorTypesByName()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("k.gguf");
        // Rewrite the tiny model with one tensor declared as Q3_K (a type the engine does not run yet).
        SyntheticModel.Write(path, SyntheticModelOptions.Tiny with { Dim = 256, Heads = 4, KvHeads = 2 });
        string bad = tmp.File("k2.gguf");
        using (var f = GgufFile.Open(path))
        {
            var w = new GgufWriter(bad);
            foreach (var (k, v) in f.Metadata) w.Add(k, v);
            foreach (var t in f.Tensors)
            {
                var bytes = f.GetTensorData(t).ToArray();
                if (t.Name == "blk.0.attn_q.weight")
                    w.AddTensor(t.Name, GgmlType.Q3_K, t.Dimensions.ToArray(), new byte[GgmlTypeInfo.RowBytes(GgmlType.Q3_K, t.RowLength) * t.RowCount]);
                else
                    w.AddTensor(t.Name, t.Type, t.Dimensions.ToArray(), bytes);
            }
            w.Complete();
        }
        using var g = GgufFile.Open(bad);
        var e = Assert.Throws<GgufFormatException>(() => MistralConfig.FromGguf(g));
        Assert.Contains("Q3_K", e.Message);
        Assert.Contains("blk.0.attn_q.weight", e.Message);
    }
}
