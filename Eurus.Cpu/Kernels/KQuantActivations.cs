using System.Runtime.InteropServices;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Activations quantized to Q8_K (<see cref="BlockQ8_K"/>, once per matmul input) for the K-quant dot products in
/// <see cref="KQuantDot"/>: per token, cols / 256 blocks in the file format, in one aligned native buffer.
/// </summary>
internal sealed unsafe class KQuantActivations : IDisposable
{
    private readonly int _maxTokens, _maxBlocks;
    private byte* _data;

    public KQuantActivations(int maxTokens, int maxCols)
    {
        _maxTokens = maxTokens;
        _maxBlocks = maxCols / BlockQ8_K.Elements;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)((long)maxTokens * Math.Max(1, _maxBlocks) * BlockQ8_K.Bytes + 64), 64);
    }

    /// <summary>Blocks per token of the current preparation.</summary>
    public int Blocks { get; private set; }

    /// <summary>Quantizes <paramref name="tokens"/> rows of <paramref name="cols"/> floats (a multiple of 256).</summary>
    public void Prepare(ReadOnlySpan<float> x, int tokens, int cols)
    {
        if (tokens > _maxTokens || cols % BlockQ8_K.Elements != 0 || cols / BlockQ8_K.Elements > _maxBlocks)
            throw new ArgumentOutOfRangeException(nameof(cols), $"{tokens} tokens of {cols} do not fit K-quant activations.");
        Blocks = cols / BlockQ8_K.Elements;
        for (int t = 0; t < tokens; t++)
        {
            var blocks = new Span<BlockQ8_K>(For(t), Blocks);
            KQuantReference.QuantizeQ8_K(x.Slice(t * cols, cols), blocks);
        }
    }

    /// <summary>Start of token <paramref name="token"/>'s blocks.</summary>
    public byte* For(int token) => _data + (long)token * Blocks * BlockQ8_K.Bytes;

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
