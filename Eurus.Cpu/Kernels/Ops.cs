using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Eurus.Cpu.Kernels;

/// <summary>Element-wise and normalisation operators of the forward pass (vectorised through TensorPrimitives).</summary>
internal static class Ops
{
    /// <summary>
    /// y = x · 1/sqrt(mean(x²) + eps) · weight, as ggml computes it: each square in float, summed in double, the mean
    /// rounded to float, the square root and the reciprocal in float; x times the scale, then times the weight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] * x[i];
        float mean = (float)(sum / x.Length);
        float scale = 1f / MathF.Sqrt(mean + eps);
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

    /// <summary>
    /// Fills cos/sin of pos·base^(−2i/ropeDim) for i &lt; ropeDim/2 as ggml's RoPE cache does: the angle starts at pos and
    /// is multiplied by powf(base, −2/ropeDim) once per pair, in float; cos and sin of the float angle.
    /// </summary>
    public static void RopeAngles(int pos, float theta, int ropeDim, Span<float> cos, Span<float> sin)
    {
        float step = MathF.Pow(theta, -2f / ropeDim);
        float angle = pos;
        for (int i = 0; i < ropeDim / 2; i++)
        {
            cos[i] = MathF.Cos(angle);
            sin[i] = MathF.Sin(angle);
            angle *= step;
        }
    }

    /// <summary>In-place numerically stable softmax: exp(x − max), the sum in double, times the float of 1/sum (ggml's order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i]; // in double, as ggml's soft_max
        TensorPrimitives.Multiply(x, (float)(1.0 / sum), x);
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
