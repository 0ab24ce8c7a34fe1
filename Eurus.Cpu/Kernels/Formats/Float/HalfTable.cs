using System.Runtime.CompilerServices;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// fp16 → fp32 by table lookup (256 KiB, built once in bulk): <c>(float)Half</c> is a method call in .NET 10,
/// too slow for one scale per 32-element block in the hot loops. The table is pinned and read through a static readonly
/// pointer, which the JIT embeds as a constant in kernels compiled after the class is initialized
/// (<see cref="KernelStatics"/>): the array reference was reloaded from its static slot in every iteration of the
/// K-quant decode loop (one load more per super-block).
/// </summary>
internal static unsafe class HalfTable
{
    private static readonly float[] Table = Build();
    private static readonly float* Pointer = (float*)Unsafe.AsPointer(ref Table[0]);

    private static float[] Build()
    {
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        var t = GC.AllocateArray<float>(65536, pinned: true);
        Quantization.FloatConversion.HalfToSingle(System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, Half>(bits), t);
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => Pointer[bits];
}
