using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// The 128-bit kernels' byte dot product as a struct type parameter: acc += four int32 partial sums of sixteen
/// signed-byte products (the unsigned quants of the nibble formats are at most 63, so they are valid signed bytes), and
/// the float multiply-add the kernels accumulate with. <see cref="SdotByteDot128"/> is ARM64's <c>SDOT</c> (DotProd);
/// <see cref="PortableByteDot128"/> widens and multiplies with the portable Vector128 API (SSE on x64 without AVX2,
/// AdvSimd on ARM64 without DotProd). The row kernels of <see cref="PackedDot"/> and <see cref="KQuantDot"/> are written
/// once over it. The lane a product lands in differs between the two; the kernels only use whole-vector sums per block.
/// </summary>
internal interface IByteDot128
{
    /// <summary>True where this form runs in hardware.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>acc + Σ a[i]·b[i], as four int32 partial sums.</summary>
    static abstract Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b);

    /// <summary>acc + a·b (fused where that is native).</summary>
    static abstract Vector128<float> MultiplyAdd(Vector128<float> acc, Vector128<float> a, Vector128<float> b);

    /// <summary>
    /// The four-row dot of <see cref="QuadDot"/>: int32 lane i of the result is acc[i] + Σ_{j&lt;4} w[4i+j]·x[4·<paramref name="quad"/>+j]
    /// — four rows' four weights each against one quadruplet of activations (ARM64's by-element <c>SDOT</c>).
    /// </summary>
    static abstract Vector128<int> DotQuad(Vector128<int> acc, Vector128<sbyte> w, Vector128<sbyte> x, [ConstantExpected(Min = 0, Max = 3)] byte quad);
}

/// <summary>ARM64 <c>SDOT</c>: four groups of four byte products per instruction, fused float multiply-adds.</summary>
internal readonly struct SdotByteDot128 : IByteDot128
{
    public static bool IsSupported => Dp.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b) => Dp.DotProduct(acc, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> acc, Vector128<float> a, Vector128<float> b) => AdvSimd.FusedMultiplyAdd(acc, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> DotQuad(Vector128<int> acc, Vector128<sbyte> w, Vector128<sbyte> x, [ConstantExpected(Min = 0, Max = 3)] byte quad) =>
        Dp.DotProductBySelectedQuadruplet(acc, w, x, quad);
}

/// <summary>Portable Vector128: bytes widened to int16, multiplied (|products| ≤ 16256), pairs widened to int32; separate multiply and add.</summary>
internal readonly struct PortableByteDot128 : IByteDot128
{
    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b)
    {
        var (al, ah) = Vector128.Widen(a);
        var (bl, bh) = Vector128.Widen(b);
        var (pl, ph) = Vector128.Widen(al * bl + ah * bh);
        return acc + pl + ph;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> acc, Vector128<float> a, Vector128<float> b) => acc + a * b;

    /// <summary>The quadruplet broadcast, the products widened to int16 then int32, each row's four summed (not fast: for the tests and CPUs without SDOT).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> DotQuad(Vector128<int> acc, Vector128<sbyte> w, Vector128<sbyte> x, [ConstantExpected(Min = 0, Max = 3)] byte quad)
    {
        var (wl, wh) = Vector128.Widen(w);
        var (xl, _) = Vector128.Widen(Vector128.Create(x.AsInt32().GetElement(quad)).AsSByte());
        var (r0, r1) = Vector128.Widen(wl * xl); // rows 0 and 1: four products each
        var (r2, r3) = Vector128.Widen(wh * xl); // rows 2 and 3
        return acc + Vector128.Create(Vector128.Sum(r0), Vector128.Sum(r1), Vector128.Sum(r2), Vector128.Sum(r3));
    }
}
