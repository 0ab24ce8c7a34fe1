using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Eurus.Cpu.Kernels;

/// <summary>Element-wise and normalisation operators of the forward pass (vectorised through TensorPrimitives).</summary>
internal static class Ops
{
    /// <summary>y = x / sqrt(mean(x²) + eps) · weight (the mean accumulated in double, as ggml does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] * (double)x[i];
        float scale = (float)(1.0 / Math.Sqrt(sum / x.Length + eps));
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>Rotates adjacent pairs (x[2i], x[2i+1]) of one head by pos·θ_i (GGUF's RoPE layout), for the first cos.Length pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RopeAdjacent(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++)
        {
            float x0 = head[2 * i], x1 = head[2 * i + 1];
            head[2 * i] = x0 * cos[i] - x1 * sin[i];
            head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
        }
    }

    /// <summary>Fills cos/sin of pos·base^(−2i/ropeDim) for i &lt; ropeDim/2 (angles in double for accuracy).</summary>
    public static void RopeAngles(int pos, float theta, int ropeDim, Span<float> cos, Span<float> sin)
    {
        for (int i = 0; i < ropeDim / 2; i++)
        {
            double angle = pos * Math.Pow(theta, -2.0 * i / ropeDim);
            cos[i] = (float)Math.Cos(angle);
            sin[i] = (float)Math.Sin(angle);
        }
    }

    /// <summary>In-place numerically stable softmax.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        float sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i]; // in order, as before vectorising the exponentials
        TensorPrimitives.Multiply(x, 1f / sum, x);
    }

    /// <summary>gate = silu(gate) · up = gate / (1 + e^−gate) · up (vectorised, in chunks through a stack buffer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluMul(Span<float> gate, ReadOnlySpan<float> up)
    {
        if (up.Length < gate.Length) throw new ArgumentException("up is shorter than gate.", nameof(up));
        Span<float> sigmoid = stackalloc float[1024];
        for (int i = 0; i < gate.Length; i += sigmoid.Length)
        {
            int n = Math.Min(sigmoid.Length, gate.Length - i);
            var g = gate.Slice(i, n);
            var s = sigmoid[..n];
            TensorPrimitives.Negate(g, s);
            TensorPrimitives.Exp(s, s);
            TensorPrimitives.Add(s, 1f, s);
            TensorPrimitives.Divide(g, s, g);
            TensorPrimitives.Multiply(g, up.Slice(i, n), g);
        }
    }
}
