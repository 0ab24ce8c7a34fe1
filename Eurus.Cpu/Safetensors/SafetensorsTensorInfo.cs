namespace Eurus.Cpu.Safetensors;

/// <summary>One tensor of a safetensors file: name, element type, shape (row-major, outermost first) and where its bytes lie.</summary>
public sealed class SafetensorsTensorInfo
{
    internal SafetensorsTensorInfo(SafetensorsFile file, string name, SafetensorsDType type, long[] shape, long fileOffset, long byteSize)
    {
        File = file;
        Name = name;
        DType = type;
        Shape = shape;
        FileOffset = fileOffset;
        ByteSize = byteSize;
        ElementCount = shape.Aggregate(1L, (a, d) => a * d);
    }

    /// <summary>The file holding the tensor.</summary>
    public SafetensorsFile File { get; }

    /// <summary>Tensor name, e.g. <c>model.layers.0.self_attn.q_proj.weight</c>.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public SafetensorsDType DType { get; }

    /// <summary>Shape in PyTorch order: the last dimension is the contiguous one (a 2-D weight is [out, in]).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Absolute offset of the first byte in the file.</summary>
    public long FileOffset { get; }

    /// <summary>Size of the data in bytes.</summary>
    public long ByteSize { get; }

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>Length of a row: the last dimension (1 for a scalar).</summary>
    public long RowLength => Shape.Count == 0 ? 1 : Shape[^1];

    /// <summary>Number of rows: the product of all dimensions but the last.</summary>
    public long RowCount => RowLength == 0 ? 0 : ElementCount / RowLength;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {DType} [{string.Join(", ", Shape)}]";
}
