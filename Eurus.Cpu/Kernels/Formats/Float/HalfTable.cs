using System.Runtime.CompilerServices;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// fp16 → fp32 by table lookup (256 KiB, built once in bulk): <c>(float)Half</c> is a method call in .NET 10,
/// too slow for one scale per 32-element block in the hot loops.
/// </summary>
internal static class HalfTable
{
    private static readonly float[] Table = Build();

    private static float[] Build()
    {
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        var t = new float[65536];
        Quantization.FloatConversion.HalfToSingle(System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, Half>(bits), t);
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(Table), bits);
}
