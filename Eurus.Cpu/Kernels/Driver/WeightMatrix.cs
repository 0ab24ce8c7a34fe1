using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// A read-only view of a 2-D weight in the mapped file: <see cref="Rows"/> output rows of <see cref="Cols"/> inputs,
/// each <see cref="RowBytes"/> bytes of <see cref="Type"/>. Bounds were validated when the file was opened, so kernels
/// may read any row in [0, Rows) without further checks. Valid while the owning model is alive.
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

    /// <summary>Start of the data in the file's layout (the mapping).</summary>
    public byte* Data { get; }
    /// <summary>Element type.</summary>
    public GgmlType Type { get; }
    /// <summary>Output rows (ggml dimension 1).</summary>
    public int Rows { get; }
    /// <summary>Inputs per row (ggml dimension 0).</summary>
    public int Cols { get; }
    /// <summary>Bytes per row.</summary>
    public int RowBytes { get; }

    /// <summary>The bytes of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<byte> Row(int row) => new(Data + (long)row * RowBytes, RowBytes);
}
