using System.Runtime.Intrinsics;
using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// AVX-VNNI's <c>VPDPBUSD</c> written out in plain integer arithmetic: int32 lane i of the result is acc[i] plus the four
/// products of unsigned weight bytes 4i…4i+3 and signed activation bytes 4i…4i+3, wrapping like the instruction (no
/// saturation). The VNNI forms of the kernels (<see cref="VnniDot"/>, <see cref="VnniKQuant"/>: the +128 Q8_0 weights
/// started from −128·Σx, sums kept as int32 lanes with nothing to widen) are generic over <see cref="IByteDot"/>, so with
/// this struct they run — and are tested — on every machine, not only on the AVX-VNNI CPUs that run them in production
/// (a Zen 4 or an AVX2-only CPU would otherwise never execute that arithmetic). Slow; for tests only.
/// </summary>
internal readonly unsafe struct EmulatedVnniByteDot : IByteDot
{
    public static bool IsSupported => true;

    public static bool Q8Bias => true;

    public static Vector256<int> Dp(Vector256<int> acc, Vector256<byte> w, sbyte* x)
    {
        int* lanes = stackalloc int[8];
        for (int i = 0; i < 8; i++)
        {
            int sum = acc.GetElement(i);
            for (int j = 0; j < 4; j++) sum = unchecked(sum + w.GetElement(4 * i + j) * x[4 * i + j]);
            lanes[i] = sum;
        }
        return Vector256.Load(lanes);
    }

    public static Vector256<int> DpQ8(Vector256<int> acc, Vector256<byte> w, sbyte* x) => Dp(acc, w, x);

    public static Vector256<int> Pairs(Vector256<int> acc, Vector256<byte> w, sbyte* x) => Dp(acc, w, x);

    public static Vector256<int> Widen(Vector256<int> pairs) => pairs;

    public static Vector256<int> Dp2(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1) => Dp(Dp(acc, w0, x0), w1, x1);

    public static Vector256<int> Dp4(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1,
        Vector256<byte> w2, sbyte* x2, Vector256<byte> w3, sbyte* x3) => Dp(Dp(Dp(Dp(acc, w0, x0), w1, x1), w2, x2), w3, x3);
}
