using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Tests.Gguf;

/// <summary>
/// A malformed-file corpus made from the demo GGUF: truncations at every structural boundary and at random
/// points, and header fields overwritten with zero, huge and negative values. Every case must raise
/// <see cref="GgufFormatException"/> quickly — no crash, hang or huge allocation.
/// </summary>
public class MalformedGgufTests
{
    private static readonly byte[] Original = File.ReadAllBytes(TestPaths.Q4);
    private static readonly Layout Fields = Layout.Walk(Original);

    /// <summary>Where each field of the header lives, found by an independent walk of the file.</summary>
    private sealed class Layout
    {
        public List<long> Boundaries { get; } = [];
        public List<(string Name, long Offset, int Size)> Fields { get; } = [];
        public long DataEnd { get; set; }

        public static Layout Walk(byte[] b)
        {
            var l = new Layout();
            long p = 0;
            ulong U64(long at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan((int)at));
            uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)at));
            void Field(string name, int size) { l.Boundaries.Add(p); l.Fields.Add((name, p, size)); p += size; }
            Field("magic", 4);
            Field("version", 4);
            long nTensors = (long)U64(p); Field("tensor_count", 8);
            long nKv = (long)U64(p); Field("kv_count", 8);
            for (int i = 0; i < nKv; i++)
            {
                long klen = (long)U64(p); Field($"kv{i}.key_len", 8); p += klen;
                uint type = U32(p); Field($"kv{i}.type", 4);
                SkipValue(type, $"kv{i}");
            }
            var ends = new List<long>();
            long dataStart;
            var offsets = new List<(long Off, long Dims0, long Dims1, uint Type)>();
            for (int i = 0; i < nTensors; i++)
            {
                long nlen = (long)U64(p); Field($"t{i}.name_len", 8); p += nlen;
                uint nd = U32(p); Field($"t{i}.n_dims", 4);
                long d0 = (long)U64(p), d1 = 1;
                for (int d = 0; d < nd; d++) { if (d == 1) d1 = (long)U64(p); Field($"t{i}.dim{d}", 8); }
                uint type = U32(p); Field($"t{i}.type", 4);
                long off = (long)U64(p); Field($"t{i}.offset", 8);
                offsets.Add((off, d0, d1, type));
            }
            l.Boundaries.Add(p);
            dataStart = (p + 31) / 32 * 32;
            foreach (var (off, d0, d1, type) in offsets)
            {
                GgmlTypeInfo.TryGetBlock((GgmlType)type, out int be, out int bb);
                long start = dataStart + off;
                l.Boundaries.Add(start);
                ends.Add(start + d0 * d1 / be * bb);
            }
            l.DataEnd = ends.Max();
            return l;

            void SkipValue(uint type, string name)
            {
                switch (type)
                {
                    case 8: { long n = (long)U64(p); Field($"{name}.str_len", 8); p += n; break; }
                    case 9:
                    {
                        uint et = U32(p); Field($"{name}.elem_type", 4);
                        long n = (long)U64(p); Field($"{name}.count", 8);
                        for (long j = 0; j < n; j++)
                        {
                            if (et == 8)
                            {
                                long sl = (long)U64(p);
                                if (j < 3 || j == n - 1) Field($"{name}.str{j}.len", 8); else p += 8;
                                p += sl;
                            }
                            else p += et switch { 0 or 1 or 7 => 1, 2 or 3 => 2, 4 or 5 or 6 => 4, _ => 8 };
                        }
                        break;
                    }
                    default: p += type switch { 0 or 1 or 7 => 1, 2 or 3 => 2, 4 or 5 or 6 => 4, _ => 8 }; break;
                }
            }
        }
    }

    private static void AssertRejected(byte[] bytes, string what)
    {
        string path = Path.Combine(Path.GetTempPath(), $"eurus-bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        try
        {
            var sw = Stopwatch.StartNew();
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var e = Record.Exception(() =>
            {
                using var f = GgufFile.Open(path);
                MistralConfig.FromGguf(f);
            });
            sw.Stop();
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            Assert.True(e is GgufFormatException, $"{what}: expected GgufFormatException, got {(e is null ? "no exception" : e.GetType().Name + ": " + e.Message)}");
            Assert.Contains(path, e!.Message);
            Assert.True(sw.ElapsedMilliseconds < 1000, $"{what}: took {sw.ElapsedMilliseconds} ms");
            Assert.True(allocated < 64L << 20, $"{what}: allocated {allocated} bytes");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheUnmodifiedFileLoads()
    {
        using var f = GgufFile.Open(TestPaths.Q4);
        MistralConfig.FromGguf(f);
        Assert.True(Fields.Fields.Count > 57 * 5);
        Assert.Equal(f.DataOffset + f.Tensors.Max(t => t.FileOffset - f.DataOffset + t.ByteSize), Fields.DataEnd);
    }

    [Fact]
    public void TruncationAtEveryBoundaryIsRejected()
    {
        int cases = 0;
        foreach (long b in Fields.Boundaries.Distinct())
            foreach (long cut in new[] { b - 1, b, b + 1 })
                if (cut >= 0 && cut < Fields.DataEnd)
                {
                    AssertRejected(Original.AsSpan(0, (int)cut).ToArray(), $"truncated at {cut}");
                    cases++;
                }
        Assert.True(cases > 500, $"only {cases} cases");
    }

    [Fact]
    public void TruncationAtRandomPointsIsRejected()
    {
        var rng = new Random(1234);
        for (int i = 0; i < 60; i++)
        {
            long cut = i < 40 ? rng.NextInt64(0, Fields.Boundaries[^1]) : rng.NextInt64(0, Fields.DataEnd);
            AssertRejected(Original.AsSpan(0, (int)cut).ToArray(), $"truncated at {cut}");
        }
    }

    public static TheoryData<string, string> Overwrites()
    {
        var d = new TheoryData<string, string>();
        foreach (var (name, _, size) in Fields.Fields)
        {
            bool interesting = name is "magic" or "version" or "tensor_count" or "kv_count"
                || name.StartsWith("kv0.") || name.StartsWith("kv14.") || name.StartsWith("kv15.") || name.StartsWith("kv16.")
                || name.StartsWith("t0.") || name.StartsWith("t56.") || name.StartsWith("t3.");
            if (!interesting) continue;
            foreach (var v in new[] { "zero", "huge", "negative", "plus-one", "max" })
                d.Add(name, v);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Overwrites))]
    public void OverwrittenFieldIsRejected(string field, string value)
    {
        var (_, offset, size) = Fields.Fields.Single(f => f.Name == field);
        var bytes = (byte[])Original.Clone();
        var span = bytes.AsSpan((int)offset, size);
        ulong old = size == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span);
        ulong v = value switch
        {
            "zero" => 0,
            "huge" => size == 8 ? 1UL << 40 : 1u << 30,
            "negative" => size == 8 ? unchecked((ulong)-5L) : unchecked((uint)-5),
            "plus-one" => old + 1,
            _ => size == 8 ? ulong.MaxValue : uint.MaxValue,
        };
        if (v == old) return; // not a modification (e.g. a type field that already is 0)
        if (size == 8) BinaryPrimitives.WriteUInt64LittleEndian(span, v); else BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)v);
        // A few overwrites describe a different but still consistent file; those must load or be rejected cleanly.
        if (IsBenign(field, value)) return;
        AssertRejected(bytes, $"{field} = {value}");
    }

    // The one overwrite that still describes a well-formed GGUF: token_type's element type int32 → float32
    // (same width). The GGUF layer must accept it; the typed accessor then rejects it by key.
    private static bool IsBenign(string field, string value)
    {
        if (field != "kv16.elem_type" || value != "plus-one") return false;
        var bytes = (byte[])Original.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)Fields.Fields.Single(f => f.Name == field).Offset), (uint)GgufValueType.Float32);
        string path = Path.Combine(Path.GetTempPath(), $"eurus-benign-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var f = GgufFile.Open(path);
            var e = Assert.Throws<GgufFormatException>(() => f.Metadata.GetInt32Array("tokenizer.ggml.token_type"));
            Assert.Contains("tokenizer.ggml.token_type", e.Message);
            return true;
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void NotAGgufFile()
    {
        AssertRejected(Encoding.ASCII.GetBytes("this is not a gguf file at all, just text......"), "text");
        AssertRejected([], "empty");
        var v1 = (byte[])Original.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(v1.AsSpan(4), 1);
        AssertRejected(v1, "version 1");
    }

    [Fact]
    public void ErrorsNameTheOffsetAndProblem()
    {
        var bytes = (byte[])Original.Clone();
        var (_, offset, _) = Fields.Fields.Single(f => f.Name == "t3.type");
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)offset), 77);
        string path = Path.Combine(Path.GetTempPath(), $"eurus-bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        try
        {
            var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path).Dispose());
            Assert.Equal(offset, e.Offset);
            Assert.Contains("unknown ggml type 77", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingFileIsAnIOException()
    {
        Assert.Throws<FileNotFoundException>(() => GgufFile.Open(Path.Combine(Path.GetTempPath(), "no-such-model.gguf")));
        Assert.ThrowsAny<IOException>(() => GgufFile.Open("/nonexistent/model.gguf"));
    }
}
