namespace Eurus.Cpu.Gguf;

/// <summary>
/// A GGUF file opened read-only through a memory map. The whole header (metadata, tensor infos) is parsed and
/// validated once in <see cref="Open"/>; tensor data is never copied: <see cref="GetTensorData"/> and
/// <see cref="GetRow{T}"/> return views into the mapping. Views are valid until the file is disposed.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>The magic number, "GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>Default data alignment when <c>general.alignment</c> is absent.</summary>
    public const uint DefaultAlignment = 32;

    // Limits well above any real model, so that a hostile count fails fast instead of allocating.
    internal const long MaxTensors = 1 << 20;
    internal const long MaxMetadata = 1 << 20;
    internal const long MaxArrayElements = 1 << 26;
    internal const long MaxKeyLength = 65535;
    internal const long MaxNameLength = 1024;
    internal const int MaxArrayDepth = 3;
    internal const int MaxDims = 4;

    private readonly Mapping.ReadOnlyFileMapping _mapping;
    private byte* _base => _mapping.Base; // null once disposed
    private readonly Dictionary<string, GgufTensorInfo> _byName;

    private GgufFile(string path, Mapping.ReadOnlyFileMapping mapping)
    {
        FilePath = path;
        FileLength = mapping.Length;
        _mapping = mapping;
        _byName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        Metadata = null!;
        Tensors = null!;
    }

    /// <summary>Path the file was opened from.</summary>
    public string FilePath { get; }

    /// <summary>Length of the file in bytes.</summary>
    public long FileLength { get; }

    /// <summary>GGUF version (2 or 3).</summary>
    public uint Version { get; private set; }

    /// <summary>Data alignment (from <c>general.alignment</c>, default 32).</summary>
    public uint Alignment { get; private set; }

    /// <summary>Absolute offset of the data section.</summary>
    public long DataOffset { get; private set; }

    /// <summary>Metadata key/values in file order.</summary>
    public GgufMetadata Metadata { get; private set; }

    /// <summary>Tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; private set; }

    /// <summary>
    /// Opens and validates <paramref name="path"/>. Throws <see cref="GgufFormatException"/> for any malformed content
    /// and <see cref="FileNotFoundException"/> / <see cref="IOException"/> for file system problems.
    /// </summary>
    public static GgufFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("GGUF reading needs a little-endian CPU.");
        var mapping = Mapping.ReadOnlyFileMapping.Open(path, 24,
            length => new GgufFormatException(path, 0, $"file is {length} bytes, too short for a GGUF header (24 bytes)."));
        GgufFile? file = null;
        try
        {
            file = new GgufFile(path, mapping);
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

    private void Parse()
    {
        var c = new GgufCursor(_base, FileLength, FilePath);

        // Header: magic, version, tensor count, metadata count.
        uint magic = c.Read<uint>("magic");
        if (magic != Magic)
            throw c.Error($"bad magic 0x{magic:X8}; not a GGUF file.", 0);
        long versionAt = c.Position;
        uint version = c.Read<uint>("version");
        if (version == 1)
            throw c.Error("GGUF version 1 is not supported (only 2 and 3).", versionAt);
        if (version is 0x02000000 or 0x03000000)
            throw c.Error("big-endian GGUF files are not supported.", versionAt);
        if (version is not (2 or 3))
            throw c.Error($"unsupported GGUF version {version} (only 2 and 3).", versionAt);
        Version = version;
        // Each tensor info takes at least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset) bytes,
        // each metadata pair at least 8 (key length) + 4 (type) + 1 (value) bytes.
        long tensorCount = c.ReadCount("tensor count", 0, MaxTensors);
        long metadataCount = c.ReadCount("metadata count", 13, MaxMetadata);
        if (tensorCount > c.Remaining / 32)
            throw c.Error($"tensor count {tensorCount} cannot fit in the {c.Remaining} bytes left.", 8);

        // Metadata.
        var values = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        var order = new List<string>((int)metadataCount);
        for (long i = 0; i < metadataCount; i++)
        {
            long at = c.Position;
            string key = c.ReadString($"key of metadata pair {i}", strict: true, MaxKeyLength);
            if (key.Length == 0) throw c.Error($"metadata pair {i} has an empty key.", at);
            long typeAt = c.Position;
            var type = (GgufValueType)c.Read<uint>($"type of metadata '{key}'");
            var value = ReadValue(ref c, type, key, typeAt, 0);
            if (!values.TryAdd(key, value))
                throw c.Error($"duplicate metadata key '{key}'.", at);
            order.Add(key);
        }
        Metadata = new GgufMetadata(FilePath, values, order);

        // Alignment.
        uint alignment = DefaultAlignment;
        if (values.TryGetValue("general.alignment", out var al))
        {
            if (al.Value is not uint a || a == 0 || (a & (a - 1)) != 0)
                throw c.Error($"general.alignment must be a power-of-two uint32, found {al.Type} {al}.", -1);
            alignment = a;
        }
        Alignment = alignment;

        // Tensor infos.
        var infos = new (string Name, GgmlType Type, long[] Dims, long Offset, long Bytes, long At)[tensorCount];
        for (long i = 0; i < tensorCount; i++)
        {
            long at = c.Position;
            string name = c.ReadString($"name of tensor {i}", strict: true, MaxNameLength);
            if (name.Length == 0) throw c.Error($"tensor {i} has an empty name.", at);
            long dimsAt = c.Position;
            uint nDims = c.Read<uint>($"n_dims of tensor '{name}'");
            if (nDims is 0 or > MaxDims)
                throw c.Error($"tensor '{name}' has {nDims} dimensions (1 to {MaxDims} allowed).", dimsAt);
            var dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++)
            {
                long dimAt = c.Position;
                ulong dim = c.Read<ulong>($"dimension {d} of tensor '{name}'");
                if (dim == 0 || dim > long.MaxValue)
                    throw c.Error($"tensor '{name}' dimension {d} is {(long)dim} (must be positive).", dimAt);
                if ((long)dim > long.MaxValue / elements)
                    throw c.Error($"tensor '{name}' element count overflows.", dimAt);
                dims[d] = (long)dim;
                elements *= (long)dim;
            }
            long typeAt = c.Position;
            uint typeRaw = c.Read<uint>($"type of tensor '{name}'");
            var type = (GgmlType)typeRaw;
            if (!GgmlTypeInfo.TryGetBlock(type, out int blockElements, out int blockBytes))
                throw c.Error($"tensor '{name}' has unknown ggml type {typeRaw}.", typeAt);
            if (dims[0] % blockElements != 0)
                throw c.Error($"tensor '{name}' row length {dims[0]} is not a multiple of the {type} block size {blockElements}.", dimsAt);
            long blocks = elements / blockElements;
            if (blocks > long.MaxValue / blockBytes)
                throw c.Error($"tensor '{name}' byte size overflows.", dimsAt);
            long bytes = blocks * blockBytes;
            if (bytes > FileLength)
                throw c.Error($"tensor '{name}' needs {bytes} bytes, more than the whole file ({FileLength}).", dimsAt);
            long offAt = c.Position;
            ulong off = c.Read<ulong>($"offset of tensor '{name}'");
            if (off > (ulong)FileLength)
                throw c.Error($"tensor '{name}' offset {off} is beyond the end of the file.", offAt);
            if (off % alignment != 0)
                throw c.Error($"tensor '{name}' offset {off} is not aligned to {alignment}.", offAt);
            infos[i] = (name, type, dims, (long)off, bytes, at);
        }

        // Data section starts at the next alignment boundary.
        long dataOffset = AlignUp(c.Position, alignment);
        if (dataOffset > FileLength)
            throw c.Error($"data section would start at {dataOffset}, past the end of the file ({FileLength}).");
        DataOffset = dataOffset;

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        foreach (var t in infos)
        {
            long start = dataOffset + t.Offset;
            if (t.Offset > FileLength - dataOffset || t.Bytes > FileLength - start)
                throw c.Error($"tensor '{t.Name}' data [{start}, {start + t.Bytes}) runs past the end of the file ({FileLength}).", t.At);
            var info = new GgufTensorInfo(t.Name, t.Type, t.Dims, t.Offset, start, t.Bytes);
            if (!_byName.TryAdd(t.Name, info))
                throw c.Error($"duplicate tensor name '{t.Name}'.", t.At);
            tensors.Add(info);
        }

        // Tensors must not overlap.
        var sorted = tensors.OrderBy(t => t.FileOffset).ToArray();
        for (int i = 1; i < sorted.Length; i++)
            if (sorted[i - 1].FileOffset + sorted[i - 1].ByteSize > sorted[i].FileOffset)
                throw c.Error($"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap.", -1);
        Tensors = tensors;
    }

    private GgufValue ReadValue(ref GgufCursor c, GgufValueType type, string key, long typeAt, int depth)
    {
        string what = $"value of '{key}'";
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.FromParsed(type, type, c.Read<byte>(what));
            case GgufValueType.Int8: return GgufValue.FromParsed(type, type, c.Read<sbyte>(what));
            case GgufValueType.UInt16: return GgufValue.FromParsed(type, type, c.Read<ushort>(what));
            case GgufValueType.Int16: return GgufValue.FromParsed(type, type, c.Read<short>(what));
            case GgufValueType.UInt32: return GgufValue.FromParsed(type, type, c.Read<uint>(what));
            case GgufValueType.Int32: return GgufValue.FromParsed(type, type, c.Read<int>(what));
            case GgufValueType.Float32: return GgufValue.FromParsed(type, type, c.Read<float>(what));
            case GgufValueType.UInt64: return GgufValue.FromParsed(type, type, c.Read<ulong>(what));
            case GgufValueType.Int64: return GgufValue.FromParsed(type, type, c.Read<long>(what));
            case GgufValueType.Float64: return GgufValue.FromParsed(type, type, c.Read<double>(what));
            case GgufValueType.Bool:
            {
                long at = c.Position;
                byte b = c.Read<byte>(what);
                if (b > 1) throw c.Error($"bool {what} is {b} (must be 0 or 1).", at);
                return GgufValue.FromParsed(type, type, b == 1);
            }
            case GgufValueType.String:
                return GgufValue.FromParsed(type, type, c.ReadString(what, strict: false));
            case GgufValueType.Array:
            {
                if (depth >= MaxArrayDepth)
                    throw c.Error($"arrays in '{key}' are nested deeper than {MaxArrayDepth}.", typeAt);
                long etAt = c.Position;
                var et = (GgufValueType)c.Read<uint>($"element type of '{key}'");
                int fixedSize = GgufValue.FixedSize(et);
                if (fixedSize == 0 && et is not (GgufValueType.String or GgufValueType.Array))
                    throw c.Error($"array '{key}' has unknown element type {(uint)et}.", etAt);
                long minEach = fixedSize > 0 ? fixedSize : et == GgufValueType.String ? 8 : 12;
                long n = c.ReadCount($"element count of '{key}'", minEach, MaxArrayElements);
                Array arr = et switch
                {
                    GgufValueType.UInt8 => ReadArray<byte>(ref c, n, what),
                    GgufValueType.Int8 => ReadArray<sbyte>(ref c, n, what),
                    GgufValueType.UInt16 => ReadArray<ushort>(ref c, n, what),
                    GgufValueType.Int16 => ReadArray<short>(ref c, n, what),
                    GgufValueType.UInt32 => ReadArray<uint>(ref c, n, what),
                    GgufValueType.Int32 => ReadArray<int>(ref c, n, what),
                    GgufValueType.Float32 => ReadArray<float>(ref c, n, what),
                    GgufValueType.UInt64 => ReadArray<ulong>(ref c, n, what),
                    GgufValueType.Int64 => ReadArray<long>(ref c, n, what),
                    GgufValueType.Float64 => ReadArray<double>(ref c, n, what),
                    GgufValueType.Bool => ReadBoolArray(ref c, n, what),
                    GgufValueType.String => ReadStringArray(ref c, n, key),
                    _ => ReadNestedArray(ref c, n, key, depth),
                };
                return GgufValue.FromParsed(type, et, arr);
            }
            default:
                throw c.Error($"metadata '{key}' has unknown value type {(uint)type}.", typeAt);
        }
    }

    private static T[] ReadArray<T>(ref GgufCursor c, long n, string what) where T : unmanaged
    {
        var a = new T[n];
        c.ReadInto(a, what);
        return a;
    }

    private static bool[] ReadBoolArray(ref GgufCursor c, long n, string what)
    {
        long at = c.Position;
        var raw = ReadArray<byte>(ref c, n, what);
        var a = new bool[n];
        for (long i = 0; i < n; i++)
        {
            if (raw[i] > 1) throw c.Error($"bool element {i} of {what} is {raw[i]} (must be 0 or 1).", at + i);
            a[i] = raw[i] == 1;
        }
        return a;
    }

    private static string[] ReadStringArray(ref GgufCursor c, long n, string key)
    {
        var a = new string[n];
        for (long i = 0; i < n; i++) a[i] = c.ReadString($"element {i} of '{key}'", strict: false);
        return a;
    }

    private GgufValue[] ReadNestedArray(ref GgufCursor c, long n, string key, int depth)
    {
        var a = new GgufValue[n];
        for (long i = 0; i < n; i++) a[i] = ReadValue(ref c, GgufValueType.Array, key, c.Position, depth + 1);
        return a;
    }

    internal static long AlignUp(long x, long alignment) => (x + alignment - 1) / alignment * alignment;

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GgufTensorInfo? tensor) => _byName.TryGetValue(name, out tensor);

    /// <summary>Looks a tensor up by name; throws <see cref="GgufFormatException"/> naming it when absent.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new GgufFormatException(FilePath, -1, $"tensor '{name}' is missing.");

    /// <summary>The raw bytes of a tensor (at most 2 GiB; use <see cref="GetRowData"/> for larger tensors).</summary>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor)
    {
        CheckOwned(tensor);
        if (tensor.ByteSize > int.MaxValue)
            throw new InvalidOperationException($"tensor '{tensor.Name}' is {tensor.ByteSize} bytes, too large for one span; read it by rows.");
        return new ReadOnlySpan<byte>(_base + tensor.FileOffset, (int)tensor.ByteSize);
    }

    /// <summary>The raw bytes of row <paramref name="row"/> of a tensor.</summary>
    public ReadOnlySpan<byte> GetRowData(GgufTensorInfo tensor, long row)
    {
        CheckOwned(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, tensor.RowCount);
        long rowBytes = tensor.RowBytes;
        if (rowBytes > int.MaxValue) throw new InvalidOperationException($"rows of '{tensor.Name}' are too large for one span.");
        return new ReadOnlySpan<byte>(_base + tensor.FileOffset + row * rowBytes, (int)rowBytes);
    }

    /// <summary>
    /// Row <paramref name="row"/> of a tensor as typed elements or blocks: <c>float</c> for F32, <c>Half</c> for F16,
    /// <c>ushort</c> for BF16, <see cref="Quantization.BlockQ8_0"/> for Q8_0, <see cref="Quantization.BlockQ4_0"/> for Q4_0.
    /// The size of <typeparamref name="T"/> must equal the type's block size.
    /// </summary>
    public ReadOnlySpan<T> GetRow<T>(GgufTensorInfo tensor, long row) where T : unmanaged
    {
        int blockBytes = GgmlTypeInfo.BlockBytes(tensor.Type);
        if (sizeof(T) != blockBytes)
            throw new ArgumentException($"{typeof(T).Name} ({sizeof(T)} bytes) does not match {tensor.Type} blocks ({blockBytes} bytes).");
        var bytes = GetRowData(tensor, row);
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes);
    }

    /// <summary>Pointer to a tensor's data, for kernels. Valid until <see cref="Dispose"/>.</summary>
    internal byte* GetPointer(GgufTensorInfo tensor)
    {
        CheckOwned(tensor);
        return _base + tensor.FileOffset;
    }

    private void CheckOwned(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        if (!_byName.TryGetValue(tensor.Name, out var mine) || !ReferenceEquals(mine, tensor))
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {FilePath}.", nameof(tensor));
    }

    /// <summary>Unmaps the file. Views obtained earlier must not be used afterwards.</summary>
    public void Dispose()
    {
        if (_base == null) return;
        _mapping.Dispose();
    }
}
