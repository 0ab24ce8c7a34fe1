namespace Eurus.Cpu.Model;

/// <summary>
/// The run state of a <see cref="Transformer"/> (llama2.c's RunState): every activation buffer, sized once for the
/// most tokens one pass takes and the largest KV cache it attends over, so a pass allocates nothing. Sizes are
/// checked at load (<see cref="RunSizes"/>); the products here are <see langword="checked"/> as well, so a path that
/// skipped that check throws instead of wrapping.
/// </summary>
internal sealed class ForwardState
{
    public ForwardState(MistralConfig c, int maxTokens, int maxKvCapacity)
    {
        MaxTokens = maxTokens;
        MaxKvCapacity = maxKvCapacity;
        X = Pinned(checked(maxTokens * c.Dim));
        Xb = Pinned(checked(maxTokens * c.Dim));
        Q = Pinned(checked(maxTokens * c.Dim));
        K = Pinned(checked(maxTokens * c.KvDim));
        V = Pinned(checked(maxTokens * c.KvDim));
        Ao = Pinned(checked(maxTokens * c.Dim));
        Gate = Pinned(checked(maxTokens * c.FeedForward));
        Up = Pinned(checked(maxTokens * c.FeedForward));
        Scores = new float[checked(c.Heads * maxKvCapacity)];
        KvTmp = new float[checked(c.Heads * KvTmpStride(c))];
        Cos = new float[checked(maxTokens * (c.RopeDim / 2))];
        Sin = new float[checked(maxTokens * (c.RopeDim / 2))];
        Tokens = new SequenceToken[maxTokens];
        Single = new SequenceToken[maxTokens];
        LastLogits = new float[c.Vocab];
    }

    // Matmul inputs and outputs are pinned: the kernels read them through pointers from several threads.
    private static float[] Pinned(int length) => GC.AllocateArray<float>(length, pinned: true);

    public int MaxTokens { get; }
    public int MaxKvCapacity { get; }

    /// <summary>Residual stream, normed input of a matmul, queries, keys, values, attention output: [tokens × width].</summary>
    public float[] X, Xb, Q, K, V, Ao;
    /// <summary>SwiGLU gate (then silu(gate)·up) and up projections: [tokens × FFN].</summary>
    public float[] Gate, Up;
    /// <summary>Attention weights, one row of <see cref="MaxKvCapacity"/> per query head.</summary>
    public float[] Scores;
    /// <summary>
    /// Attention scratch, <see cref="KvTmpStride"/> floats per query head (an F16 cache's rows converted to floats); a
    /// group of query heads uses the scratch of its first head onwards.
    /// </summary>
    public float[] KvTmp;

    /// <summary>Floats of <see cref="KvTmp"/> per query head: enough for one head alone, and a group from its first head on.</summary>
    public static int KvTmpStride(MistralConfig c) => Kernels.CachedAttention.ScratchLength(c.HeadDim, 1);
    /// <summary>RoPE cosines and sines per token of the pass: [tokens × rope_dim/2].</summary>
    public float[] Cos, Sin;
    /// <summary>The pass's tokens, for the attention workers.</summary>
    public SequenceToken[] Tokens;
    /// <summary>Scratch for the one-sequence call (its tokens as <see cref="SequenceToken"/>s).</summary>
    public SequenceToken[] Single;
    /// <summary>Logits of the last token of the most recent one-sequence call.</summary>
    public float[] LastLogits;
}
