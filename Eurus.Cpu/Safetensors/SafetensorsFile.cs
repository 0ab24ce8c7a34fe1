using System.Runtime.InteropServices;
using System.Text.Json;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Safetensors;

/// <summary>
/// A <c>.safetensors</c> file opened read-only through a memory map: an 8-byte little-endian header length, a JSON
/// header (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}</c>), then the raw data.
/// The header is parsed and validated once in <see cref="Open"/>: its length against the file, JSON size and depth
/// limits, unique names, known dtypes, shape × dtype size = byte length, every tensor inside the data section and
/// no two overlapping. Any failure is a <see cref="SafetensorsFormatException"/> naming the file and the tensor.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest accepted JSON header, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    // The header is at most three levels deep (root, tensor entry, shape); a little slack, no more.
    private const int MaxJsonDepth = 4;
    private const int MaxDims = 8;
    private const string MetadataKey = "__metadata__";

    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
    private readonly Mapping.ReadOnlyFileMapping _mapping;
    private byte* _base => _mapping.Base; // null once disposed
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName = new(StringComparer.Ordinal);
    private readonly List<SafetensorsTensorInfo> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private SafetensorsFile(string path, Mapping.ReadOnlyFileMapping mapping)
    {
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        FilePath = path;
        FileLength = mapping.Length;
        _mapping = mapping;
    }

    /// <summary>Path the file was opened from.</summary>
    public string FilePath { get; }

    /// <summary>Length of the file in bytes.</summary>
    public long FileLength { get; }

    /// <summary>Absolute offset of the data section (8 + header length).</summary>
    public long DataOffset { get; private set; }

    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>The optional <c>__metadata__</c> string map.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>
    /// Opens and validates <paramref name="path"/>. Throws <see cref="SafetensorsFormatException"/> for malformed
    /// content and <see cref="FileNotFoundException"/> / <see cref="IOException"/> for file system problems.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors reading needs a little-endian CPU.");
        var mapping = Mapping.ReadOnlyFileMapping.Open(path, 8,
            length => new SafetensorsFormatException(path, null, $"file is {length} bytes, too short for the 8-byte header length."));
        SafetensorsFile? file = null;
        try
        {
            file = new SafetensorsFile(path, mapping);
            file.Parse();
            return file;
        }
        catch
        {
            if (file is not null) file.Dispose();
            else mapping.Dispose();
            throw;
        }
    }

    private SafetensorsFormatException Error(string problem, string? tensor = null, Exception? inner = null) => new(FilePath, tensor, problem, inner);

    private void Parse()
    {
        ulong headerLength = *(ulong*)_base;
        if (headerLength < 2)
            throw Error($"header length {headerLength} is too small for a JSON object.");
        if (headerLength > MaxHeaderBytes)
            throw Error($"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit.");
        if ((long)headerLength > FileLength - 8)
            throw Error($"header length {headerLength} runs past the end of the file ({FileLength} bytes): truncated or not a safetensors file.");
        DataOffset = 8 + (long)headerLength;
        long dataLength = FileLength - DataOffset;
        var header = new ReadOnlySpan<byte>(_base + 8, (int)headerLength);
        if (header[0] != (byte)'{')
            throw Error("the header does not start with '{'; not a safetensors file.");

        // JsonDocument checks UTF-8 only when a string is read; checking up front keeps every failure typed.
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw Error("the JSON header is not valid UTF-8.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = MaxJsonDepth });
        }
        catch (JsonException e)
        {
            throw Error($"the JSON header is invalid: {e.Message}", null, e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Error("the JSON header is not an object.");
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == MetadataKey)
                {
                    ReadMetadata(entry.Value);
                    continue;
                }
                if (entry.Name.Length == 0) throw Error("a tensor has an empty name.");
                if (_byName.ContainsKey(entry.Name)) throw Error("the name appears twice in the header.", entry.Name);
                var info = ReadTensor(entry.Name, entry.Value, dataLength);
                _byName.Add(info.Name, info);
                _tensors.Add(info);
            }
        }

        // Tensors must not overlap (zero-length tensors occupy nothing).
        var sorted = _tensors.Where(t => t.ByteSize > 0).OrderBy(t => t.FileOffset).ToArray();
        for (int i = 1; i < sorted.Length; i++)
            if (sorted[i - 1].FileOffset + sorted[i - 1].ByteSize > sorted[i].FileOffset)
                throw Error($"its data overlaps tensor '{sorted[i - 1].Name}'.", sorted[i].Name);
    }

    private void ReadMetadata(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Error($"'{MetadataKey}' is not an object.");
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw Error($"'{MetadataKey}' value '{p.Name}' is not a string.");
            _metadata[p.Name] = p.Value.GetString()!;
        }
    }

    private SafetensorsTensorInfo ReadTensor(string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Error("its entry is not an object.", name);
        JsonElement? dtype = null, shape = null, offsets = null;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "dtype": dtype = p.Value; break;
                case "shape": shape = p.Value; break;
                case "data_offsets": offsets = p.Value; break;
                default: throw Error($"unexpected field '{p.Name}'.", name);
            }
        }
        if (dtype is not { ValueKind: JsonValueKind.String } dt) throw Error("'dtype' is missing or not a string.", name);
        string dtypeText = dt.GetString()!;
        if (!SafetensorsDTypeInfo.TryParse(dtypeText, out var type))
            throw Error(SafetensorsDTypeInfo.IsOtherKnown(dtypeText)
                ? $"dtype {dtypeText} is not supported (Eurus.Cpu reads F32, F16 and BF16 weights)."
                : $"unknown dtype '{dtypeText}'.", name);

        if (shape is not { ValueKind: JsonValueKind.Array } sh) throw Error("'shape' is missing or not an array.", name);
        int rank = sh.GetArrayLength();
        if (rank > MaxDims) throw Error($"has {rank} dimensions (at most {MaxDims}).", name);
        var dims = new long[rank];
        long elements = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw Error($"shape entry {i} ({d.GetRawText()}) is not a non-negative integer.", name);
            if (v != 0 && elements > long.MaxValue / v) throw Error("its element count overflows.", name);
            elements *= v;
            dims[i++] = v;
        }
        long size = SafetensorsDTypeInfo.Size(type);
        if (elements > long.MaxValue / size) throw Error("its byte size overflows.", name);
        long bytes = elements * size;

        if (offsets is not { ValueKind: JsonValueKind.Array } off || off.GetArrayLength() != 2)
            throw Error("'data_offsets' is missing or not a [begin, end] pair.", name);
        var b = off[0];
        var en = off[1];
        if (b.ValueKind != JsonValueKind.Number || !b.TryGetInt64(out long begin) || begin < 0
            || en.ValueKind != JsonValueKind.Number || !en.TryGetInt64(out long end) || end < 0)
            throw Error($"data_offsets {off.GetRawText()} are not non-negative integers.", name);
        if (end < begin) throw Error($"data_offsets [{begin}, {end}] end before they begin.", name);
        if (end > dataLength)
            throw Error($"data_offsets [{begin}, {end}] run past the end of the data section ({dataLength} bytes): the file is truncated or the offsets are wrong.", name);
        if (end - begin != bytes)
            throw Error($"shape [{string.Join(", ", dims)}] of {dtypeText} needs {bytes} bytes but data_offsets [{begin}, {end}] hold {end - begin}.", name);
        return new SafetensorsTensorInfo(this, name, type, dims, DataOffset + begin, bytes);
    }

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafetensorsTensorInfo? tensor) => _byName.TryGetValue(name, out tensor);

    /// <summary>Looks a tensor up by name; throws <see cref="SafetensorsFormatException"/> naming it when absent.</summary>
    public SafetensorsTensorInfo GetTensor(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw Error("the tensor is missing.", name);

    /// <summary>The raw bytes of row <paramref name="row"/> (a view into the mapping).</summary>
    public ReadOnlySpan<byte> GetRowData(SafetensorsTensorInfo tensor, long row)
    {
        CheckOwned(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, tensor.RowCount);
        long rowBytes = tensor.RowLength * SafetensorsDTypeInfo.Size(tensor.DType);
        if (rowBytes > int.MaxValue) throw new InvalidOperationException($"rows of '{tensor.Name}' are too large for one span.");
        return new ReadOnlySpan<byte>(_base + tensor.FileOffset + row * rowBytes, (int)rowBytes);
    }

    /// <summary>Row <paramref name="row"/> of a tensor converted to F32 into <paramref name="destination"/> (the row's length).</summary>
    public void ReadRow(SafetensorsTensorInfo tensor, long row, Span<float> destination)
    {
        var src = GetRowData(tensor, row);
        if (destination.Length != tensor.RowLength)
            throw new ArgumentException($"Destination holds {destination.Length} floats; a row of '{tensor.Name}' has {tensor.RowLength}.", nameof(destination));
        DecodeRow(tensor.DType, src, destination);
    }

    /// <summary>Converts one row of raw <paramref name="type"/> bytes to F32.</summary>
    public static void DecodeRow(SafetensorsDType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (source.Length != destination.Length * SafetensorsDTypeInfo.Size(type))
            throw new ArgumentException($"{source.Length} bytes of {type} do not make {destination.Length} values.", nameof(source));
        switch (type)
        {
            case SafetensorsDType.F32: MemoryMarshal.Cast<byte, float>(source).CopyTo(destination); break;
            case SafetensorsDType.F16: FloatConversion.HalfToSingle(MemoryMarshal.Cast<byte, Half>(source), destination); break;
            default: FloatConversion.BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(source), destination); break;
        }
    }

    /// <summary>
    /// Copies rows [<paramref name="firstRow"/>, +<paramref name="count"/>) of a tensor's raw bytes into
    /// <paramref name="destination"/> with positional file reads rather than through the map, so that streaming a
    /// whole checkpoint leaves its pages in the page cache but not in this process's resident set. Thread-safe.
    /// </summary>
    public void ReadRowsFromDisk(SafetensorsTensorInfo tensor, long firstRow, int count, Span<byte> destination)
    {
        CheckOwned(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (firstRow + count > tensor.RowCount) throw new ArgumentOutOfRangeException(nameof(count), "Rows past the end of the tensor.");
        long rowBytes = tensor.RowLength * SafetensorsDTypeInfo.Size(tensor.DType);
        long bytes = rowBytes * count;
        if (destination.Length != bytes) throw new ArgumentException($"Destination is {destination.Length} bytes; {count} rows need {bytes}.", nameof(destination));
        long offset = tensor.FileOffset + firstRow * rowBytes;
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_handle, destination, offset);
            if (n == 0) throw Error($"the file ended while reading at byte {offset}; was it truncated after opening?", tensor.Name);
            destination = destination[n..];
            offset += n;
        }
    }

    private void CheckOwned(SafetensorsTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ObjectDisposedException.ThrowIf(_base == null, this);
        if (!ReferenceEquals(tensor.File, this))
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {FilePath}.", nameof(tensor));
    }

    /// <summary>Unmaps the file. Views obtained earlier must not be used afterwards.</summary>
    public void Dispose()
    {
        if (_base == null) return;
        _mapping.Dispose();
        _handle.Dispose();
    }
}
