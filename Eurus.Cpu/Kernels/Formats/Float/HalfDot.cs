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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16(Half* w, float* x, int n)
    {
        Span<float> buffer = stackalloc float[Chunk];
        float sum = 0;
        for (int i = 0; i < n; i += Chunk)
        {
            int len = Math.Min(Chunk, n - i);
            var wf = buffer[..len];
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(w + i, len), wf);
            sum += TensorPrimitives.Dot(wf, new ReadOnlySpan<float>(x + i, len));
        }
        return sum;
    }

    /// <summary>Σ w[i]·x[i] for BF16 weights (raw bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BF16(ushort* w, float* x, int n)
    {
        Span<float> buffer = stackalloc float[Chunk];
        float sum = 0;
        for (int i = 0; i < n; i += Chunk)
        {
            int len = Math.Min(Chunk, n - i);
            var wf = buffer[..len];
            FloatConversion.BFloat16ToSingle(new ReadOnlySpan<ushort>(w + i, len), wf);
            sum += TensorPrimitives.Dot(wf, new ReadOnlySpan<float>(x + i, len));
        }
        return sum;
    }
}
