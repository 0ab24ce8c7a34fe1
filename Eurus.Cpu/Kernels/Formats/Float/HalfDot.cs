using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// F16 and BF16 weight rows · activations that were rounded to the weight's format and widened back to float once per
/// matmul (llama.cpp rounds activations the same way). The row is widened to float in L1-sized chunks (bulk, vectorised
/// conversions: TensorPrimitives for F16, a shift for BF16) and dotted with TensorPrimitives — whose Vector512/256/128
/// paths are exercised in the ISA-disabled child processes by the matmul tests against <see cref="VecDotReference"/>.
/// </summary>
internal static unsafe class HalfDot
{
    private const int Chunk = 512;

    /// <summary>Σ w[i]·x[i] for F16 weights.</summary>
    public static float F16(Half* w, float* x, int n) => Dot<HalfWidening, Half>(w, x, n);

    /// <summary>Σ w[i]·x[i] for BF16 weights (raw bits).</summary>
    public static float BF16(ushort* w, float* x, int n) => Dot<BFloat16Widening, ushort>(w, x, n);

    /// <summary>Σ w[i]·x[i], the row widened to float by <typeparamref name="TWiden"/> one chunk at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot<TWiden, T>(T* w, float* x, int n) where TWiden : struct, IWidenToSingle<T> where T : unmanaged
    {
        Span<float> buffer = stackalloc float[Chunk];
        float sum = 0;
        for (int i = 0; i < n; i += Chunk)
        {
            int len = Math.Min(Chunk, n - i);
            var wf = buffer[..len];
            TWiden.Widen(new ReadOnlySpan<T>(w + i, len), wf);
            sum += TensorPrimitives.Dot(wf, new ReadOnlySpan<float>(x + i, len));
        }
        return sum;
    }
}

/// <summary>A 16-bit float format widened to float in bulk (type parameter of <see cref="HalfDot"/>).</summary>
internal interface IWidenToSingle<T> where T : unmanaged
{
    static abstract void Widen(ReadOnlySpan<T> source, Span<float> destination);
}

/// <summary>IEEE fp16.</summary>
internal readonly struct HalfWidening : IWidenToSingle<Half>
{
    public static void Widen(ReadOnlySpan<Half> source, Span<float> destination) => TensorPrimitives.ConvertToSingle(source, destination);
}

/// <summary>bfloat16 (raw bits).</summary>
internal readonly struct BFloat16Widening : IWidenToSingle<ushort>
{
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination) => FloatConversion.BFloat16ToSingle(source, destination);
}
