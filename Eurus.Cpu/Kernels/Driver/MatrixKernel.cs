using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Which <see cref="ITileKernel"/> multiplies a matrix: chosen once, when the matrix is prepared at load
/// (<see cref="MatrixKernels.Choose"/>), from its layout and what this CPU runs. <see cref="MatMul"/> switches on it once per row block.
/// </summary>
internal enum MatrixKernel
{
    /// <summary>No kernel: the matrix cannot be multiplied (a quantized type without its prepared layout).</summary>
    None,
    /// <summary>Q4_0, interleaved repack, AVX-VNNI 2×4 tiles (<see cref="VnniDot"/>).</summary>
    Q4_0Vnni,
    /// <summary>Q8_0 (and Q5_0/Q4_1/Q5_1 run as Q8_0), interleaved repack, AVX-VNNI 2×4 tiles.</summary>
    Q8_0Vnni,
    /// <summary>Q4_0, plain repack, AVX-512BW 2×4 and 2×2 tiles (<see cref="PackedGemm"/>).</summary>
    Q4_0Avx512,
    /// <summary>Q8_0, plain repack, AVX-512BW 1×4 and 1×2 tiles.</summary>
    Q8_0Avx512,
    /// <summary>Q4_0, plain repack, row kernels only (<see cref="PackedDot"/>: AVX-512/AVX2/Vector128/scalar).</summary>
    Q4_0Rows,
    /// <summary>Q8_0, plain repack, row kernels only.</summary>
    Q8_0Rows,
    /// <summary>Q4_K, VNNI repack, AVX-VNNI 2×4 tiles (<see cref="VnniKQuant"/>).</summary>
    Q4_KVnni,
    /// <summary>Q5_K, VNNI repack with a fifth-bit plane, AVX-VNNI 2×4 tiles.</summary>
    Q5_KVnni,
    /// <summary>Q6_K, VNNI repack, AVX-VNNI 2×4 tiles.</summary>
    Q6_KVnni,
    /// <summary>Q4_0, interleaved repack, the VNNI tiles on AVX2 multiply-adds (<see cref="MaddByteDot"/>): CPUs without AVX-VNNI.</summary>
    Q4_0Madd,
    /// <summary>Q8_0 (and Q5_0/Q4_1/Q5_1 run as Q8_0), interleaved repack, the VNNI tiles on AVX2 multiply-adds of the signed weights.</summary>
    Q8_0Madd,
    /// <summary>Q4_K, VNNI repack, the VNNI tiles on AVX2 multiply-adds.</summary>
    Q4_KMadd,
    /// <summary>Q5_K, VNNI repack with a fifth-bit plane, the VNNI tiles on AVX2 multiply-adds.</summary>
    Q5_KMadd,
    /// <summary>Q6_K, VNNI repack, the VNNI tiles on AVX2 multiply-adds.</summary>
    Q6_KMadd,
    /// <summary>Q4_K/Q5_K/Q6_K in the file's layout, AVX-512BW 1×8 and 1×4 tiles (<see cref="KQuantTile"/>).</summary>
    KQuantAvx512,
    /// <summary>Q4_K/Q5_K/Q6_K in the file's layout, row kernels only (<see cref="KQuantDot"/>).</summary>
    KQuantRows,
    /// <summary>Q4_0, plain repack, 128-bit one-row × four-token tiles (<see cref="PackedTile128"/>: ARM64, x64 without AVX2).</summary>
    Q4_0Lanes128,
    /// <summary>Q8_0, plain repack, 128-bit one-row × four-token tiles.</summary>
    Q8_0Lanes128,
    /// <summary>Q4_K/Q5_K/Q6_K in the file's layout, 128-bit one-row × four-token tiles (<see cref="KQuantTile128"/>: ARM64, x64 without AVX2).</summary>
    KQuantLanes128,
    /// <summary>Q4_0 in row quads, four rows × four tokens and four rows × one token (<see cref="QuadDot"/>: ARM64 SDOT by element).</summary>
    Q4_0Quads,
    /// <summary>Q8_0 (and Q5_0 run as Q8_0) in row quads.</summary>
    Q8_0Quads,
    /// <summary>Q4_K/Q5_K in row quads, four rows × four tokens and four rows × one token (<see cref="KQuantQuads"/>: ARM64 SDOT by element).</summary>
    QmKQuads,
    /// <summary>Q6_K in row quads (<see cref="Q6KQuads"/>).</summary>
    Q6_KQuads,
    /// <summary>F32 rows (TensorPrimitives dot).</summary>
    F32Rows,
    /// <summary>F16 rows against F16-rounded activations (<see cref="HalfDot"/>).</summary>
    F16Rows,
    /// <summary>BF16 rows against BF16-rounded activations.</summary>
    BF16Rows,
}

internal static class MatrixKernels
{
    /// <summary>The kernel for a matrix of <paramref name="type"/> in the prepared forms given, on this CPU, as <paramref name="options"/> allow.</summary>
    public static MatrixKernel Choose(GgmlType type, PackedMatrix? packed, QmKPacked? qmk, Q6KPacked? q6k, KernelOptions options) => type switch
    {
        GgmlType.Q4_0 when packed is { Quads: true } => MatrixKernel.Q4_0Quads,
        GgmlType.Q8_0 or GgmlType.Q5_0 or GgmlType.Q4_1 or GgmlType.Q5_1 when packed is { Quads: true } => MatrixKernel.Q8_0Quads,
        GgmlType.Q4_0 when packed is not null => packed.Interleaved ? (options.UseVnni ? MatrixKernel.Q4_0Vnni : MaddByteDot.IsSupported ? MatrixKernel.Q4_0Madd : MatrixKernel.None)
            : options.UseAvx512Tiles ? MatrixKernel.Q4_0Avx512 : options.UseTiles128 ? MatrixKernel.Q4_0Lanes128 : MatrixKernel.Q4_0Rows,
        GgmlType.Q8_0 or GgmlType.Q5_0 or GgmlType.Q4_1 or GgmlType.Q5_1 when packed is not null => packed.Interleaved ? (options.UseVnni ? MatrixKernel.Q8_0Vnni : MaddByteDot.IsSupported ? MatrixKernel.Q8_0Madd : MatrixKernel.None) : options.UseAvx512Tiles ? MatrixKernel.Q8_0Avx512 : options.UseTiles128 ? MatrixKernel.Q8_0Lanes128 : MatrixKernel.Q8_0Rows,
        GgmlType.Q4_K or GgmlType.Q5_K when qmk is { Quads: true } => MatrixKernel.QmKQuads,
        GgmlType.Q6_K when q6k is { Quads: true } => MatrixKernel.Q6_KQuads,
        GgmlType.Q4_K when qmk is not null => options.UseVnni ? MatrixKernel.Q4_KVnni : MaddByteDot.IsSupported ? MatrixKernel.Q4_KMadd : MatrixKernel.None,
        GgmlType.Q5_K when qmk is not null => options.UseVnni ? MatrixKernel.Q5_KVnni : MaddByteDot.IsSupported ? MatrixKernel.Q5_KMadd : MatrixKernel.None,
        GgmlType.Q6_K when q6k is not null => options.UseVnni ? MatrixKernel.Q6_KVnni : MaddByteDot.IsSupported ? MatrixKernel.Q6_KMadd : MatrixKernel.None,
        GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => options.UseAvx512Tiles ? MatrixKernel.KQuantAvx512 : options.UseTiles128 ? MatrixKernel.KQuantLanes128 : MatrixKernel.KQuantRows,
        GgmlType.F32 => MatrixKernel.F32Rows,
        GgmlType.F16 => MatrixKernel.F16Rows,
        GgmlType.BF16 => MatrixKernel.BF16Rows,
        _ => MatrixKernel.None,
    };

    /// <summary>The form of the activations that <paramref name="kernel"/> consumes (prepared once per input by <see cref="MatMul"/>).</summary>
    public static KernelInput Input(this MatrixKernel kernel) => kernel switch
    {
        MatrixKernel.Q4_0Vnni or MatrixKernel.Q8_0Vnni or MatrixKernel.Q4_0Madd or MatrixKernel.Q8_0Madd => KernelInput.Q8_0Interleaved,
        MatrixKernel.Q4_0Avx512 or MatrixKernel.Q4_0Rows or MatrixKernel.Q4_0Lanes128 or MatrixKernel.Q4_0Quads => KernelInput.Q8_0ForQ4,
        MatrixKernel.Q8_0Avx512 or MatrixKernel.Q8_0Rows or MatrixKernel.Q8_0Lanes128 or MatrixKernel.Q8_0Quads => KernelInput.Q8_0,
        MatrixKernel.Q4_KVnni or MatrixKernel.Q5_KVnni or MatrixKernel.Q6_KVnni
            or MatrixKernel.Q4_KMadd or MatrixKernel.Q5_KMadd or MatrixKernel.Q6_KMadd => KernelInput.Q8_KInterleaved,
        MatrixKernel.KQuantAvx512 or MatrixKernel.KQuantRows or MatrixKernel.KQuantLanes128 or MatrixKernel.QmKQuads or MatrixKernel.Q6_KQuads => KernelInput.Q8_K,
        MatrixKernel.F32Rows => KernelInput.F32,
        MatrixKernel.F16Rows => KernelInput.F16,
        MatrixKernel.BF16Rows => KernelInput.BF16,
        _ => KernelInput.None,
    };
}

/// <summary>What a <see cref="MatrixKernel"/> multiplies its weights with: the activations, converted once per input.</summary>
internal enum KernelInput
{
    /// <summary>No kernel.</summary>
    None,
    /// <summary>Q8_0 blocks in the VNNI interleaved order (<see cref="PackedActivations"/>), for Q4_0 and Q8_0 weights.</summary>
    Q8_0Interleaved,
    /// <summary>Q8_0 blocks split into the halves that meet Q4_0's low and high nibbles.</summary>
    Q8_0ForQ4,
    /// <summary>Q8_0 blocks in the forms the Q8_0 row kernels and tiles read.</summary>
    Q8_0,
    /// <summary>Q8_K super-blocks plus their VNNI form (<see cref="KQuantActivations"/>).</summary>
    Q8_KInterleaved,
    /// <summary>Q8_K super-blocks.</summary>
    Q8_K,
    /// <summary>The float activations as they are.</summary>
    F32,
    /// <summary>Rounded to F16 and widened back to float.</summary>
    F16,
    /// <summary>Rounded to BF16 and widened back to float.</summary>
    BF16,
}
