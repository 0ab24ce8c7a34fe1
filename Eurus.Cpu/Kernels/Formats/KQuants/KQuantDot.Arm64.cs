using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Eurus.Cpu.Kernels;

// ARM64 with the dot-product extension: the Vector128 kernels with each 16-byte u8×s8 product sum done by one SDOT
// (quants 0…63 are valid signed bytes) instead of the portable widening multiplies, and fused multiply-adds for the
// float accumulation. Without DotProd, ARM64 runs the portable Vector128 kernels.
internal static unsafe partial class KQuantDot
{
    public static float Q4KDp(byte* w, int blocks, byte* x) => QmKDp<FourBits>(w, blocks, x);
    public static float Q5KDp(byte* w, int blocks, byte* x) => QmKDp<FiveBits>(w, blocks, x);

    /// <summary>Σ over 32 bytes of q·a (16 + 16) with two SDOTs, added to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Dot32(Vector128<int> acc, Vector128<byte> q0, Vector128<byte> q1, sbyte* a) =>
        Dp.DotProduct(Dp.DotProduct(acc, q0.AsSByte(), Vector128.Load(a)), q1.AsSByte(), Vector128.Load(a + 16));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float QmKDp<TBits>(byte* w, int blocks, byte* x) where TBits : struct, IQuantBits
    {
        var acc = Vector128<float>.Zero;
        float mins = 0;
        var mask = Vector128.Create((byte)0x0F);
        var sixteen = Vector128.Create((byte)0x10);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * QmKBytes<TBits>(), xb = x + (long)b * Q8Bytes;
            var (sc, mn) = UnpackScales(wb + QmKScales<TBits>());
            byte* q = wb + QmKQs<TBits>();
            sbyte* a = (sbyte*)(xb + Q8Qs);
            var h0 = Five<TBits>() ? Vector128.Load(wb + Q5Qh) : default;
            var h1 = Five<TBits>() ? Vector128.Load(wb + Q5Qh + 16) : default;
            var isum = Vector128<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var v0 = Vector128.Load(q + 32 * c);
                var v1 = Vector128.Load(q + 32 * c + 16);
                var lo0 = v0 & mask;
                var lo1 = v1 & mask;
                var hi0 = Vector128.ShiftRightLogical(v0, 4);
                var hi1 = Vector128.ShiftRightLogical(v1, 4);
                if (Five<TBits>())
                {
                    var m1 = Vector128.Create((byte)(1 << (2 * c)));
                    var m2 = Vector128.Create((byte)(2 << (2 * c)));
                    lo0 |= Vector128.Equals(h0 & m1, m1) & sixteen;
                    lo1 |= Vector128.Equals(h1 & m1, m1) & sixteen;
                    hi0 |= Vector128.Equals(h0 & m2, m2) & sixteen;
                    hi1 |= Vector128.Equals(h1 & m2, m2) & sixteen;
                }
                var lo = Dot32(Vector128<int>.Zero, lo0, lo1, a + 64 * c);
                var hi = Dot32(Vector128<int>.Zero, hi0, hi1, a + 64 * c + 32);
                isum += lo * Vector128.Create((int)((sc >> (16 * c)) & 0xFF)) + hi * Vector128.Create((int)((sc >> (16 * c + 8)) & 0xFF));
            }
            float dx = *(float*)xb;
            acc = AdvSimd.FusedMultiplyAdd(acc, Vector128.ConvertToSingle(isum), Vector128.Create(Half(wb) * dx));
            mins += Half(wb + 2) * dx * MinSum(mn, (short*)(xb + Q8BSums));
        }
        return Vector128.Sum(acc) - mins;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6KDp(byte* w, int blocks, byte* x)
    {
        var acc = Vector128<float>.Zero;
        var mask = Vector128.Create((byte)0x0F);
        var top = Vector128.Create((byte)0x30);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * Q6Bytes, xb = x + (long)b * Q8Bytes;
            sbyte* sc = (sbyte*)(wb + Q6Scales);
            sbyte* a = (sbyte*)(xb + Q8Qs);
            short* bs = (short*)(xb + Q8BSums);
            int offset = 0;
            for (int j = 0; j < 16; j++) offset += sc[j] * bs[j];
            var isum = Vector128.Create(-32 * offset, 0, 0, 0);
            for (int h = 0; h < 2; h++)
                for (int half16 = 0; half16 < 2; half16++)
                {
                    // 16 consecutive l of this half: four groups of 16 elements (l, l+32, l+64, l+96).
                    byte* ql = wb + 64 * h + 16 * half16;
                    var l0 = Vector128.Load(ql);
                    var l1 = Vector128.Load(ql + 32);
                    var hb = Vector128.Load(wb + Q6Qh + 32 * h + 16 * half16);
                    var q0 = (l0 & mask) | (Vector128.ShiftLeft(hb, 4) & top);
                    var q1 = (l1 & mask) | (Vector128.ShiftLeft(hb, 2) & top);
                    var q2 = Vector128.ShiftRightLogical(l0, 4) | (hb & top);
                    var q3 = Vector128.ShiftRightLogical(l1, 4) | (Vector128.ShiftRightLogical(hb, 2) & top);
                    sbyte* ab = a + 128 * h + 16 * half16;
                    int s0 = 8 * h + half16;
                    isum += Dp.DotProduct(Vector128<int>.Zero, q0.AsSByte(), Vector128.Load(ab)) * Vector128.Create((int)sc[s0])
                          + Dp.DotProduct(Vector128<int>.Zero, q1.AsSByte(), Vector128.Load(ab + 32)) * Vector128.Create((int)sc[s0 + 2])
                          + Dp.DotProduct(Vector128<int>.Zero, q2.AsSByte(), Vector128.Load(ab + 64)) * Vector128.Create((int)sc[s0 + 4])
                          + Dp.DotProduct(Vector128<int>.Zero, q3.AsSByte(), Vector128.Load(ab + 96)) * Vector128.Create((int)sc[s0 + 6]);
                }
            acc = AdvSimd.FusedMultiplyAdd(acc, Vector128.ConvertToSingle(isum), Vector128.Create(Half(wb + Q6D) * *(float*)xb));
        }
        return Vector128.Sum(acc);
    }
}
