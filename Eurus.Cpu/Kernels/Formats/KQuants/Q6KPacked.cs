using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;
using Microsoft.Win32.SafeHandles;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// A Q6_K matrix repacked for <see cref="VnniKQuant"/>. The kernels consume, per super-block, eight 32-byte vectors of
/// unsigned six-bit quants (0–63) in two groups of eight 16-element sub-blocks (elements 0–127, 128–255): in each group
/// vector k (k &lt; 4) holds quants 4k…4k+3 of sub-block i in int32 lane i. Two forms of those vectors
/// (<see cref="Compact"/>), then the sixteen signed scales and the fp16 d in their own arrays:
/// <list type="bullet">
/// <item>Bytes (<see cref="Q6Bytes"/>; the AVX-VNNI class): the eight vectors as they are, 256 bytes — 274 bytes per
/// super-block with the scales, against the file's 210, in exchange for kernels with no bit unpacking.</item>
/// <item>Compact (<see cref="Q6Compact"/>, <see cref="KernelOptions.CompactQ6K"/>, the default on the multiply-add
/// classes): 192 bytes — four nibble vectors N_k (low nibble: group 0's vector k, high nibble: group 1's) and two planes
/// of the top two bits, H_g, whose bits 2k and 2k+1 are group g vector k's bits 4 and 5. 210 bytes per super-block, as
/// the file. The row kernels (decode) read it directly; the tiles read a row block expanded to bytes
/// (<see cref="ExpandRows"/>).</item>
/// <item>Row quads (<see cref="Quads"/>; ARM64 with DotProd, <see cref="Q6KQuads"/>): each group of four rows (4g…4g+3)
/// super-block by super-block, the file's ql then qh bytes in four-byte groups per row (16-byte vectors, int32 lane i =
/// row 4g+i: 32 ql vectors then 16 qh vectors, 768 bytes), the scales as bytes [sub-block][row] (64) and the four rows'
/// d (8): 210 bytes per row and super-block, as the file. Rows after the last whole group keep ql + qh per row (their
/// kernel reads the file's own bytes).</item>
/// </list>
/// Filled by reading the file, like <see cref="PackedMatrix"/>.
/// </summary>
internal sealed unsafe class Q6KPacked : IDisposable
{
    private Q6KPacked(int rows, int cols, bool compact, bool quads = false)
    {
        if (compact && quads) throw new ArgumentException("A Q6_K repack is compact or in row quads, not both.");
        Rows = rows;
        Cols = cols;
        Compact = compact;
        Quads = quads;
        SuperBlocks = cols / 256;
        QsPerBlock = compact || quads ? Q6Compact.Bytes : Q6Bytes.Bytes;
        long n = (long)rows * SuperBlocks;
        Qs = (byte*)NativeMemory.AlignedAlloc((nuint)(n * QsPerBlock + 64), 64);
        Scales = (sbyte*)NativeMemory.AlignedAlloc((nuint)(n * 16 + 64), 64);
        D = (ushort*)NativeMemory.AlignedAlloc((nuint)(n * 2 + 64), 64);
    }

    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Super-blocks (256 elements) per row.</summary>
    public int SuperBlocks { get; }
    /// <summary>The compact form (<see cref="Q6Compact"/>) rather than one byte per quant (<see cref="Q6Bytes"/>).</summary>
    public bool Compact { get; }
    /// <summary>Whether whole groups of four rows are in <see cref="Q6KQuads"/>' layout (see the class summary).</summary>
    public bool Quads { get; }
    /// <summary>Rows in whole groups of four when <see cref="Quads"/>; 0 otherwise.</summary>
    public int QuadRows => Quads ? Rows & ~3 : 0;
    /// <summary>Bytes of quants per super-block: 192 compact or in row quads, 256 as bytes.</summary>
    public int QsPerBlock { get; }
    /// <summary>Interleaved quants, [rows × super-blocks × <see cref="QsPerBlock"/>].</summary>
    public byte* Qs { get; private set; }
    /// <summary>Sub-block scales, [rows × super-blocks × 16].</summary>
    public sbyte* Scales { get; private set; }
    /// <summary>fp16 super-block scales, [rows × super-blocks].</summary>
    public ushort* D { get; private set; }

    public long Bytes => (long)Rows * SuperBlocks * (QsPerBlock + 16 + 2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* RowQs(int row) => Qs + (long)row * SuperBlocks * QsPerBlock;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public sbyte* RowScales(int row) => Scales + (long)row * SuperBlocks * 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort* RowD(int row) => D + (long)row * SuperBlocks;

    /// <summary>Repacks rows given in the file layout (<see cref="BlockQ6_K"/>), <paramref name="compact"/> or as bytes.</summary>
    public static Q6KPacked FromBlocks(int rows, int cols, ReadOnlySpan<byte> fileLayout, bool compact, bool quads = false)
    {
        var m = new Q6KPacked(rows, cols, compact, quads);
        m.Fill(0, rows, fileLayout);
        m.MakeQuads();
        return m;
    }

    /// <summary>Reads a Q6_K tensor's bytes from <paramref name="handle"/> at <paramref name="offset"/> and repacks them.</summary>
    public static Q6KPacked FromFile(SafeFileHandle handle, long offset, int rows, int cols, bool compact, bool quads = false)
    {
        var m = new Q6KPacked(rows, cols, compact, quads);
        TensorChunks.ReadInto(m, m.Fill, handle, offset, (int)GgmlTypeInfo.RowBytes(GgmlType.Q6_K, cols), rows);
        m.MakeQuads();
        return m;
    }

    /// <summary>With <see cref="Quads"/>: regroups every whole group of four rows, filled per row as ql + qh, in place.</summary>
    private void MakeQuads()
    {
        if (!Quads) return;
        RowQuadLayout.Interleave((uint*)Qs, Rows, SuperBlocks, QsPerBlock / 4);
        RowQuadLayout.Interleave(Scales, Rows, SuperBlocks, 16);
        RowQuadLayout.Interleave(D, Rows, SuperBlocks, 1);
    }

    private void Fill(int firstRow, int rows, ReadOnlySpan<byte> src)
    {
        byte* tmp = stackalloc byte[256];
        byte* bytes = stackalloc byte[256]; // the compact form's source vectors
        fixed (byte* s = src)
        {
            for (long i = 0, n = (long)rows * SuperBlocks; i < n; i++)
            {
                var blk = (BlockQ6_K*)(s + i * KQuantDot.Q6Bytes);
                long dst = (long)firstRow * SuperBlocks + i;
                D[dst] = *(ushort*)((byte*)blk + KQuantDot.Q6D);
                for (int j = 0; j < 16; j++) Scales[dst * 16 + j] = blk->Scales[j];
                if (Quads)
                {
                    // Row quads (regrouped by MakeQuads): the file's ql and qh.
                    Buffer.MemoryCopy(blk, Qs + dst * QsPerBlock, 192, 192);
                    continue;
                }
                // The six-bit quants in element order (as KQuantReference.Q6), then element e = 128·g + 16·i + 4·k + m
                // to group g, vector k, lane i, byte m, four bytes at a time.
                byte* ql = (byte*)blk, qh = (byte*)blk + KQuantDot.Q6Qh;
                for (int h = 0; h < 2; h++)
                    for (int l = 0; l < 32; l++)
                    {
                        int a = ql[64 * h + l], c = ql[64 * h + l + 32], bits = qh[32 * h + l];
                        tmp[128 * h + l] = (byte)((a & 0xF) | ((bits & 3) << 4));
                        tmp[128 * h + l + 32] = (byte)((c & 0xF) | (((bits >> 2) & 3) << 4));
                        tmp[128 * h + l + 64] = (byte)((a >> 4) | (((bits >> 4) & 3) << 4));
                        tmp[128 * h + l + 96] = (byte)((c >> 4) | (((bits >> 6) & 3) << 4));
                    }
                // The kernels' eight vectors (one byte per quant), in place for the byte form.
                byte* o = Qs + dst * QsPerBlock, vectors = Compact ? bytes : o;
                for (int g = 0; g < 2; g++)
                    for (int i16 = 0; i16 < 8; i16++)
                        for (int k = 0; k < 4; k++)
                            *(uint*)(vectors + g * 128 + k * 32 + i16 * 4) = *(uint*)(tmp + 128 * g + 16 * i16 + 4 * k);
                if (!Compact) continue;
                // Compact: N_k = group 0's vector k | group 1's << 4, then H_g with vector k's top two bits at bit 2k, 16
                // bytes at a time (16-bit shifts: each mask keeps only bits that come from their own byte).
                var lowNibble = Vector128.Create((byte)0x0F);
                for (int half = 0; half < 32; half += 16)
                {
                    for (int k = 0; k < 4; k++)
                    {
                        var v0 = Vector128.Load(vectors + k * 32 + half);
                        var v1 = Vector128.Load(vectors + 128 + k * 32 + half).AsUInt16();
                        ((v0 & lowNibble) | (Vector128.ShiftLeft(v1, 4).AsByte() & Vector128.Create((byte)0xF0))).Store(o + k * 32 + half);
                    }
                    for (int g = 0; g < 2; g++)
                    {
                        byte* vg = vectors + g * 128 + half;
                        var h = (Vector128.ShiftRightLogical(Vector128.Load(vg).AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x03))
                              | (Vector128.ShiftRightLogical(Vector128.Load(vg + 32).AsUInt16(), 2).AsByte() & Vector128.Create((byte)0x0C))
                              | (Vector128.Load(vg + 64) & Vector128.Create((byte)0x30))
                              | (Vector128.ShiftLeft(Vector128.Load(vg + 96).AsUInt16(), 2).AsByte() & Vector128.Create((byte)0xC0));
                        h.Store(o + 128 + g * 32 + half);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Writes rows [<paramref name="row"/>, row + <paramref name="count"/>) of the compact form in the byte form
    /// (<see cref="Q6Bytes"/>: 256 bytes per super-block, row after row) to <paramref name="dst"/>: what a row block's
    /// prompt tiles read (<see cref="Q6KVnni{TDot, TLayout}"/>), so that the tiles, which reuse each weight vector
    /// across four tokens, do not unpack it again for every tile, while decoding reads the compact form's fewer bytes.
    /// </summary>
    public void ExpandRows(int row, int count, byte* dst)
    {
        if (!Compact) throw new InvalidOperationException("Only the compact form is expanded.");
        if (row < 0 || count < 0 || row > Rows - count) throw new ArgumentOutOfRangeException(nameof(row));
        byte* q = RowQs(row);
        for (long b = 0, n = (long)count * SuperBlocks; b < n; b++, q += Q6Compact.Bytes, dst += Q6Bytes.Bytes)
        {
            // Q6Compact.Load's unpacking with each nibble vector and top-bit plane read once: N_k holds group 0's vector
            // k (low nibbles) and group 1's (high nibbles).
            var h0 = Vector256.Load(q + 128).AsUInt16();
            var h1 = Vector256.Load(q + 160).AsUInt16();
            Expand(q, dst, h0, h1, 0);
            Expand(q, dst, h0, h1, 1);
            Expand(q, dst, h0, h1, 2);
            Expand(q, dst, h0, h1, 3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Expand(byte* q, byte* dst, Vector256<ushort> h0, Vector256<ushort> h1, [ConstantExpected(Min = 0, Max = 3)] int k)
        {
            var nk = Vector256.Load(q + 32 * k);
            Q6Compact.Unpack(nk, h0, k).Store(dst + 32 * k);
            Q6Compact.Unpack(Vector256.ShiftRightLogical(nk.AsUInt16(), 4).AsByte(), h1, k).Store(dst + 128 + 32 * k);
        }
    }

    public void Dispose()
    {
        if (Qs == null) return;
        NativeMemory.AlignedFree(Qs);
        NativeMemory.AlignedFree(Scales);
        NativeMemory.AlignedFree(D);
        Qs = null;
        Scales = null;
        D = null;
    }
}
