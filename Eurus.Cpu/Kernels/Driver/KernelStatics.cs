using System.Runtime.CompilerServices;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Runs the static initializers of the classes whose static fields the kernels read (<see cref="HalfTable"/>'s table,
/// <see cref="KQuantDot"/>'s index vectors) before any kernel is compiled. The kernels are
/// <c>AggressiveOptimization</c> methods, compiled once at their first call; if a class they read is not yet initialized
/// at that moment, the JIT inserts an initialization check with a helper call into the loop, and around that call it
/// spills every vector register. Measured on the Q4_K tile (the first kernel a Q4_K_M prompt runs, which was compiled
/// before <see cref="HalfTable"/> existed): 118 against 160 GOP/s on one thread.
/// </summary>
internal static class KernelStatics
{
    /// <summary>Initializes the kernels' static tables (cheap after the first call).</summary>
    public static void Initialize()
    {
        RuntimeHelpers.RunClassConstructor(typeof(HalfTable).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(KQuantDot).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(MatMul).TypeHandle); // its statics are read by the row jobs; beforefieldinit: not run by the instance constructor
        RuntimeHelpers.RunClassConstructor(typeof(VnniDot).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(PackedGemm).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(KQuantTile).TypeHandle);
    }
}
