using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Prompt tiles of the 128-bit kernels (ARM64 SDOT, or the portable Vector128 form on ARM64 without DotProd and on x64
/// without AVX2): one row of the plain repack (<see cref="PackedMatrix"/>) × four tokens. Each 16-byte weight load feeds
/// four tokens' dot products instead of one, so a prompt reads each weight from memory once per four tokens. Per token
/// the arithmetic is the row kernel's (<see cref="PackedDot"/>'s <c>Q4Lanes128</c> / <c>Q8Lanes128</c>): the same
/// exact integer block sums, the same two float accumulators taking alternate blocks, the same scalar remainder — so a
/// tile equals the row kernel bit for bit, as <see cref="ITileKernel"/> requires. Eight float accumulators and the
/// shared weight vectors fit ARM64's 32 vector registers.
/// </summary>
internal static unsafe class PackedTile128
{
    /// <summary>Q4_0 row · tokens t…t+3 into y[j·stride] (j = 0…3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4Tile1x4<TDot>(ushort* ws, byte* wq, int blocks, PackedActivations acts, int t, float* y, long stride)
        where TDot : struct, IByteDot128
    {
        var x0 = acts.For(t);
        var x1 = acts.For(t + 1);
        var x2 = acts.For(t + 2);
        var x3 = acts.For(t + 3);
        Vector128<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        var mask = Vector128.Create((byte)0x0F);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var h = PackedDot.Half4(ws + b);
            var d0 = h * Vector128.Load(x0.D + b);
            var d1 = h * Vector128.Load(x1.D + b);
            var d2 = h * Vector128.Load(x2.D + b);
            var d3 = h * Vector128.Load(x3.D + b);
            for (int k = 0; k < 4; k += 2)
            {
                // Block b + k into the even accumulators, b + k + 1 into the odd ones (the row kernel's acc0 / acc1).
                var v = Vector128.Load(wq + (b + k) * 16);
                e0 = Q4Step<TDot>(e0, v, x0, b + k, mask, d0.GetElement(k));
                e1 = Q4Step<TDot>(e1, v, x1, b + k, mask, d1.GetElement(k));
                e2 = Q4Step<TDot>(e2, v, x2, b + k, mask, d2.GetElement(k));
                e3 = Q4Step<TDot>(e3, v, x3, b + k, mask, d3.GetElement(k));
                v = Vector128.Load(wq + (b + k + 1) * 16);
                o0 = Q4Step<TDot>(o0, v, x0, b + k + 1, mask, d0.GetElement(k + 1));
                o1 = Q4Step<TDot>(o1, v, x1, b + k + 1, mask, d1.GetElement(k + 1));
                o2 = Q4Step<TDot>(o2, v, x2, b + k + 1, mask, d2.GetElement(k + 1));
                o3 = Q4Step<TDot>(o3, v, x3, b + k + 1, mask, d3.GetElement(k + 1));
            }
        }
        y[0] = Vector128.Sum(e0 + o0) + PackedDot.Q4Scalar(ws, wq, blocks, x0, b);
        y[stride] = Vector128.Sum(e1 + o1) + PackedDot.Q4Scalar(ws, wq, blocks, x1, b);
        y[2 * stride] = Vector128.Sum(e2 + o2) + PackedDot.Q4Scalar(ws, wq, blocks, x2, b);
        y[3 * stride] = Vector128.Sum(e3 + o3) + PackedDot.Q4Scalar(ws, wq, blocks, x3, b);
    }

    /// <summary>acc + float(block b's exact Σ(q−8)·x) · d, the block's 16 quant bytes already loaded in <paramref name="v"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Q4Step<TDot>(Vector128<float> acc, Vector128<byte> v, in PackedActivations.Token x, int b, Vector128<byte> mask, float d)
        where TDot : struct, IByteDot128 =>
        TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(PackedDot.Q4Block128<TDot>(v, x, b, mask)), Vector128.Create(d));

    /// <summary>Q8_0 row · tokens t…t+3 into y[j·stride] (j = 0…3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8Tile1x4<TDot>(ushort* ws, sbyte* wq, int blocks, PackedActivations acts, int t, float* y, long stride)
        where TDot : struct, IByteDot128
    {
        var x0 = acts.For(t);
        var x1 = acts.For(t + 1);
        var x2 = acts.For(t + 2);
        var x3 = acts.For(t + 3);
        Vector128<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var h = PackedDot.Half4(ws + b);
            var d0 = h * Vector128.Load(x0.D + b);
            var d1 = h * Vector128.Load(x1.D + b);
            var d2 = h * Vector128.Load(x2.D + b);
            var d3 = h * Vector128.Load(x3.D + b);
            for (int k = 0; k < 4; k += 2)
            {
                sbyte* q = wq + (b + k) * 32;
                var lo = Vector128.Load(q);
                var hi = Vector128.Load(q + 16);
                e0 = Q8Step<TDot>(e0, lo, hi, x0, b + k, d0.GetElement(k));
                e1 = Q8Step<TDot>(e1, lo, hi, x1, b + k, d1.GetElement(k));
                e2 = Q8Step<TDot>(e2, lo, hi, x2, b + k, d2.GetElement(k));
                e3 = Q8Step<TDot>(e3, lo, hi, x3, b + k, d3.GetElement(k));
                lo = Vector128.Load(q + 32);
                hi = Vector128.Load(q + 48);
                o0 = Q8Step<TDot>(o0, lo, hi, x0, b + k + 1, d0.GetElement(k + 1));
                o1 = Q8Step<TDot>(o1, lo, hi, x1, b + k + 1, d1.GetElement(k + 1));
                o2 = Q8Step<TDot>(o2, lo, hi, x2, b + k + 1, d2.GetElement(k + 1));
                o3 = Q8Step<TDot>(o3, lo, hi, x3, b + k + 1, d3.GetElement(k + 1));
            }
        }
        y[0] = Vector128.Sum(e0 + o0) + PackedDot.Q8Scalar(ws, wq, blocks, x0, b);
        y[stride] = Vector128.Sum(e1 + o1) + PackedDot.Q8Scalar(ws, wq, blocks, x1, b);
        y[2 * stride] = Vector128.Sum(e2 + o2) + PackedDot.Q8Scalar(ws, wq, blocks, x2, b);
        y[3 * stride] = Vector128.Sum(e3 + o3) + PackedDot.Q8Scalar(ws, wq, blocks, x3, b);
    }

    /// <summary>acc + float(block b's exact Σ q·x) · d, the block's 32 quant bytes already loaded in <paramref name="lo"/>, <paramref name="hi"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Q8Step<TDot>(Vector128<float> acc, Vector128<sbyte> lo, Vector128<sbyte> hi, in PackedActivations.Token x, int b, float d)
        where TDot : struct, IByteDot128 =>
        TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(PackedDot.Q8Block128<TDot>(lo, hi, x, b)), Vector128.Create(d));
}
