using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Type parameter of the Q6_K kernels of <see cref="VnniKQuant"/>: how group g's vector k of a super-block (32 unsigned
/// six-bit quants in the interleaved order of <see cref="Q6KPacked"/>) is read from its quants. Each kernel is compiled
/// per layout, so the choice costs nothing in the loop.
/// </summary>
internal unsafe interface IQ6Layout
{
    /// <summary>Bytes of quants per super-block.</summary>
    static abstract int Bytes { get; }

    /// <summary>Group <paramref name="g"/>'s vector <paramref name="k"/> of the super-block at <paramref name="q"/>.</summary>
    static abstract Vector256<byte> Load(byte* q, [ConstantExpected(Min = 0, Max = 1)] int g, [ConstantExpected(Min = 0, Max = 3)] int k);
}

/// <summary>One byte per quant: vector k of group g is the 32 bytes at 128·g + 32·k.</summary>
internal readonly unsafe struct Q6Bytes : IQ6Layout
{
    public static int Bytes => 256;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Load(byte* q, [ConstantExpected(Min = 0, Max = 1)] int g, [ConstantExpected(Min = 0, Max = 3)] int k) =>
        Vector256.Load(q + 128 * g + 32 * k);
}

/// <summary>
/// Six bits per quant: nibble vector N_k at 32·k (group 0's vector k in the low nibbles, group 1's in the high ones),
/// then the planes of the top two bits, H_g at 128 + 32·g (bits 2k, 2k+1 of a byte: vector k's bits 4 and 5). A vector
/// costs two loads (from the same cache lines as its neighbours), a shift or two, two masks and an or.
/// </summary>
internal readonly unsafe struct Q6Compact : IQ6Layout
{
    public static int Bytes => 192;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Load(byte* q, [ConstantExpected(Min = 0, Max = 1)] int g, [ConstantExpected(Min = 0, Max = 3)] int k)
    {
        var n = Vector256.Load(q + 32 * k);
        return Unpack(g == 0 ? n : Vector256.ShiftRightLogical(n.AsUInt16(), 4).AsByte(), Vector256.Load(q + 128 + 32 * g).AsUInt16(), k);
    }

    /// <summary>
    /// A group's vector <paramref name="k"/> from its four low bits (the low nibbles of <paramref name="nibbles"/>) and
    /// the group's plane H_g (<paramref name="plane"/>): bits 2k, 2k+1 moved to bits 4, 5 by a shift of 16-bit lanes
    /// (the bits each mask keeps come from their own byte), two masks and an or.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Unpack(Vector256<byte> nibbles, Vector256<ushort> plane, [ConstantExpected(Min = 0, Max = 3)] int k)
    {
        var top = k switch
        {
            0 => Vector256.ShiftLeft(plane, 4),
            1 => Vector256.ShiftLeft(plane, 2),
            2 => plane,
            _ => Vector256.ShiftRightLogical(plane, 2),
        };
        return (nibbles & Vector256.Create((byte)0x0F)) | (top.AsByte() & Vector256.Create((byte)0x30));
    }
}
