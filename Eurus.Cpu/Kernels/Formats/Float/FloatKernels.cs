namespace Eurus.Cpu.Kernels;

// Row kernels of the float formats for the tile driver. The activations of an F16 (BF16) matrix are rounded to F16
// (BF16) and widened back to float once per input, as ggml converts them, so a row is a float dot product.

/// <summary>F32 rows (TensorPrimitives dot) against the float activations <paramref name="x"/> ([tokens × cols]).</summary>
internal readonly unsafe struct F32Rows(byte* data, int rowBytes, int cols, float* x) : IRowKernel
{
    public float Row(int row, int t) =>
        System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(data + (long)row * rowBytes, cols), new ReadOnlySpan<float>(x + (long)t * cols, cols));
}

/// <summary>F16 rows against the F16-rounded activations <paramref name="x"/> (<see cref="HalfDot.F16"/>).</summary>
internal readonly unsafe struct F16Rows(byte* data, int rowBytes, int cols, float* x) : IRowKernel
{
    public float Row(int row, int t) => HalfDot.F16((Half*)(data + (long)row * rowBytes), x + (long)t * cols, cols);
}

/// <summary>BF16 rows against the BF16-rounded activations <paramref name="x"/> (<see cref="HalfDot.BF16"/>).</summary>
internal readonly unsafe struct BF16Rows(byte* data, int rowBytes, int cols, float* x) : IRowKernel
{
    public float Row(int row, int t) => HalfDot.BF16((ushort*)(data + (long)row * rowBytes), x + (long)t * cols, cols);
}
