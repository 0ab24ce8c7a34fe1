using System.Runtime.CompilerServices;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Values the JIT cannot see through (a call it does not inline), for tiles that read one address under two names on
/// purpose. The JIT merges loads from addresses it can prove equal into one load into a register; in a two-row tile
/// that turns each activation vector into a separate load instruction shared by the rows, where two loads folded into
/// the rows' multiply-adds (their memory operands) cost no instruction at all. Reading row B's activations through
/// <see cref="Same{T}"/>'s copy of the pointer keeps the loads apart: the Q4_K tile went from 256 to 224 instructions
/// per super-block and 5–6% faster on Zen 4 (9–10% with AVX-512 off; Q6_K 5–9%, Q5_K 3%: docs/performance-history.md),
/// with the same bytes read and the same sums.
/// </summary>
internal static unsafe class Opaque
{
    /// <summary><paramref name="p"/> itself, which the JIT cannot prove (the call is not inlined).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static T* Same<T>(T* p) where T : unmanaged => p;
}
