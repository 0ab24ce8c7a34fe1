namespace Eurus.Cpu.Gguf;

/// <summary>
/// One tensor of a GGUF file, as validated at open. <see cref="Dimensions"/> are in ggml order: element 0 is the
/// innermost (row length), so a PyTorch weight of shape [out, in] is stored as [in, out].
/// </summary>
public sealed class GgufTensorInfo
{
    internal GgufTensorInfo(string name, GgmlType type, long[] dimensions, long relativeOffset, long fileOffset, long byteSize)
    {
        Name = name;
        Type = type;
        _dimensions = dimensions;
        RelativeOffset = relativeOffset;
        FileOffset = fileOffset;
        ByteSize = byteSize;
        long count = 1;
        foreach (long d in dimensions) count *= d;
        ElementCount = count;
    }

    private readonly long[] _dimensions;

    /// <summary>Tensor name, e.g. <c>blk.0.attn_q.weight</c>.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public GgmlType Type { get; }

    /// <summary>Dimensions in ggml order (innermost first).</summary>
    public IReadOnlyList<long> Dimensions => _dimensions;

    /// <summary>Total number of elements.</summary>
    public long ElementCount { get; }

    /// <summary>Elements per row (<c>Dimensions[0]</c>).</summary>
    public long RowLength => _dimensions[0];

    /// <summary>Number of rows (the product of the outer dimensions).</summary>
    public long RowCount => ElementCount / _dimensions[0];

    /// <summary>Bytes in one row.</summary>
    public long RowBytes => ByteSize / RowCount;

    /// <summary>Offset of the data from the start of the data section, as stored in the file.</summary>
    public long RelativeOffset { get; }

    /// <summary>Absolute offset of the data in the file.</summary>
    public long FileOffset { get; }

    /// <summary>Size of the data in bytes.</summary>
    public long ByteSize { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Type} [{string.Join(", ", _dimensions)}]";
}
