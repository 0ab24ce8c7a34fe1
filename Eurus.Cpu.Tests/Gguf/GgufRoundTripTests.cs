using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Gguf;

public class GgufRoundTripTests
{
    private static float[] Ramp(int n, float scale = 0.01f) => Enumerable.Range(0, n).Select(i => MathF.Sin(i * 0.37f) * scale * (1 + i % 7)).ToArray();

    [Fact]
    public void EveryMetadataKindRoundTrips()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("meta.gguf");
        var w = new GgufWriter(path);
        w.Add("u8", (byte)200).Add("i8", (sbyte)-100).Add("u16", (ushort)60000).Add("i16", (short)-30000)
         .Add("u32", 4000000000u).Add("i32", -2000000000).Add("f32", 3.25f).Add("bool", true)
         .Add("str", "héllo ▁ 日本 🙂").Add("empty", "").Add("u64", ulong.MaxValue).Add("i64", long.MinValue).Add("f64", Math.PI)
         .Add("arr.u8", new byte[] { 1, 2, 3 }).Add("arr.i32", new[] { -1, 0, 1 }).Add("arr.f32", new[] { 0.5f, -2f })
         .Add("arr.str", new[] { "a", "", "▁b" }).Add("arr.bool", new[] { true, false }).Add("arr.f64", new[] { 1.5, 2.5 })
         .Add("arr.u64", new ulong[] { 7 }).Add("arr.empty", Array.Empty<int>())
         .Add("arr.nested", GgufValue.Array(new[] { GgufValue.Array(new[] { 1, 2 }), GgufValue.Array(new[] { "x" }) }));
        w.Complete();

        using var f = GgufFile.Open(path);
        var m = f.Metadata;
        Assert.Equal(3u, f.Version);
        Assert.Equal((byte)200, m["u8"].Value);
        Assert.Equal((sbyte)-100, m["i8"].Value);
        Assert.Equal((ushort)60000, m["u16"].Value);
        Assert.Equal((short)-30000, m["i16"].Value);
        Assert.Equal(4000000000u, m.GetUInt32("u32"));
        Assert.Equal(-2000000000L, m.GetInt64("i32"));
        Assert.Equal(3.25f, m.GetFloat32("f32"));
        Assert.True(m.GetBool("bool"));
        Assert.Equal("héllo ▁ 日本 🙂", m.GetString("str"));
        Assert.Equal("", m.GetString("empty"));
        Assert.Equal(ulong.MaxValue, m["u64"].Value);
        Assert.Equal(long.MinValue, m.GetInt64("i64"));
        Assert.Equal(Math.PI, m["f64"].Value);
        Assert.Equal(new[] { 1, 2, 3 }, m.GetInt32Array("arr.u8"));
        Assert.Equal(new[] { -1, 0, 1 }, m.GetInt32Array("arr.i32"));
        Assert.Equal(new[] { 0.5f, -2f }, m.GetFloat32Array("arr.f32"));
        Assert.Equal(new[] { "a", "", "▁b" }, m.GetStringArray("arr.str"));
        Assert.Equal(new[] { true, false }, (bool[])m["arr.bool"].Value);
        Assert.Equal(new[] { 1.5, 2.5 }, (double[])m["arr.f64"].Value);
        Assert.Equal(new ulong[] { 7 }, (ulong[])m["arr.u64"].Value);
        Assert.Empty(m.GetInt32Array("arr.empty"));
        var nested = (GgufValue[])m["arr.nested"].Value;
        Assert.Equal(new[] { 1, 2 }, (int[])nested[0].Value);
        Assert.Equal(new[] { "x" }, (string[])nested[1].Value);
        Assert.Equal(["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "empty", "u64", "i64", "f64",
                      "arr.u8", "arr.i32", "arr.f32", "arr.str", "arr.bool", "arr.f64", "arr.u64", "arr.empty", "arr.nested"], m.Keys);
        Assert.Empty(f.Tensors);
    }

    [Fact]
    public void TypedAccessorsNameTheKeyOnError()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("m.gguf");
        new GgufWriter(path).Add("s", "text").Add("neg", -5).Complete();
        using var f = GgufFile.Open(path);
        var e1 = Assert.Throws<GgufFormatException>(() => f.Metadata.GetUInt32("missing.key"));
        Assert.Contains("missing.key", e1.Message);
        var e2 = Assert.Throws<GgufFormatException>(() => f.Metadata.GetUInt32("s"));
        Assert.Contains("'s'", e2.Message);
        Assert.Contains("String", e2.Message);
        var e3 = Assert.Throws<GgufFormatException>(() => f.Metadata.GetUInt32("neg"));
        Assert.Contains("neg", e3.Message);
        Assert.Throws<GgufFormatException>(() => f.Metadata.GetStringArray("s"));
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void EveryTensorTypeRoundTrips(GgmlType type)
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("t.gguf");
        const int cols = 96, rows = 5;
        var data = Ramp(cols * rows);
        var expected = new byte[GgmlTypeInfo.RowBytes(type, cols) * rows];
        for (int r = 0; r < rows; r++)
            RowCodec.Encode(type, data.AsSpan(r * cols, cols), expected.AsSpan(r * expected.Length / rows, expected.Length / rows));
        var w = new GgufWriter(path);
        w.Add("general.architecture", "test");
        w.AddTensor("small", [3], new[] { 1f, 2f, 3f });
        w.AddTensor("matrix", type, [cols, rows], sink =>
        {
            // Stream it row by row, as the 7B writer does.
            for (int r = 0; r < rows; r++) sink.Write(expected.AsSpan(r * expected.Length / rows, expected.Length / rows));
        });
        w.Complete();

        using var f = GgufFile.Open(path);
        Assert.Equal(2, f.Tensors.Count);
        var t = f.GetTensor("matrix");
        Assert.Equal(type, t.Type);
        Assert.Equal(new long[] { cols, rows }, t.Dimensions);
        Assert.Equal(cols, t.RowLength);
        Assert.Equal(rows, t.RowCount);
        Assert.Equal(0, t.FileOffset % 32);
        Assert.Equal(expected, f.GetTensorData(t).ToArray());
        Assert.Equal(new[] { 1f, 2f, 3f }, MemoryMarshal.Cast<byte, float>(f.GetTensorData(f.GetTensor("small"))).ToArray());

        // Decoded values are within the type's rounding error of the source.
        var decoded = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            RowCodec.Decode(type, f.GetRowData(t, r), decoded);
            float tol = type switch { GgmlType.F32 => 0, GgmlType.F16 => 1e-4f, GgmlType.BF16 => 1e-3f, GgmlType.Q8_0 => 1e-3f, _ => 1e-2f };
            for (int j = 0; j < cols; j++) Assert.True(MathF.Abs(decoded[j] - data[r * cols + j]) <= tol, $"{type} row {r} col {j}");
        }
    }

    [Fact]
    public void TypedRowViewsMatchBlockSizes()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("t.gguf");
        var data = Ramp(64);
        new GgufWriter(path)
            .AddTensor("q8", GgmlType.Q8_0, [64], QuantReference.QuantizeQ8_0(data))
            .AddTensor("q4", GgmlType.Q4_0, [64], QuantReference.QuantizeQ4_0(data))
            .Complete();
        using var f = GgufFile.Open(path);
        Assert.Equal(2, f.GetRow<BlockQ8_0>(f.GetTensor("q8"), 0).Length);
        Assert.Equal(2, f.GetRow<BlockQ4_0>(f.GetTensor("q4"), 0).Length);
        Assert.Throws<ArgumentException>(() => f.GetRow<BlockQ4_0>(f.GetTensor("q8"), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => f.GetRowData(f.GetTensor("q8"), 1));
    }

    [Fact]
    public void CustomAlignmentIsHonoured()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("a.gguf");
        new GgufWriter(path, alignment: 64).AddTensor("a", [5], new float[5]).AddTensor("b", [7], new float[7]).Complete();
        using var f = GgufFile.Open(path);
        Assert.Equal(64u, f.Alignment);
        Assert.All(f.Tensors, t => Assert.Equal(0, t.FileOffset % 64));
    }

    [Fact]
    public void WriterIsAtomicWhenAProducerFails()
    {
        using var tmp = TestPaths.Temp();
        string path = tmp.File("x.gguf");
        File.WriteAllText(path, "previous");
        var w = new GgufWriter(path).AddTensor("bad", GgmlType.F32, [4], sink => sink.Write(new float[3]));
        Assert.Throws<InvalidOperationException>(() => w.Complete());
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(tmp.Path));
        Assert.Throws<ArgumentException>(() => new GgufWriter(path).AddTensor("t", GgmlType.Q8_0, [33], new byte[0]));
        Assert.Throws<ArgumentException>(() => new GgufWriter(path).Add("k", 1).Add("k", 2));
    }
}
