using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Activations quantized to Q8_0 (once per matmul) and laid out for <see cref="PackedDot"/>: per token the block
/// scales as float (D, and D16 with each repeated four times), the first and second 16 values of each block in two
/// arrays (Lo, Hi, matching the Q4_0 nibble halves), Q4_0's offset as four int32 per block (Bias: lane j holds
/// 8 × the sum of the eight values that SIMD lane j multiplies — Lo[4j..4j+3] and Hi[4j..4j+3]), so that
/// Σ(q−8)·x stays an exact integer sum; for the Q8_0 kernels all values widened to int16 (X16), and as bytes (X8)
/// with their negations (NX8) and each block's scale repeated eight times (D8), for the AVX-512 sign trick.
/// For <see cref="VnniDot"/> (interleaved weights): the values in VNNI group order (XV: in each group of eight blocks,
/// 32-byte vector k holds elements 4k…4k+3 of block i in int32 lane i; blocks after the last whole group in order) and
/// per block −8·Σx and −128·Σx (Start8, Start128: where a block's integer sum starts, removing the offsets of Q4_0's
/// unsigned nibbles and Q8_0's +128 weights).
/// </summary>
internal sealed unsafe class PackedActivations : IDisposable
{
    private readonly int _maxTokens, _maxBlocks;
    private readonly BlockQ8_0[] _blocks;
    private float* _d, _d16;
    private int* _bias;
    private sbyte* _lo, _hi;
    private short* _x16;
    private sbyte* _x8, _nx8;
    private float* _d8;
    private sbyte* _xv;
    private int* _start8, _start128;
    private float* _sums;

    /// <summary>Pointers to one token's prepared activations.</summary>
    public readonly struct Token
    {
        public float* D { get; init; }
        public float* D16 { get; init; }
        public int* Bias { get; init; }
        public sbyte* Lo { get; init; }
        public sbyte* Hi { get; init; }
        public short* X16 { get; init; }
        public sbyte* X8 { get; init; }
        public sbyte* NX8 { get; init; }
        public float* D8 { get; init; }
        public sbyte* XV { get; init; }
        public int* Start8 { get; init; }
        public int* Start128 { get; init; }
    }

    public PackedActivations(int maxTokens, int maxCols)
    {
        _maxTokens = maxTokens;
        _maxBlocks = maxCols / 32;
        long blocks = (long)maxTokens * _maxBlocks;
        _blocks = new BlockQ8_0[blocks];
        _d = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 4 + 64), 64);
        _d16 = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 16 + 64), 64);
        _bias = (int*)NativeMemory.AlignedAlloc((nuint)(blocks * 16 + 64), 64);
        _lo = (sbyte*)NativeMemory.AlignedAlloc((nuint)(blocks * 16 + 64), 64);
        _hi = (sbyte*)NativeMemory.AlignedAlloc((nuint)(blocks * 16 + 64), 64);
        _x16 = (short*)NativeMemory.AlignedAlloc((nuint)(blocks * 64 + 64), 64);
        _x8 = (sbyte*)NativeMemory.AlignedAlloc((nuint)(blocks * 32 + 64), 64);
        _nx8 = (sbyte*)NativeMemory.AlignedAlloc((nuint)(blocks * 32 + 64), 64);
        _d8 = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 32 + 64), 64);
        _xv = (sbyte*)NativeMemory.AlignedAlloc((nuint)(blocks * 32 + 64), 64);
        _start8 = (int*)NativeMemory.AlignedAlloc((nuint)(blocks * 4 + 64), 64);
        _start128 = (int*)NativeMemory.AlignedAlloc((nuint)(blocks * 4 + 64), 64);
        _sums = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 4 + 64), 64);
    }

    /// <summary>Bytes from one token's X8 (and NX8, D8) to the next token's: 32 bytes per block in each array.</summary>
    public long TokenStride8 => (long)Blocks * 32;

    /// <summary>Blocks per token of the current preparation.</summary>
    public int Blocks { get; private set; }

    /// <summary>Quantizes <paramref name="tokens"/> rows of <paramref name="cols"/> floats.</summary>
    public void Prepare(ReadOnlySpan<float> x, int tokens, int cols, bool forQ4, bool forQ8, bool forVnni = false, bool forSums = false)
    {
        Begin(tokens, cols);
        for (int t = 0; t < tokens; t++) PrepareToken(x.Slice(t * cols, cols), t, forQ4, forQ8, forVnni, forSums);
    }

    /// <summary>Sets the shape of the next preparation; then <see cref="PrepareToken"/> fills each token (in any order, concurrently).</summary>
    public void Begin(int tokens, int cols)
    {
        if (tokens < 1 || tokens > _maxTokens || cols / 32 > _maxBlocks || cols % 32 != 0) throw new ArgumentOutOfRangeException(nameof(tokens));
        Blocks = cols / 32;
    }

    /// <summary>Quantizes token <paramref name="t"/>'s row <paramref name="x"/> (length = 32 × <see cref="Blocks"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PrepareToken(ReadOnlySpan<float> x, int t, bool forQ4, bool forQ8, bool forVnni = false, bool forSums = false)
    {
        int nb = Blocks;
        if ((uint)t >= (uint)_maxTokens || x.Length != nb * 32) throw new ArgumentOutOfRangeException(nameof(t));
        var blocks = _blocks.AsSpan(t * nb, nb);
        ActivationQuantizer.QuantizeQ8_0(x, blocks);
        for (int b = 0; b < nb; b++)
        {
            long i = (long)t * nb + b;
            float d = HalfTable.ToSingle(BitConverter.HalfToUInt16Bits(blocks[b].D));
            _d[i] = d;
            fixed (sbyte* q = blocks[b].Qs)
            {
                if (forSums)
                {
                    // Σq times the unrounded scale amax/127, rounded to fp16, as llama.cpp's Q8_1 activations carry it
                    // (±Inf past 65504, as there): what Q4_1/Q5_1 minimums multiply.
                    int total = 0;
                    for (int j = 0; j < 32; j++) total += q[j];
                    float amax = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(x.Slice(b * 32, 32)));
                    _sums[i] = (float)(Half)(amax / 127f * total);
                }
                if (forQ4)
                {
                    for (int lane = 0; lane < 4; lane++)
                    {
                        int sum = 0;
                        for (int j = 4 * lane; j < 4 * lane + 4; j++) sum += q[j] + q[16 + j];
                        _bias[i * 4 + lane] = 8 * sum;
                        _d16[i * 4 + lane] = d;
                    }
                    Buffer.MemoryCopy(q, _lo + i * 16, 16, 16);
                    Buffer.MemoryCopy(q + 16, _hi + i * 16, 16, 16);
                }
                if (forQ8)
                {
                    for (int j = 0; j < 32; j++)
                    {
                        _x16[i * 32 + j] = q[j];
                        _x8[i * 32 + j] = q[j];
                        _nx8[i * 32 + j] = (sbyte)-q[j]; // |q| ≤ 127: the quantizer never writes −128
                    }
                    for (int j = 0; j < 8; j++) _d8[i * 8 + j] = d;
                }
                if (forVnni)
                {
                    int sum = SumQuants(q);
                    _start8[i] = -8 * sum;
                    _start128[i] = -128 * sum;
                    // Block b's element 4k + j goes to vector k, lane b mod 8, byte j of its group; tail blocks stay in order.
                    long row = (long)t * nb * 32;
                    if (b < nb / VnniDot.GroupBlocks * VnniDot.GroupBlocks)
                    {
                        sbyte* group = _xv + row + (b & ~7) * 32;
                        for (int k = 0; k < 8; k++) *(int*)(group + k * 32 + (b & 7) * 4) = *(int*)(q + 4 * k);
                    }
                    else Buffer.MemoryCopy(q, _xv + row + b * 32, 32, 32);
                }
            }
        }
    }

    /// <summary>The sum of a block's 32 quants (exact: widened to int16, then int32, in vectors where they run).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SumQuants(sbyte* q)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Load(q));
            var (a, b) = Vector256.Widen(lo + hi);
            return Vector256.Sum(a + b);
        }
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += q[j];
        return sum;
    }

    /// <summary>Token <paramref name="token"/>'s per-block d·Σq (fp16-rounded; prepared with forSums), <see cref="Blocks"/> of them.</summary>
    public float* Sums(int token) => _sums + (long)token * Blocks;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Token For(int token)
    {
        long i = (long)token * Blocks;
        return new Token
        {
            D = _d + i, D16 = _d16 + i * 4, Bias = _bias + i * 4, Lo = _lo + i * 16, Hi = _hi + i * 16, X16 = _x16 + i * 32,
            X8 = _x8 + i * 32, NX8 = _nx8 + i * 32, D8 = _d8 + i * 8, XV = _xv + i * 32, Start8 = _start8 + i, Start128 = _start128 + i,
        };
    }

    public void Dispose()
    {
        if (_d == null) return;
        NativeMemory.AlignedFree(_d);
        NativeMemory.AlignedFree(_d16);
        NativeMemory.AlignedFree(_bias);
        NativeMemory.AlignedFree(_lo);
        NativeMemory.AlignedFree(_hi);
        NativeMemory.AlignedFree(_x16);
        NativeMemory.AlignedFree(_x8);
        NativeMemory.AlignedFree(_nx8);
        NativeMemory.AlignedFree(_d8);
        NativeMemory.AlignedFree(_xv);
        NativeMemory.AlignedFree(_start8);
        NativeMemory.AlignedFree(_start128);
        NativeMemory.AlignedFree(_sums);
        _d = null;
    }
}
