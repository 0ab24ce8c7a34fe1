using System.Runtime.InteropServices;
using System.Text;

namespace Eurus.Cpu.Gguf;

/// <summary>
/// Writes a GGUF v3 file. Metadata and tensor declarations are collected first; <see cref="Complete"/> then writes
/// the header and streams each tensor's data through its producer, one tensor at a time, so a 7B file never
/// needs 7B floats in memory. Output goes to a temporary file that is renamed over the target only on success.
/// </summary>
public sealed class GgufWriter : IDisposable
{
    private readonly string _path;
    private readonly uint _alignment;
    private readonly List<(string Key, GgufValue Value)> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);
    private bool _completed;

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Dims, long Bytes, Action<GgufTensorSink> Produce);

    /// <summary>Creates a writer for <paramref name="path"/> with the given data alignment (a power of two).</summary>
    public GgufWriter(string path, uint alignment = GgufFile.DefaultAlignment)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) throw new ArgumentException("Alignment must be a power of two.", nameof(alignment));
        _path = path;
        _alignment = alignment;
        if (alignment != GgufFile.DefaultAlignment) Add("general.alignment", GgufValue.Scalar(alignment));
    }

    /// <summary>Adds a metadata pair. Keys must be unique.</summary>
    public GgufWriter Add(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_keys.Add(key)) throw new ArgumentException($"Duplicate metadata key '{key}'.", nameof(key));
        _metadata.Add((key, value));
        return this;
    }

    /// <summary>Adds a scalar metadata pair (<c>uint</c>, <c>float</c>, <c>string</c>, <c>bool</c>, …).</summary>
    public GgufWriter Add(string key, object scalar) => Add(key, scalar as GgufValue ?? (scalar is Array a ? GgufValue.Array(a) : GgufValue.Scalar(scalar)));

    /// <summary>
    /// Declares a tensor. <paramref name="dims"/> are in ggml order (row length first). <paramref name="produce"/> is
    /// called once during <see cref="Complete"/> and must write exactly the tensor's byte size to the sink.
    /// </summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dims, Action<GgufTensorSink> produce)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dims);
        ArgumentNullException.ThrowIfNull(produce);
        if (dims.Length is 0 or > GgufFile.MaxDims) throw new ArgumentException("A tensor has 1 to 4 dimensions.", nameof(dims));
        if (dims.Any(d => d <= 0)) throw new ArgumentException("Dimensions must be positive.", nameof(dims));
        if (!_tensorNames.Add(name)) throw new ArgumentException($"Duplicate tensor '{name}'.", nameof(name));
        long rowBytes = GgmlTypeInfo.RowBytes(type, dims[0]);
        long rows = 1;
        for (int i = 1; i < dims.Length; i++) rows = checked(rows * dims[i]);
        _tensors.Add(new PendingTensor(name, type, (long[])dims.Clone(), checked(rowBytes * rows), produce));
        return this;
    }

    /// <summary>Declares a tensor whose bytes are already in memory.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dims, byte[] data) =>
        AddTensor(name, type, dims, sink => sink.Write(data));

    /// <summary>Declares an F32 tensor from floats.</summary>
    public GgufWriter AddTensor(string name, long[] dims, float[] data) =>
        AddTensor(name, GgmlType.F32, dims, sink => sink.Write(MemoryMarshal.AsBytes(data.AsSpan())));

    /// <summary>Writes the file: header, tensor infos, padding, then each tensor's data; renames into place.</summary>
    public void Complete()
    {
        if (_completed) throw new InvalidOperationException("The file was already written.");
        _completed = true;
        string dir = Path.GetDirectoryName(Path.GetFullPath(_path))!;
        string tmp = Path.Combine(dir, $".{Path.GetFileName(_path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            using (var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(GgufFile.Magic);
                w.Write(3u);
                w.Write((ulong)_tensors.Count);
                w.Write((ulong)_metadata.Count);
                foreach (var (key, value) in _metadata)
                {
                    WriteString(w, key);
                    w.Write((uint)value.Type);
                    WriteValue(w, value);
                }
                long offset = 0;
                var offsets = new long[_tensors.Count];
                for (int i = 0; i < _tensors.Count; i++)
                {
                    var t = _tensors[i];
                    WriteString(w, t.Name);
                    w.Write((uint)t.Dims.Length);
                    foreach (long d in t.Dims) w.Write((ulong)d);
                    w.Write((uint)t.Type);
                    w.Write((ulong)offset);
                    offsets[i] = offset;
                    offset = GgufFile.AlignUp(offset + t.Bytes, _alignment);
                }
                w.Flush();
                Pad(fs, _alignment);
                long dataStart = fs.Position;
                for (int i = 0; i < _tensors.Count; i++)
                {
                    var t = _tensors[i];
                    Pad(fs, _alignment);
                    if (fs.Position - dataStart != offsets[i]) throw new InvalidOperationException("Internal error: tensor offset mismatch.");
                    var sink = new GgufTensorSink(fs, t.Name, t.Bytes);
                    t.Produce(sink);
                    sink.CheckComplete();
                }
                Pad(fs, _alignment);
                fs.Flush(flushToDisk: false);
            }
            File.Move(tmp, _path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static void Pad(Stream s, long alignment)
    {
        long pad = GgufFile.AlignUp(s.Position, alignment) - s.Position;
        for (long i = 0; i < pad; i++) s.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        if (v.Type == GgufValueType.Array)
        {
            w.Write((uint)v.ElementType);
            w.Write((ulong)((Array)v.Value).LongLength);
            WriteArrayBody(w, v);
            return;
        }
        switch (v.Value)
        {
            case byte x: w.Write(x); break;
            case sbyte x: w.Write(x); break;
            case ushort x: w.Write(x); break;
            case short x: w.Write(x); break;
            case uint x: w.Write(x); break;
            case int x: w.Write(x); break;
            case float x: w.Write(x); break;
            case bool x: w.Write(x ? (byte)1 : (byte)0); break;
            case string x: WriteString(w, x); break;
            case ulong x: w.Write(x); break;
            case long x: w.Write(x); break;
            case double x: w.Write(x); break;
            default: throw new InvalidOperationException($"Cannot write {v.Value.GetType()}.");
        }
    }

    private static void WriteArrayBody(BinaryWriter w, GgufValue v)
    {
        switch (v.Value)
        {
            case string[] s: foreach (var x in s) WriteString(w, x); break;
            case bool[] b: foreach (var x in b) w.Write(x ? (byte)1 : (byte)0); break;
            case GgufValue[] nested:
                foreach (var x in nested) WriteValue(w, x);
                break;
            case byte[] a: w.Write(a); break;
            case sbyte[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case ushort[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case short[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case uint[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case int[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case float[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case ulong[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case long[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case double[] a: w.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            default: throw new InvalidOperationException($"Cannot write {v.Value.GetType()}.");
        }
    }

    /// <summary>Deletes nothing on disk (the temp file is removed by <see cref="Complete"/> on failure); marks the writer used.</summary>
    public void Dispose() => _completed = true;
}

/// <summary>Receives one tensor's bytes during <see cref="GgufWriter.Complete"/>; checks the exact length.</summary>
public sealed class GgufTensorSink
{
    private readonly Stream _stream;
    private readonly string _name;
    private readonly long _expected;
    private long _written;

    internal GgufTensorSink(Stream stream, string name, long expected)
    {
        _stream = stream;
        _name = name;
        _expected = expected;
    }

    /// <summary>Appends bytes of the tensor.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (_written + bytes.Length > _expected)
            throw new InvalidOperationException($"Tensor '{_name}' producer wrote more than its {_expected} bytes.");
        _stream.Write(bytes);
        _written += bytes.Length;
    }

    /// <summary>Appends floats of an F32 tensor.</summary>
    public void Write(ReadOnlySpan<float> values) => Write(MemoryMarshal.AsBytes(values));

    internal void CheckComplete()
    {
        if (_written != _expected)
            throw new InvalidOperationException($"Tensor '{_name}' producer wrote {_written} bytes, expected {_expected}.");
    }
}
