using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Microsoft.Win32.SafeHandles;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// A Q4_0 or Q8_0 matrix repacked for SIMD: each row's fp16 block scales in one contiguous array and its quants in
/// another, 64-byte aligned, so a 512-bit load covers four Q4_0 blocks (or two Q8_0 blocks) with no scale bytes in the
/// way. Same size as the file's layout (18 / 34 bytes per block). Filled by reading the file (not through the memory
/// map), so the file's pages stay out of the process's resident set and peak memory is about one copy of the weights.
/// Measured: see the README's performance section.
/// <para>
/// Where <see cref="VnniDot"/> runs (AVX-VNNI), rows are <see cref="Interleaved"/>: within each group of eight blocks the
/// quants are reordered so that int32 lane i of every 32-byte vector holds four consecutive values of block i. Q4_0: a
/// group is four vectors P0–P3 (128 bytes), lane i of Pk = bytes 4k…4k+3 of block i's 16 nibble bytes, so the low
/// nibbles of Pk are elements 4k…4k+3 and the high nibbles elements 16+4k…16+4k+3. Q8_0: eight vectors (256 bytes),
/// lane i of vector k = elements 4k…4k+3 of block i, each stored +128 (unsigned). Scales are not moved, and blocks after
/// the last whole group keep the file's order (signed for Q8_0).
/// </para>
/// <para>
/// Where ARM64's by-element <c>SDOT</c> runs (<see cref="QuadDot"/>), rows are in <see cref="Quads"/>: each group of four
/// rows (4g…4g+3) is stored block by block, and within a block as 16-byte vectors whose int32 lane i holds four
/// consecutive quant bytes of row 4g+i, so one <c>SDOT</c> by element multiplies four rows by one activation
/// quadruplet. Q4_0: four vectors per block (64 bytes), vector k = bytes 4k…4k+3 of each row's 16 nibble bytes, each
/// nibble stored xor 8 (so a nibble read as a signed 4-bit number is q − 8: the low ones are shifted up by four bits,
/// the high ones masked, both then 16·(q − 8) as signed bytes). Q8_0: eight vectors per block (128 bytes), vector k =
/// elements 4k…4k+3 of each row, as in the file. Scales: the group's four fp16 scales of a block side by side. Rows
/// after the last whole group keep the plain layout.
/// </para>
/// </summary>
internal sealed unsafe class PackedMatrix : IDisposable
{
    private PackedMatrix(GgmlType type, int rows, int cols, bool interleaved, bool quads = false)
    {
        if (interleaved && quads) throw new ArgumentException("A packed matrix is interleaved for VNNI or in row quads, not both.");
        Type = type;
        Interleaved = interleaved;
        Quads = quads;
        Rows = rows;
        Cols = cols;
        Blocks = cols / 32;
        QsPerBlock = type == GgmlType.Q4_0 ? 16 : 32;
        long blocks = (long)rows * Blocks;
        Scales = (ushort*)NativeMemory.AlignedAlloc((nuint)(blocks * 2 + 64), 64);
        Qs = (byte*)NativeMemory.AlignedAlloc((nuint)(blocks * QsPerBlock + 64), 64);
    }

    public GgmlType Type { get; }
    /// <summary>Whether the quants are in <see cref="VnniDot"/>'s interleaved group order (see the class summary).</summary>
    public bool Interleaved { get; }
    /// <summary>Whether whole groups of four rows are in <see cref="QuadDot"/>'s layout (see the class summary).</summary>
    public bool Quads { get; }
    /// <summary>Rows in whole groups of four (the rest are plain) when <see cref="Quads"/>; 0 otherwise.</summary>
    public int QuadRows => Quads ? Rows & ~3 : 0;
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Blocks per row.</summary>
    public int Blocks { get; }
    /// <summary>Quant bytes per block: 16 for Q4_0 (nibbles, order as in the file), 32 for Q8_0.</summary>
    public int QsPerBlock { get; }
    /// <summary>fp16 scale bits, [rows × blocks].</summary>
    public ushort* Scales { get; private set; }
    /// <summary>Quants, [rows × blocks × QsPerBlock].</summary>
    public byte* Qs { get; private set; }

    public long Bytes => (long)Rows * Blocks * (2 + QsPerBlock);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort* RowScales(int row) => Scales + (long)row * Blocks;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* RowQs(int row) => Qs + (long)row * Blocks * QsPerBlock;

    /// <summary>Quants of the group of four rows starting at <paramref name="row"/> (a multiple of four) in <see cref="Quads"/>: same place as its first row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* GroupQs(int row) => RowQs(row);
    /// <summary>Scales of that group: four per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort* GroupScales(int row) => RowScales(row);

    /// <summary>
    /// Repacks rows given in the file layout (blocks of scale + quants); <paramref name="interleaved"/> defaults to
    /// whether <see cref="VnniDot"/> runs here.
    /// </summary>
    public static PackedMatrix FromBlocks(GgmlType type, int rows, int cols, ReadOnlySpan<byte> fileLayout, bool? interleaved = null, bool quads = false)
    {
        var m = new PackedMatrix(type, rows, cols, interleaved ?? (!quads && VnniDot.Supported), quads);
        m.Fill(0, rows, fileLayout);
        m.MakeQuads();
        return m;
    }

    /// <summary>Reads a tensor's bytes from <paramref name="handle"/> at <paramref name="offset"/> and repacks them.</summary>
    public static PackedMatrix FromFile(SafeFileHandle handle, long offset, GgmlType type, int rows, int cols, bool? interleaved = null, bool quads = false)
    {
        var m = new PackedMatrix(type, rows, cols, interleaved ?? (!quads && VnniDot.Supported), quads);
        TensorChunks.ReadInto(m, m.Fill, handle, offset, (int)GgmlTypeInfo.RowBytes(type, cols), rows);
        m.MakeQuads();
        return m;
    }

    /// <summary>With <see cref="Quads"/>: reorders every whole group of four rows, filled in the plain layout, in place (see the class summary).</summary>
    private void MakeQuads()
    {
        if (!Quads) return;
        RowQuadLayout.Interleave((uint*)Qs, Rows, Blocks, QsPerBlock / 4);
        RowQuadLayout.Interleave(Scales, Rows, Blocks, 1);
        if (Type != GgmlType.Q4_0) return;
        // Q4_0's nibbles xor 8: read as signed four-bit numbers they are q − 8.
        ulong* q = (ulong*)Qs;
        for (long i = 0, n = (long)QuadRows * Blocks * QsPerBlock / 8; i < n; i++) q[i] ^= 0x8888888888888888UL;
    }

    private void Fill(int firstRow, int rows, ReadOnlySpan<byte> src)
    {
        int blockBytes = 2 + QsPerBlock;
        fixed (byte* s = src)
        {
            for (long i = 0, n = (long)rows * Blocks; i < n; i++)
            {
                byte* b = s + i * blockBytes;
                long dst = (long)firstRow * Blocks + i;
                Scales[dst] = *(ushort*)b;
                Buffer.MemoryCopy(b + 2, Qs + dst * QsPerBlock, QsPerBlock, QsPerBlock);
            }
        }
        if (Interleaved)
            for (int r = firstRow; r < firstRow + rows; r++) Interleave(RowQs(r), Blocks, Type == GgmlType.Q8_0);
    }

    /// <summary>Reorders one row's whole groups of eight blocks in place (see the class summary).</summary>
    private static void Interleave(byte* row, int blocks, bool q8)
    {
        int bytes = q8 ? 32 : 16;
        byte* tmp = stackalloc byte[8 * 32];
        for (int g = 0; g + VnniDot.GroupBlocks <= blocks; g += VnniDot.GroupBlocks)
        {
            byte* src = row + (long)g * bytes;
            Buffer.MemoryCopy(src, tmp, 8 * bytes, 8 * bytes);
            for (int k = 0; k < bytes / 4; k++)
                for (int i = 0; i < 8; i++)
                    for (int j = 0; j < 4; j++)
                    {
                        byte v = tmp[i * bytes + 4 * k + j];
                        src[k * 32 + i * 4 + j] = q8 ? (byte)(v ^ 0x80) : v; // Q8_0: signed q → q + 128
                    }
        }
    }

    public void Dispose()
    {
        if (Qs == null) return;
        NativeMemory.AlignedFree(Scales);
        NativeMemory.AlignedFree(Qs);
        Scales = null;
        Qs = null;
    }
}
