using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// A Q4_1 or Q5_1 matrix (q·d + m per 32-element block) prepared for the Q8_0 kernels without changing a value: the
/// quants with their scale as a Q8_0 matrix (q is 0–15 or 0–31, exactly an int8; <see cref="Q8"/>, in the packed layout),
/// and the minimums as floats (<see cref="Mins"/>), which the matmul adds as Σ_b m_b · d_x·Σq_x — llama.cpp's own
/// arithmetic for these types (its Q8_1 activations carry d·Σq rounded to fp16; <see cref="PackedActivations.Sums"/>).
/// 34 + 4 bytes per block against the file's 20 (Q4_1) or 24 (Q5_1).
/// </summary>
internal sealed unsafe class OffsetQuantMatrix : IDisposable
{
    private OffsetQuantMatrix(PackedMatrix q8, float* mins)
    {
        Q8 = q8;
        Mins = mins;
    }

    /// <summary>The quants and scales as Q8_0.</summary>
    public PackedMatrix Q8 { get; }

    /// <summary>The minimums, [rows × cols/32].</summary>
    public float* Mins { get; private set; }

    /// <summary>Splits a Q4_1/Q5_1 tensor (file layout, <paramref name="rows"/> × <paramref name="cols"/>).</summary>
    public static OffsetQuantMatrix FromBlocks(GgmlType type, int rows, int cols, ReadOnlySpan<byte> source, bool? interleaved = null)
    {
        if (type is not (GgmlType.Q4_1 or GgmlType.Q5_1)) throw new ArgumentOutOfRangeException(nameof(type), type, "Q4_1 or Q5_1 only.");
        long blocks = (long)rows * (cols / 32);
        int bytes = GgmlTypeInfo.BlockBytes(type);
        if (cols % 32 != 0 || source.Length != blocks * bytes) throw new ArgumentException($"{source.Length} bytes are not a {rows}×{cols} {type} matrix.");
        var q8 = new byte[blocks * BlockQ8_0.Bytes];
        var mins = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 4 + 64), 64);
        try
        {
            var dst = MemoryMarshal.Cast<byte, BlockQ8_0>(q8.AsSpan());
            for (long b = 0; b < blocks; b++)
                mins[b] = OffsetQuantReference.SplitToQ8_0(type, source.Slice((int)(b * bytes), bytes), ref dst[(int)b]);
            return new OffsetQuantMatrix(PackedMatrix.FromBlocks(GgmlType.Q8_0, rows, cols, q8, interleaved), mins);
        }
        catch
        {
            NativeMemory.AlignedFree(mins);
            throw;
        }
    }

    public void Dispose()
    {
        Q8.Dispose();
        if (Mins == null) return;
        NativeMemory.AlignedFree(Mins);
        Mins = null;
    }
}
