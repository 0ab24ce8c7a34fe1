using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Activations quantized to Q8_K (<see cref="BlockQ8_K"/>, once per matmul input) for the K-quant dot products in
/// <see cref="KQuantDot"/>: per token, cols / 256 blocks in the file format. For the four-token tiles
/// (<see cref="KQuantTile"/>) each block's scale and its eight 32-element sums (bsums[2j] + bsums[2j+1], what the
/// Q4_K/Q5_K mins multiply) are also stored block-major — all tokens of block b side by side — so a tile reads its
/// four tokens' sums and scales with one load each. For <see cref="VnniKQuant"/> (interleaved Q4_K weights) the values are
/// also stored in <see cref="VnniDot"/>'s group order per super-block (XV), with each block's scale (D) and its eight
/// 32-element sums times the scale (Min, what the mins multiply) as floats; and for Q6_K (<see cref="Q6KPacked"/>) in its
/// 16-element sub-block order (XV16) with −32 × each 16-element sum (Start6). These VNNI forms are block-major too:
/// super-block b of all the prepared tokens side by side (token t at t × 256 bytes, t scales, 8t sums, 16t starts), so
/// a tile reaches its four tokens from one pointer with constant offsets; consecutive super-blocks of one token are
/// <see cref="XVStride"/> bytes apart (the tokens' 256-byte slabs plus a 64-byte pad, so that a token's super-blocks do
/// not all fall into the same cache sets when the token count is a power of two).
/// </summary>
internal sealed unsafe class KQuantActivations : IDisposable
{
    private readonly int _maxTokens, _maxBlocks;
    private byte* _data;
    private short* _pairs;
    private float* _scales;
    private sbyte* _xv, _xv16;
    private float* _d, _min;
    private int* _start6;

    public KQuantActivations(int maxTokens, int maxCols)
    {
        _maxTokens = maxTokens;
        _maxBlocks = Math.Max(1, maxCols / BlockQ8_K.Elements);
        long blocks = (long)maxTokens * _maxBlocks;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)(blocks * BlockQ8_K.Bytes + 64), 64);
        _pairs = (short*)NativeMemory.AlignedAlloc((nuint)(blocks * 16 + 64), 64);
        _scales = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 4 + 64), 64);
        _xv = (sbyte*)NativeMemory.AlignedAlloc((nuint)((long)_maxBlocks * (maxTokens * 256L + Pad) + 64), 64);
        _d = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 4 + 64), 64);
        _min = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 32 + 64), 64);
        _xv16 = (sbyte*)NativeMemory.AlignedAlloc((nuint)((long)_maxBlocks * (maxTokens * 256L + Pad) + 64), 64);
        _start6 = (int*)NativeMemory.AlignedAlloc((nuint)(blocks * 64 + 64), 64);
    }

    /// <summary>Bytes after each super-block's token slabs in the block-major VNNI arrays (one cache line).</summary>
    private const int Pad = 64;

    /// <summary>Blocks per token of the current preparation.</summary>
    public int Blocks { get; private set; }

    /// <summary>Tokens of the current preparation: the block-major arrays' token count.</summary>
    public int Tokens { get; private set; }

    /// <summary>Bytes between super-block b and b + 1 of one token in <see cref="XV"/> and <see cref="XV16"/>.</summary>
    public long XVStride
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Tokens * 256L + Pad;
    }

    /// <summary>Quantizes <paramref name="tokens"/> rows of <paramref name="cols"/> floats (a multiple of 256).</summary>
    public void Prepare(ReadOnlySpan<float> x, int tokens, int cols, bool forVnni = false)
    {
        Begin(tokens, cols);
        for (int t = 0; t < tokens; t++) PrepareToken(x.Slice(t * cols, cols), t, forVnni);
    }

    /// <summary>Sets the shape of the next preparation; then <see cref="PrepareToken"/> fills each token (in any order, concurrently).</summary>
    public void Begin(int tokens, int cols)
    {
        if (tokens < 1 || tokens > _maxTokens || cols % BlockQ8_K.Elements != 0 || cols / BlockQ8_K.Elements > _maxBlocks)
            throw new ArgumentOutOfRangeException(nameof(cols), $"{tokens} tokens of {cols} do not fit K-quant activations.");
        Blocks = cols / BlockQ8_K.Elements;
        Tokens = tokens;
    }

    /// <summary>Quantizes token <paramref name="t"/>'s row <paramref name="x"/> (length 256 × <see cref="Blocks"/>).</summary>
    public void PrepareToken(ReadOnlySpan<float> x, int t, bool forVnni)
    {
        if ((uint)t >= (uint)Tokens || x.Length != Blocks * BlockQ8_K.Elements) throw new ArgumentOutOfRangeException(nameof(t));
        var blocks = new Span<BlockQ8_K>(For(t), Blocks);
        Q8KQuantizer.Quantize(x, blocks);
        for (int b = 0; b < Blocks; b++)
        {
            short* pairs = Pairs(b, t);
            fixed (BlockQ8_K* blk = &blocks[b])
            {
                for (int j = 0; j < 8; j++) pairs[j] = (short)(blk->BSums[2 * j] + blk->BSums[2 * j + 1]);
                *Scales(b, t) = blk->D;
                if (!forVnni) continue;
                long i = (long)b * Tokens + t;
                _d[i] = blk->D;
                for (int j = 0; j < 8; j++) _min[i * 8 + j] = blk->D * pairs[j];
                // Element 4k + m of sub-block j goes to vector k, lane j, byte m.
                long slab = b * XVStride + t * 256L;
                sbyte* xv = _xv + slab;
                for (int j = 0; j < 8; j++)
                    for (int k = 0; k < 8; k++)
                        *(int*)(xv + k * 32 + j * 4) = *(int*)(blk->Qs + 32 * j + 4 * k);
                // Q6_K's order: element 128·g + 16·j + 4·k + m goes to group g, vector k, lane j, byte m; and −32 × each
                // 16-element sum, where its integer sums start.
                sbyte* x16 = _xv16 + slab;
                for (int e = 0; e < 256; e += 4)
                    *(int*)(x16 + (e >> 7) * 128 + ((e >> 2) & 3) * 32 + ((e >> 4) & 7) * 4) = *(int*)(blk->Qs + e);
                for (int j = 0; j < 16; j++) _start6[i * 16 + j] = -32 * blk->BSums[j];
            }
        }
    }

    /// <summary>
    /// Token <paramref name="token"/>'s first super-block in VNNI group order (256 bytes; the next token's follows, the
    /// token's next super-block is <see cref="XVStride"/> bytes on).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public sbyte* XV(int token) => _xv + token * 256L;

    /// <summary>Token <paramref name="token"/>'s first super-block in <see cref="Q6KPacked"/>'s order (laid out as <see cref="XV"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public sbyte* XV16(int token) => _xv16 + token * 256L;

    /// <summary>Token <paramref name="token"/>'s −32 × 16-element sums of its first super-block (16; then the next token's; 16 × <see cref="Tokens"/> per super-block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int* Start6(int token) => _start6 + token * 16L;

    /// <summary>Token <paramref name="token"/>'s first super-block scale (then the next token's; <see cref="Tokens"/> per super-block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* D(int token) => _d + token;

    /// <summary>Token <paramref name="token"/>'s scale × 32-element sums of its first super-block (8; then the next token's; 8 × <see cref="Tokens"/> per super-block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Min(int token) => _min + token * 8L;

    /// <summary>Start of token <paramref name="token"/>'s blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* For(int token) => _data + (long)token * Blocks * BlockQ8_K.Bytes;

    /// <summary>The eight 32-element sums of block <paramref name="block"/> of <paramref name="token"/>; the next token's follow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public short* Pairs(int block, int token) => _pairs + ((long)block * _maxTokens + token) * 8;

    /// <summary>The scale of block <paramref name="block"/> of <paramref name="token"/>; the next token's follows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Scales(int block, int token) => _scales + (long)block * _maxTokens + token;

    /// <summary>Elements between block b and block b+1 of one token in <see cref="Pairs"/> (×8) and <see cref="Scales"/>.</summary>
    public int BlockStride => _maxTokens;

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        NativeMemory.AlignedFree(_pairs);
        NativeMemory.AlignedFree(_scales);
        NativeMemory.AlignedFree(_xv);
        NativeMemory.AlignedFree(_d);
        NativeMemory.AlignedFree(_min);
        NativeMemory.AlignedFree(_xv16);
        NativeMemory.AlignedFree(_start6);
        _data = null;
    }
}
