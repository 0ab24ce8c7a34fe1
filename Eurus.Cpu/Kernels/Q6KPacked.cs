using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;
using Microsoft.Win32.SafeHandles;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// A Q6_K matrix repacked for <see cref="VnniKQuant"/> (AVX-VNNI machines): per super-block the 256 six-bit quants
/// unpacked to one unsigned byte each (0–63) in two groups of eight 16-element sub-blocks (elements 0–127, 128–255);
/// in each group vector k (32 bytes, k &lt; 4) holds quants 4k…4k+3 of sub-block i in int32 lane i. Then the sixteen
/// signed scales and the fp16 d. 274 bytes per super-block instead of the file's 210 (measured: see the README), in
/// exchange for kernels with no bit unpacking at all. Filled by reading the file, like <see cref="PackedMatrix"/>.
/// </summary>
internal sealed unsafe class Q6KPacked : IDisposable
{
    private Q6KPacked(int rows, int cols)
    {
        Rows = rows;
        Cols = cols;
        SuperBlocks = cols / 256;
        long n = (long)rows * SuperBlocks;
        Qs = (byte*)NativeMemory.AlignedAlloc((nuint)(n * 256 + 64), 64);
        Scales = (sbyte*)NativeMemory.AlignedAlloc((nuint)(n * 16 + 64), 64);
        D = (ushort*)NativeMemory.AlignedAlloc((nuint)(n * 2 + 64), 64);
    }

    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Super-blocks (256 elements) per row.</summary>
    public int SuperBlocks { get; }
    /// <summary>Unpacked interleaved quants, [rows × super-blocks × 256].</summary>
    public byte* Qs { get; private set; }
    /// <summary>Sub-block scales, [rows × super-blocks × 16].</summary>
    public sbyte* Scales { get; private set; }
    /// <summary>fp16 super-block scales, [rows × super-blocks].</summary>
    public ushort* D { get; private set; }

    public long Bytes => (long)Rows * SuperBlocks * (256 + 16 + 2);

    public byte* RowQs(int row) => Qs + (long)row * SuperBlocks * 256;
    public sbyte* RowScales(int row) => Scales + (long)row * SuperBlocks * 16;
    public ushort* RowD(int row) => D + (long)row * SuperBlocks;

    /// <summary>Repacks rows given in the file layout (<see cref="BlockQ6_K"/>).</summary>
    public static Q6KPacked FromBlocks(int rows, int cols, ReadOnlySpan<byte> fileLayout)
    {
        var m = new Q6KPacked(rows, cols);
        m.Fill(0, rows, fileLayout);
        return m;
    }

    /// <summary>Reads a Q6_K tensor's bytes from <paramref name="handle"/> at <paramref name="offset"/> and repacks them.</summary>
    public static Q6KPacked FromFile(SafeFileHandle handle, long offset, int rows, int cols)
    {
        var m = new Q6KPacked(rows, cols);
        try
        {
            int rowBytes = (int)GgmlTypeInfo.RowBytes(GgmlType.Q6_K, cols);
            int chunkRows = Math.Max(1, (1 << 22) / rowBytes);
            var buffer = new byte[chunkRows * rowBytes];
            for (int r = 0; r < rows; r += chunkRows)
            {
                int n = Math.Min(chunkRows, rows - r);
                var span = buffer.AsSpan(0, n * rowBytes);
                long at = offset + (long)r * rowBytes;
                int read = 0;
                while (read < span.Length)
                {
                    int got = RandomAccess.Read(handle, span[read..], at + read);
                    if (got <= 0) throw new EndOfStreamException($"the file ended while reading weights at {at + read}.");
                    read += got;
                }
                m.Fill(r, n, span);
            }
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    private void Fill(int firstRow, int rows, ReadOnlySpan<byte> src)
    {
        fixed (byte* s = src)
        {
            for (long i = 0, n = (long)rows * SuperBlocks; i < n; i++)
            {
                var blk = (BlockQ6_K*)(s + i * KQuantDot.Q6Bytes);
                long dst = (long)firstRow * SuperBlocks + i;
                D[dst] = *(ushort*)((byte*)blk + KQuantDot.Q6D);
                for (int j = 0; j < 16; j++) Scales[dst * 16 + j] = blk->Scales[j];
                byte* o = Qs + dst * 256;
                // Element e = 128·g + 16·i + 4·k + m → group g, vector k, lane i, byte m.
                for (int e = 0; e < 256; e++)
                {
                    int g = e >> 7, i16 = (e >> 4) & 7, k = (e >> 2) & 3, m = e & 3;
                    o[g * 128 + k * 32 + i16 * 4 + m] = (byte)KQuantReference.Q6(blk, e);
                }
            }
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
