using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Q4_K and Q5_K four rows at a time over <see cref="QmKPacked"/>'s row quads (ARM64 with DotProd): per 32-weight
/// sub-block eight by-element <c>SDOT</c>s (<see cref="IByteDot128.DotQuad"/>) leave the four rows' exact sums in the
/// four int32 lanes, which meet the four rows' sub-block scales in one integer multiply-add (llama.cpp's order: the
/// super-block's integer sum Σ_j sc_j·s_j, then × d·d_x in float, minus dmin·d_x·Σ_j m_j·bsum_j). Per super-block
/// and group: 32 weight loads, 32 masks + 32 shifts (the nibbles, valid signed bytes as they are), 64 <c>SDOT</c>,
/// 16 activation loads, 8 scale and 8 min multiply-adds and the fp16 scales of four rows at once — about 60
/// instructions per row-super-block against about 125 for the one-row kernel (<see cref="KQuantDot"/>). Q5_K or-s each
/// quant's fifth bit in from its qh quad (a shift and a mask per vector).
/// <para>
/// The four-token tile unpacks each 64-weight chunk once for its four tokens; per (row, token) it runs the one-token
/// form's operations in the same order (exact integer sums, then two float accumulators: the scaled sums and the
/// scaled mins, subtracted at the end), so prompts equal decoding bit for bit.
/// </para>
/// </summary>
internal static unsafe class KQuantQuads
{
    /// <summary>Vectors 8c…8c+7 of a group's super-block: chunk c's quants, low nibbles (sub-block 2c) and high (2c+1).</summary>
    private struct Chunk
    {
        public Vector128<sbyte> L0, L1, L2, L3, L4, L5, L6, L7, H0, H1, H2, H3, H4, H5, H6, H7;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Chunk Load<TBits>(byte* q, byte* qh, [ConstantExpected(Min = 0, Max = 3)] int c) where TBits : struct, IQuantBits
        {
            var m = Vector128.Create((byte)0x0F);
            byte* p = q + c * 128;
            Chunk k;
            k.L0 = Lo<TBits>(Vector128.Load(p), m, qh, 0, c); k.H0 = Hi<TBits>(Vector128.Load(p), qh, 0, c);
            k.L1 = Lo<TBits>(Vector128.Load(p + 16), m, qh, 1, c); k.H1 = Hi<TBits>(Vector128.Load(p + 16), qh, 1, c);
            k.L2 = Lo<TBits>(Vector128.Load(p + 32), m, qh, 2, c); k.H2 = Hi<TBits>(Vector128.Load(p + 32), qh, 2, c);
            k.L3 = Lo<TBits>(Vector128.Load(p + 48), m, qh, 3, c); k.H3 = Hi<TBits>(Vector128.Load(p + 48), qh, 3, c);
            k.L4 = Lo<TBits>(Vector128.Load(p + 64), m, qh, 4, c); k.H4 = Hi<TBits>(Vector128.Load(p + 64), qh, 4, c);
            k.L5 = Lo<TBits>(Vector128.Load(p + 80), m, qh, 5, c); k.H5 = Hi<TBits>(Vector128.Load(p + 80), qh, 5, c);
            k.L6 = Lo<TBits>(Vector128.Load(p + 96), m, qh, 6, c); k.H6 = Hi<TBits>(Vector128.Load(p + 96), qh, 6, c);
            k.L7 = Lo<TBits>(Vector128.Load(p + 112), m, qh, 7, c); k.H7 = Hi<TBits>(Vector128.Load(p + 112), qh, 7, c);
            return k;
        }

        /// <summary>Low nibbles (sub-block 2c), with Q5_K's fifth bit: bit 2c of the qh byte in the same place.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<sbyte> Lo<TBits>(Vector128<byte> v, Vector128<byte> m, byte* qh, int k, int c) where TBits : struct, IQuantBits
        {
            var w = v & m;
            if (typeof(TBits) == typeof(FiveBits)) w |= Fifth(Vector128.Load(qh + k * 16), 2 * c);
            return w.AsSByte();
        }

        /// <summary>High nibbles (sub-block 2c + 1), with Q5_K's fifth bit: bit 2c + 1 of the qh byte.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<sbyte> Hi<TBits>(Vector128<byte> v, byte* qh, int k, int c) where TBits : struct, IQuantBits
        {
            var w = Vector128.ShiftRightLogical(v, 4);
            if (typeof(TBits) == typeof(FiveBits)) w |= Fifth(Vector128.Load(qh + k * 16), 2 * c + 1);
            return w.AsSByte();
        }

        /// <summary>Bit <paramref name="j"/> of every byte moved to bit 4 (16 or 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<byte> Fifth(Vector128<byte> h, int j) =>
            (j <= 4 ? Vector128.ShiftLeft(h, 4 - j) : Vector128.ShiftRightLogical(h, j - 4)) & Vector128.Create((byte)0x10);
    }

    /// <summary>Four rows' exact sums of sub-blocks 2c (lo) and 2c + 1 (hi) against the token's activations of chunk c at <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<int> Lo, Vector128<int> Hi) Sums<TDot>(in Chunk k, sbyte* a) where TDot : struct, IByteDot128
    {
        var lo = QuadDot.Eight<TDot>(k.L0, k.L1, k.L2, k.L3, Vector128.Load(a), k.L4, k.L5, k.L6, k.L7, Vector128.Load(a + 16));
        var hi = QuadDot.Eight<TDot>(k.H0, k.H1, k.H2, k.H3, Vector128.Load(a + 32), k.H4, k.H5, k.H6, k.H7, Vector128.Load(a + 48));
        return (lo, hi);
    }

    /// <summary>Sub-block j's scales (or mins) of the four rows as int32, from the 16 bytes [j][row] of sub-blocks 4h…4h+3 (<paramref name="half"/> = h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Four(Vector128<byte> half, [ConstantExpected(Min = 0, Max = 3)] int j) => j switch
    {
        0 => Vector128.WidenLower(Vector128.WidenLower(half)).AsInt32(),
        1 => Vector128.WidenUpper(Vector128.WidenLower(half)).AsInt32(),
        2 => Vector128.WidenLower(Vector128.WidenUpper(half)).AsInt32(),
        _ => Vector128.WidenUpper(Vector128.WidenUpper(half)).AsInt32(),
    };

    /// <summary>Σ_j m_j·(bsums[2j] + bsums[2j+1]) for four rows: the mins at <paramref name="mins"/> ([j][row] bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> MinSums(byte* mins, short* bs)
    {
        var m0 = Vector128.Load(mins);
        var m1 = Vector128.Load(mins + 16);
        var s = Four(m0, 0) * Vector128.Create(bs[0] + bs[1]);
        s += Four(m0, 1) * Vector128.Create(bs[2] + bs[3]);
        s += Four(m0, 2) * Vector128.Create(bs[4] + bs[5]);
        s += Four(m0, 3) * Vector128.Create(bs[6] + bs[7]);
        s += Four(m1, 0) * Vector128.Create(bs[8] + bs[9]);
        s += Four(m1, 1) * Vector128.Create(bs[10] + bs[11]);
        s += Four(m1, 2) * Vector128.Create(bs[12] + bs[13]);
        s += Four(m1, 3) * Vector128.Create(bs[14] + bs[15]);
        return s;
    }

    /// <summary>One token's super-block: isum += sc·(chunk sums), for chunk c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Add<TDot>(Vector128<int> isum, in Chunk k, sbyte* a, Vector128<byte> scHalf, [ConstantExpected(Min = 0, Max = 1)] int c2) where TDot : struct, IByteDot128
    {
        var (lo, hi) = Sums<TDot>(k, a);
        var scLo = c2 == 0 ? Four(scHalf, 0) : Four(scHalf, 2);
        var scHi = c2 == 0 ? Four(scHalf, 1) : Four(scHalf, 3);
        return isum + lo * scLo + hi * scHi;
    }

    /// <summary>Rows r…r+3 (a group of <see cref="QmKPacked.Quads"/>) · one Q8_K token (<paramref name="x"/>: its blocks): y[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void X1<TBits, TDot>(QmKPacked w, int row, byte* x, float* y) where TBits : struct, IQuantBits where TDot : struct, IByteDot128
    {
        int blocks = w.SuperBlocks;
        byte* q = w.RowQs(row), qh = typeof(TBits) == typeof(FiveBits) ? w.RowQh(row) : null, sm = w.RowScMin(row);
        ushort* h = w.RowHalves(row);
        Vector128<float> acc = default, accMin = default;
        for (int b = 0; b < blocks; b++, q += 512, qh += 128, sm += 64, h += 8, x += KQuantDot.Q8Bytes)
        {
            sbyte* a = (sbyte*)(x + KQuantDot.Q8Qs);
            var sc0 = Vector128.Load(sm);
            var sc1 = Vector128.Load(sm + 16);
            var isum = Add<TDot>(Vector128<int>.Zero, Chunk.Load<TBits>(q, qh, 0), a, sc0, 0);
            isum = Add<TDot>(isum, Chunk.Load<TBits>(q, qh, 1), a + 64, sc0, 1);
            isum = Add<TDot>(isum, Chunk.Load<TBits>(q, qh, 2), a + 128, sc1, 0);
            isum = Add<TDot>(isum, Chunk.Load<TBits>(q, qh, 3), a + 192, sc1, 1);
            var dx = Vector128.Create(*(float*)x);
            acc = TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(isum), PackedDot.Half4(h) * dx);
            accMin = TDot.MultiplyAdd(accMin, Vector128.ConvertToSingle(MinSums(sm + 32, (short*)(x + KQuantDot.Q8BSums))), PackedDot.Half4(h + 4) * dx);
        }
        (acc - accMin).Store(y);
    }

    /// <summary>Rows r…r+3 · tokens t…t+3: y[j·stride + i] for token t + j, row r + i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void X4<TBits, TDot>(QmKPacked w, int row, KQuantActivations acts, int t, float* y, long stride) where TBits : struct, IQuantBits where TDot : struct, IByteDot128
    {
        int blocks = w.SuperBlocks;
        byte* q = w.RowQs(row), qh = typeof(TBits) == typeof(FiveBits) ? w.RowQh(row) : null, sm = w.RowScMin(row);
        ushort* h = w.RowHalves(row);
        byte* x0 = acts.For(t);
        long ts = acts.For(t + 1) - x0;
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default, m0 = default, m1 = default, m2 = default, m3 = default;
        for (int b = 0; b < blocks; b++, q += 512, qh += 128, sm += 64, h += 8, x0 += KQuantDot.Q8Bytes)
        {
            sbyte* a = (sbyte*)(x0 + KQuantDot.Q8Qs);
            var sc0 = Vector128.Load(sm);
            var sc1 = Vector128.Load(sm + 16);
            Vector128<int> i0, i1, i2, i3;
            var k = Chunk.Load<TBits>(q, qh, 0);
            i0 = Add<TDot>(Vector128<int>.Zero, k, a, sc0, 0);
            i1 = Add<TDot>(Vector128<int>.Zero, k, a + ts, sc0, 0);
            i2 = Add<TDot>(Vector128<int>.Zero, k, a + 2 * ts, sc0, 0);
            i3 = Add<TDot>(Vector128<int>.Zero, k, a + 3 * ts, sc0, 0);
            k = Chunk.Load<TBits>(q, qh, 1);
            i0 = Add<TDot>(i0, k, a + 64, sc0, 1);
            i1 = Add<TDot>(i1, k, a + ts + 64, sc0, 1);
            i2 = Add<TDot>(i2, k, a + 2 * ts + 64, sc0, 1);
            i3 = Add<TDot>(i3, k, a + 3 * ts + 64, sc0, 1);
            k = Chunk.Load<TBits>(q, qh, 2);
            i0 = Add<TDot>(i0, k, a + 128, sc1, 0);
            i1 = Add<TDot>(i1, k, a + ts + 128, sc1, 0);
            i2 = Add<TDot>(i2, k, a + 2 * ts + 128, sc1, 0);
            i3 = Add<TDot>(i3, k, a + 3 * ts + 128, sc1, 0);
            k = Chunk.Load<TBits>(q, qh, 3);
            i0 = Add<TDot>(i0, k, a + 192, sc1, 1);
            i1 = Add<TDot>(i1, k, a + ts + 192, sc1, 1);
            i2 = Add<TDot>(i2, k, a + 2 * ts + 192, sc1, 1);
            i3 = Add<TDot>(i3, k, a + 3 * ts + 192, sc1, 1);
            var d = PackedDot.Half4(h);
            var dmin = PackedDot.Half4(h + 4);
            a0 = Token<TDot>(a0, ref m0, i0, d, dmin, x0, sm);
            a1 = Token<TDot>(a1, ref m1, i1, d, dmin, x0 + ts, sm);
            a2 = Token<TDot>(a2, ref m2, i2, d, dmin, x0 + 2 * ts, sm);
            a3 = Token<TDot>(a3, ref m3, i3, d, dmin, x0 + 3 * ts, sm);
        }
        (a0 - m0).Store(y);
        (a1 - m1).Store(y + stride);
        (a2 - m2).Store(y + 2 * stride);
        (a3 - m3).Store(y + 3 * stride);
    }

    /// <summary>One token's float step of <see cref="X4{TBits, TDot}"/>, as <see cref="X1{TBits, TDot}"/> does it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Token<TDot>(Vector128<float> acc, ref Vector128<float> accMin, Vector128<int> isum, Vector128<float> d, Vector128<float> dmin, byte* x, byte* sm)
        where TDot : struct, IByteDot128
    {
        var dx = Vector128.Create(*(float*)x);
        accMin = TDot.MultiplyAdd(accMin, Vector128.ConvertToSingle(MinSums(sm + 32, (short*)(x + KQuantDot.Q8BSums))), dmin * dx);
        return TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(isum), d * dx);
    }
}
