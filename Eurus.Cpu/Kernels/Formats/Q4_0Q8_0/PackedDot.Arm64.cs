using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Eurus.Cpu.Kernels;

// ARM64 with the dot-product extension (ARMv8.2 DotProd: Apple M1+, Graviton 2+, Ampere Altra, Cortex-A76+).
// SDOT multiplies four groups of four signed bytes and adds each group's sum to one int32 lane — the lane layout of
// x86's VPMADDUBSW + VPMADDWD(1) pair — so the prepared activations (Lo, Hi, Bias; X8) serve it unchanged. Q4_0
// nibbles (0…15) are valid signed bytes, so no unsigned×signed trick is needed. Without DotProd, ARM64 runs the
// portable Vector128 kernels (AdvSimd underneath).
internal static unsafe partial class PackedDot
{
    /// <summary>Q4_0 row · Q8_0 activations with SDOT; two blocks per step into two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4Dp(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x)
    {
        var acc0 = Vector128<float>.Zero;
        var acc1 = Vector128<float>.Zero;
        var mask = Vector128.Create((byte)0x0F);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var d = Half4(ws + b) * Vector128.Load(x.D + b);
            acc0 = AdvSimd.FusedMultiplyAdd(acc0, Vector128.ConvertToSingle(Q4BlockDp(wq, x, b, mask)), Vector128.Create(d.GetElement(0)));
            acc1 = AdvSimd.FusedMultiplyAdd(acc1, Vector128.ConvertToSingle(Q4BlockDp(wq, x, b + 1, mask)), Vector128.Create(d.GetElement(1)));
            acc0 = AdvSimd.FusedMultiplyAdd(acc0, Vector128.ConvertToSingle(Q4BlockDp(wq, x, b + 2, mask)), Vector128.Create(d.GetElement(2)));
            acc1 = AdvSimd.FusedMultiplyAdd(acc1, Vector128.ConvertToSingle(Q4BlockDp(wq, x, b + 3, mask)), Vector128.Create(d.GetElement(3)));
        }
        return Vector128.Sum(acc0 + acc1) + Q4Scalar(ws, wq, blocks, x, b);
    }

    /// <summary>Block <paramref name="b"/>'s exact Σ(q−8)·x in four int32 lanes: starts at −Bias, two SDOTs (low and high nibbles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q4BlockDp(byte* wq, in PackedActivations.Token x, int b, Vector128<byte> mask)
    {
        var v = Vector128.Load(wq + b * 16);
        var start = Vector128<int>.Zero - Vector128.Load(x.Bias + b * 4);
        var lo = Dp.DotProduct(start, (v & mask).AsSByte(), Vector128.Load(x.Lo + b * 16));
        return Dp.DotProduct(lo, Vector128.ShiftRightLogical(v, 4).AsSByte(), Vector128.Load(x.Hi + b * 16));
    }

    /// <summary>Q8_0 row · Q8_0 activations with SDOT: two per block (32 bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8Dp(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x)
    {
        var acc0 = Vector128<float>.Zero;
        var acc1 = Vector128<float>.Zero;
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var d = Half4(ws + b) * Vector128.Load(x.D + b);
            acc0 = AdvSimd.FusedMultiplyAdd(acc0, Vector128.ConvertToSingle(Q8BlockDp(wq, x, b)), Vector128.Create(d.GetElement(0)));
            acc1 = AdvSimd.FusedMultiplyAdd(acc1, Vector128.ConvertToSingle(Q8BlockDp(wq, x, b + 1)), Vector128.Create(d.GetElement(1)));
            acc0 = AdvSimd.FusedMultiplyAdd(acc0, Vector128.ConvertToSingle(Q8BlockDp(wq, x, b + 2)), Vector128.Create(d.GetElement(2)));
            acc1 = AdvSimd.FusedMultiplyAdd(acc1, Vector128.ConvertToSingle(Q8BlockDp(wq, x, b + 3)), Vector128.Create(d.GetElement(3)));
        }
        return Vector128.Sum(acc0 + acc1) + Q8Scalar(ws, wq, blocks, x, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q8BlockDp(sbyte* wq, in PackedActivations.Token x, int b)
    {
        sbyte* q = wq + b * 32, a = x.X8 + b * 32;
        return Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, Vector128.Load(q), Vector128.Load(a)), Vector128.Load(q + 16), Vector128.Load(a + 16));
    }
}
