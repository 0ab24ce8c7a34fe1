using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// A 2-D weight as prepared at load: <see cref="Rows"/> output rows of <see cref="Cols"/> inputs of the file's
/// <see cref="Type"/>, and the <see cref="Kernel"/> that multiplies it, which says which one of the prepared forms it
/// reads — the file's bytes (<see cref="Data"/>, through the mapping) or exactly one repack (<see cref="Packed"/>,
/// <see cref="QmK"/>, <see cref="Q6K"/>; <see cref="Mins"/> beside <see cref="Packed"/> for Q4_1/Q5_1). Bounds were
/// validated when the file was opened, so kernels may read any row in [0, Rows) without further checks. Valid while
/// the owning model is alive.
/// </summary>
internal readonly unsafe struct WeightMatrix
{
    public WeightMatrix(byte* data, GgmlType type, int rows, int cols, PackedMatrix? packed = null, QmKPacked? qmk = null, Q6KPacked? q6k = null,
        float* mins = null, KernelOptions? kernels = null)
    {
        Mins = mins;
        Packed = packed;
        QmK = qmk;
        Q6K = q6k;
        Data = data;
        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
        Kernel = MatrixKernels.Choose(type, packed, qmk, q6k, kernels ?? KernelOptions.Default);
    }

    /// <summary>The kernel that multiplies this matrix, chosen once from its layout and this CPU.</summary>
    public MatrixKernel Kernel { get; }

    /// <summary>The SIMD-friendly copy of a Q4_0/Q8_0 matrix, used by the matmul instead of <see cref="Data"/>.</summary>
    public PackedMatrix? Packed { get; }

    /// <summary>The AVX-VNNI copy of a Q4_K or Q5_K matrix (<see cref="VnniKQuant"/>), used instead of <see cref="Data"/> when set.</summary>
    public QmKPacked? QmK { get; }

    /// <summary>The AVX-VNNI copy of a Q6_K matrix (<see cref="VnniKQuant"/>), used instead of <see cref="Data"/> when set.</summary>
    public Q6KPacked? Q6K { get; }

    /// <summary>
    /// Q4_1 / Q5_1 run as a Q8_0 matrix of their quants (<see cref="Packed"/>) plus these per-block minimums
    /// ([rows × cols/32] floats): y += Σ_b m_b · d_x·Σq_x (see <see cref="OffsetQuantMatrix"/>). Null otherwise.
    /// </summary>
    public float* Mins { get; }

    /// <summary>Start of the data in the file's layout (the mapping); null where only a repack is kept (Q5_0, Q4_1, Q5_1).</summary>
    public byte* Data { get; }
    /// <summary>Element type in the file (Q5_0, Q4_1 and Q5_1 stay themselves here although their kernel is a Q8_0 one).</summary>
    public GgmlType Type { get; }
    /// <summary>Output rows (ggml dimension 1).</summary>
    public int Rows { get; }
    /// <summary>Inputs per row (ggml dimension 0).</summary>
    public int Cols { get; }
    /// <summary>Bytes per row in the file's layout.</summary>
    public int RowBytes { get; }

    /// <summary>The bytes of row <paramref name="row"/> in the file's layout.</summary>
    public ReadOnlySpan<byte> Row(int row) =>
        Data != null ? new(Data + (long)row * RowBytes, RowBytes) : throw new InvalidOperationException($"{Type} matrices keep only their repack.");
}
