using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Gguf;

public class DemoModelTests
{
    [Theory]
    [InlineData("kjv-tiny-F32.gguf", GgmlType.F32, 0u)]
    [InlineData("kjv-tiny-Q8_0.gguf", GgmlType.Q8_0, 7u)]
    [InlineData("kjv-tiny-Q4_0.gguf", GgmlType.Q4_0, 2u)]
    public void MetadataAndTensorTable(string file, GgmlType matrixType, uint fileType)
    {
        using var f = GgufFile.Open(TestPaths.Model(file));
        var m = f.Metadata;
        Assert.Equal("llama", m.GetString("general.architecture"));
        Assert.Equal(6u, m.GetUInt32("llama.block_count"));
        Assert.Equal(256u, m.GetUInt32("llama.embedding_length"));
        Assert.Equal(8u, m.GetUInt32("llama.attention.head_count"));
        Assert.Equal(2u, m.GetUInt32("llama.attention.head_count_kv"));
        Assert.Equal(768u, m.GetUInt32("llama.feed_forward_length"));
        Assert.Equal(1e-5f, m.GetFloat32("llama.attention.layer_norm_rms_epsilon"));
        Assert.Equal(fileType, m.GetUInt32("general.file_type"));
        var tokens = m.GetStringArray("tokenizer.ggml.tokens");
        Assert.Equal(4096, tokens.Length);
        Assert.Equal(["<unk>", "<s>", "</s>"], tokens[..3]);
        Assert.Equal("<0x0A>", tokens[3 + 10]);
        Assert.Equal(4096, m.GetFloat32Array("tokenizer.ggml.scores").Length);
        Assert.Equal(4096, m.GetInt32Array("tokenizer.ggml.token_type").Length);
        Assert.Equal(57, f.Tensors.Count);

        var q = f.GetTensor("blk.3.attn_q.weight");
        Assert.Equal(matrixType, q.Type);
        Assert.Equal(new long[] { 256, 256 }, q.Dimensions);
        Assert.Equal(new long[] { 256, 64 }, f.GetTensor("blk.0.attn_k.weight").Dimensions);
        Assert.Equal(new long[] { 768, 256 }, f.GetTensor("blk.5.ffn_down.weight").Dimensions);
        Assert.Equal(new long[] { 256, 4096 }, f.GetTensor("output.weight").Dimensions);
        Assert.Equal(GgmlType.F32, f.GetTensor("blk.0.attn_norm.weight").Type);

        var config = MistralConfig.FromGguf(f);
        Assert.Equal(32, config.HeadDim);
        Assert.Equal(4, config.GroupSize);
        Assert.Equal(4096, config.Vocab);
        Assert.Null(config.SlidingWindow);
    }

    [Theory]
    [InlineData("kjv-tiny-Q8_0.gguf", 0.5f)]
    [InlineData("kjv-tiny-Q4_0.gguf", 0.5f)]
    public void QuantizedTensorsDecodeToTheF32Values(string file, float maxRelativeRms)
    {
        using var f32 = GgufFile.Open(TestPaths.F32);
        using var q = GgufFile.Open(TestPaths.Model(file));
        foreach (var t in f32.Tensors.Where(t => t.Dimensions.Count == 2))
        {
            var qt = q.GetTensor(t.Name);
            var reference = MemoryMarshal.Cast<byte, float>(f32.GetTensorData(t)).ToArray();
            var decoded = new float[t.ElementCount];
            for (long r = 0; r < t.RowCount; r++)
                RowCodec.Decode(qt.Type, q.GetRowData(qt, r), decoded.AsSpan((int)(r * t.RowLength), (int)t.RowLength));
            double err = 0, norm = 0;
            for (int i = 0; i < reference.Length; i++) { err += Math.Pow(decoded[i] - reference[i], 2); norm += reference[i] * (double)reference[i]; }
            double rel = Math.Sqrt(err / norm);
            // Q8_0 error is ~0.5% of the signal, Q4_0 ~10%.
            Assert.True(rel < (qt.Type == GgmlType.Q8_0 ? 0.01 : 0.15) * maxRelativeRms * 2, $"{t.Name}: relative RMS error {rel}");
            Assert.True(rel > 0, $"{t.Name}: a quantized tensor cannot equal the F32 one exactly");
        }
    }

    [Theory]
    [InlineData("kjv-tiny-Q8_0.gguf")]
    [InlineData("kjv-tiny-Q4_0.gguf")]
    public void OurQuantizationIsByteIdenticalToLlamaQuantize(string file)
    {
        using var f32 = GgufFile.Open(TestPaths.F32);
        using var q = GgufFile.Open(TestPaths.Model(file));
        int checkedTensors = 0;
        foreach (var t in f32.Tensors.Where(t => t.Dimensions.Count == 2))
        {
            var qt = q.GetTensor(t.Name);
            var ours = new byte[qt.ByteSize];
            int rowBytes = (int)qt.RowBytes;
            for (long r = 0; r < t.RowCount; r++)
                RowCodec.Encode(qt.Type, MemoryMarshal.Cast<byte, float>(f32.GetRowData(t, r)), ours.AsSpan((int)(r * rowBytes), rowBytes));
            var theirs = q.GetTensorData(qt);
            int firstDiff = ours.AsSpan().CommonPrefixLength(theirs);
            Assert.True(firstDiff == ours.Length, $"{t.Name}: first differing byte at {firstDiff} of {ours.Length}");
            checkedTensors++;
        }
        Assert.Equal(6 * 7 + 2, checkedTensors);
    }
}
