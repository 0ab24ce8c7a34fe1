using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;
using Microsoft.Win32.SafeHandles;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// A Q4_K or Q5_K matrix repacked for <see cref="VnniKQuant"/> (AVX-VNNI machines): per super-block the 256 low four
/// bits of the quants in <see cref="VnniDot"/>'s interleaved order with the eight 32-element sub-blocks in the roles of
/// Q4_0's eight blocks (int32 lane j of every vector holds four consecutive quants of sub-block j: four vectors P0–P3 of
/// 32 bytes, lane j of Pk = quants 4k…4k+3 in its low nibbles and 16+4k…16+4k+3 in its high nibbles), the fp16 d and
/// dmin, and the six-bit scales and mins unpacked to one byte each (sc[8] then m[8]). Q5_K adds each quant's fifth
/// bit as one 32-byte plane: bit v of byte i belongs to the quant whose four low bits are in byte i of the kernel's
/// vector v (v = 0–3: the low nibbles of P0–P3, v = 4–7: their high nibbles). 148 bytes per super-block instead of
/// the file's 144 (Q4_K), 180 instead of 176 (Q5_K). Filled by reading the file (not through the mapping), like
/// <see cref="PackedMatrix"/>.
/// <para>
/// In <see cref="Quads"/> (ARM64 with DotProd, <see cref="KQuantQuads"/>) each group of four rows (4g…4g+3) is stored
/// super-block by super-block instead: the quants in the file's order as 16-byte vectors whose int32 lane i holds four
/// bytes of row 4g+i (chunk c of 64 weights = eight vectors, vector k = bytes 32c+4k…32c+4k+3: low nibbles elements
/// 4k…4k+3 of sub-block 2c, high nibbles of sub-block 2c+1; 512 bytes), Q5_K's qh the same way (vector k = qh bytes
/// 4k…4k+3 of each row; 128 bytes), the four rows' d then their four dmin (8 halves), and the scales then the mins
/// as bytes [sub-block][row] (64 bytes). Same sizes as the per-row form; rows after the last whole group keep the
/// per-row form with the quants in the file's order (their kernel reads the file's own bytes).
/// </para>
/// </summary>
internal sealed unsafe class QmKPacked : IDisposable
{
    private QmKPacked(GgmlType type, int rows, int cols, bool quads = false)
    {
        Quads = quads;
        if (type is not (GgmlType.Q4_K or GgmlType.Q5_K)) throw new ArgumentException($"{type} is not Q4_K or Q5_K.", nameof(type));
        Type = type;
        Rows = rows;
        Cols = cols;
        SuperBlocks = cols / 256;
        long n = (long)rows * SuperBlocks;
        Qs = (byte*)NativeMemory.AlignedAlloc((nuint)(n * 128 + 64), 64);
        Halves = (ushort*)NativeMemory.AlignedAlloc((nuint)(n * 4 + 64), 64);
        ScMin = (byte*)NativeMemory.AlignedAlloc((nuint)(n * 16 + 64), 64);
        if (type == GgmlType.Q5_K) Qh = (byte*)NativeMemory.AlignedAlloc((nuint)(n * 32 + 64), 64);
    }

    /// <summary>Q4_K or Q5_K.</summary>
    public GgmlType Type { get; }
    /// <summary>Whether whole groups of four rows are in <see cref="KQuantQuads"/>' layout (see the class summary).</summary>
    public bool Quads { get; }
    /// <summary>Rows in whole groups of four when <see cref="Quads"/>; 0 otherwise.</summary>
    public int QuadRows => Quads ? Rows & ~3 : 0;
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Super-blocks (256 elements) per row.</summary>
    public int SuperBlocks { get; }
    /// <summary>Interleaved nibbles, [rows × super-blocks × 128].</summary>
    public byte* Qs { get; private set; }
    /// <summary>Q5_K's fifth bits, [rows × super-blocks × 32] (see the class summary); null for Q4_K.</summary>
    public byte* Qh { get; private set; }
    /// <summary>fp16 d and dmin, [rows × super-blocks × 2].</summary>
    public ushort* Halves { get; private set; }
    /// <summary>Scales then mins, one byte each, [rows × super-blocks × 16].</summary>
    public byte* ScMin { get; private set; }

    public long Bytes => (long)Rows * SuperBlocks * (128 + 4 + 16 + (Qh != null ? 32 : 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* RowQs(int row) => Qs + (long)row * SuperBlocks * 128;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* RowQh(int row) => Qh + (long)row * SuperBlocks * 32;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort* RowHalves(int row) => Halves + (long)row * SuperBlocks * 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* RowScMin(int row) => ScMin + (long)row * SuperBlocks * 16;

    /// <summary>Repacks rows given in the file layout (<see cref="BlockQ4_K"/> or <see cref="BlockQ5_K"/>).</summary>
    public static QmKPacked FromBlocks(GgmlType type, int rows, int cols, ReadOnlySpan<byte> fileLayout, bool quads = false)
    {
        var m = new QmKPacked(type, rows, cols, quads);
        m.Fill(0, rows, fileLayout);
        m.MakeQuads();
        return m;
    }

    /// <summary>Reads a Q4_K or Q5_K tensor's bytes from <paramref name="handle"/> at <paramref name="offset"/> and repacks them.</summary>
    public static QmKPacked FromFile(SafeFileHandle handle, long offset, GgmlType type, int rows, int cols, bool quads = false)
    {
        var m = new QmKPacked(type, rows, cols, quads);
        TensorChunks.ReadInto(m, m.Fill, handle, offset, (int)GgmlTypeInfo.RowBytes(type, cols), rows);
        m.MakeQuads();
        return m;
    }

    /// <summary>With <see cref="Quads"/>: regroups every whole group of four rows, filled per row in the file's quant order, in place.</summary>
    private void MakeQuads()
    {
        if (!Quads) return;
        RowQuadLayout.Interleave((uint*)Qs, Rows, SuperBlocks, 128 / 4);
        if (Qh != null) RowQuadLayout.Interleave((uint*)Qh, Rows, SuperBlocks, 32 / 4);
        RowQuadLayout.Interleave(Halves, Rows, SuperBlocks, 2);
        RowQuadLayout.Interleave(ScMin, Rows, SuperBlocks, 16);
    }

    private void Fill(int firstRow, int rows, ReadOnlySpan<byte> src)
    {
        bool five = Type == GgmlType.Q5_K;
        int blockBytes = five ? KQuantDot.Q5Bytes : KQuantDot.Q4Bytes;
        fixed (byte* s = src)
        {
            for (long i = 0, n = (long)rows * SuperBlocks; i < n; i++)
            {
                byte* b = s + i * blockBytes;
                long dst = (long)firstRow * SuperBlocks + i;
                Halves[dst * 2] = *(ushort*)b;
                Halves[dst * 2 + 1] = *(ushort*)(b + 2);
                var (sc, mn) = KQuantDot.UnpackScales(b + (five ? KQuantDot.Q5Scales : KQuantDot.Q4Scales));
                *(ulong*)(ScMin + dst * 16) = sc;
                *(ulong*)(ScMin + dst * 16 + 8) = mn;
                // Quant e of sub-block j is the low (j even) or high (j odd) nibble of byte 32·(j/2) + e; four bytes at a
                // time: lane j of vector k takes quants 4k…4k+3 (low nibbles) and 16+4k…16+4k+3 (high nibbles).
                byte* q = b + (five ? KQuantDot.Q5Qs : KQuantDot.Q4Qs);
                byte* o = Qs + dst * 128;
                if (Quads)
                {
                    // Row quads (regrouped by MakeQuads): the quants and qh in the file's order.
                    Buffer.MemoryCopy(q, o, 128, 128);
                    if (five) Buffer.MemoryCopy(b + KQuantDot.Q5Qh, Qh + dst * 32, 32, 32);
                    continue;
                }
                for (int p = 0; p < 4; p++)
                    for (int k = 0; k < 4; k++)
                    {
                        uint lo = *(uint*)(q + 32 * p + 4 * k), hi = *(uint*)(q + 32 * p + 16 + 4 * k);
                        *(uint*)(o + k * 32 + 8 * p) = (lo & 0x0F0F0F0Fu) | ((hi & 0x0F0F0F0Fu) << 4);
                        *(uint*)(o + k * 32 + 8 * p + 4) = ((lo >> 4) & 0x0F0F0F0Fu) | (hi & 0xF0F0F0F0u);
                    }
                if (!five) continue;
                // Q5_K: the fifth bit of quant e of sub-block j is bit j of qh[e]. Byte 4j + m of the plane: bit k for
                // quant 4k + m (vector k's low nibbles), bit 4 + k for quant 16 + 4k + m (its high nibbles).
                byte* qh = b + KQuantDot.Q5Qh;
                byte* h = Qh + dst * 32;
                for (int j = 0; j < 8; j++)
                    for (int m = 0; m < 4; m++)
                    {
                        int bits = 0;
                        for (int k = 0; k < 4; k++)
                            bits |= ((qh[4 * k + m] >> j) & 1) << k | ((qh[16 + 4 * k + m] >> j) & 1) << (4 + k);
                        h[4 * j + m] = (byte)bits;
                    }
            }
        }
    }

    public void Dispose()
    {
        if (Qs == null) return;
        NativeMemory.AlignedFree(Qs);
        NativeMemory.AlignedFree(Halves);
        NativeMemory.AlignedFree(ScMin);
        if (Qh != null) NativeMemory.AlignedFree(Qh);
        Qs = null;
        Qh = null;
        Halves = null;
        ScMin = null;
    }
}
