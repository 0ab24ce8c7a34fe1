namespace Eurus.Cpu.Model;

/// <summary>
/// Every buffer a session (or a batched generator) will allocate, computed once at load in <see langword="long"/> from
/// the configuration and the options in effect: each must fit in one .NET array, and all of them together in the
/// memory this process may use. A model whose numbers are consistent but absurd (hundreds of heads over a 2^24
/// context, a batch of 4096 over a 2^20 FFN) fails here with a message naming the numbers, instead of wrapping a
/// 32-bit product somewhere in the forward pass. The transformers still size their buffers with
/// <see langword="checked"/> arithmetic, so a path that skipped this check throws instead of writing out of bounds.
/// </summary>
internal sealed class RunSizes
{
    private readonly List<(string What, long Elements, bool FromOptions)> _arrays = [];

    private RunSizes(int capacity, int sequences) => (KvCapacity, Sequences) = (capacity, sequences);

    /// <summary>KV positions per sequence (the context, or the sliding window plus one prompt chunk).</summary>
    public int KvCapacity { get; }

    /// <summary>Sequences whose KV caches are counted in <see cref="TotalBytes"/>.</summary>
    public int Sequences { get; }

    /// <summary>Bytes of one sequence's KV cache.</summary>
    public long KvBytesPerSequence { get; private set; }

    /// <summary>Bytes of the forward pass's scratch (activations, attention scores, matmul buffers, logits): an estimate within a few percent.</summary>
    public long ScratchBytes { get; private set; }

    /// <summary>Every sequence's KV cache plus the scratch.</summary>
    public long TotalBytes => KvBytesPerSequence * Sequences + ScratchBytes;

    /// <summary>
    /// The sizes for <paramref name="sequences"/> sequences of <paramref name="context"/> positions, prompts evaluated
    /// <paramref name="batch"/> tokens per call, <paramref name="stepTokens"/> tokens per multi-sequence step (0: none).
    /// </summary>
    public static RunSizes For(MistralConfig c, int context, int batch, int? window, KvCacheType kv, int sequences = 1, int stepTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        int capacity = KvCache.CapacityFor(context, batch, window);
        var s = new RunSizes(capacity, sequences);
        int tokens = Math.Max(batch, stepTokens);
        long maxCols = Math.Max(c.Dim, c.FeedForward);
        s.Add($"head_count ({c.Heads}) × {capacity} KV positions of attention scores", (long)c.Heads * capacity, false);
        s.Add($"KV width ({c.KvDim} = head_count_kv {c.KvHeads} × head dim {c.HeadDim}) × {capacity} KV positions of one layer's keys", KvCache.LayerElements(c.KvDim, capacity), false);
        s.Add($"batch of {tokens} tokens × feed_forward_length ({c.FeedForward}) activations", (long)tokens * c.FeedForward, true);
        s.Add($"batch of {tokens} tokens × embedding_length ({c.Dim}) activations", (long)tokens * c.Dim, true);
        s.Add($"batch of {tokens} tokens × vocabulary ({c.Vocab}) logits", (long)Math.Max(stepTokens, 1) * c.Vocab, stepTokens > 1);
        s.KvBytesPerSequence = KvCache.BytesFor(c.Layers, c.KvDim, capacity, kv);
        // Activation buffers (x, xb, q, ao: dim; k, v: kv width; gate, up: FFN), attention scores and the logits, as
        // floats; matmul scratch (quantized activations in every layout, F16/BF16 copies): about 24 bytes per element.
        s.ScratchBytes = 4L * tokens * (4L * c.Dim + 2L * c.KvDim + 2L * c.FeedForward)
                         + 4L * c.Heads * capacity
                         + 24L * tokens * maxCols
                         + 4L * c.Vocab * (Math.Max(stepTokens, 1) + 2);
        return s;
    }

    private void Add(string what, long elements, bool fromOptions) => _arrays.Add((what, elements, fromOptions));

    /// <summary>
    /// The first buffer that does not fit in an array, with whether the options (rather than the model alone) made it
    /// that large; null when all fit.
    /// </summary>
    public (string Problem, bool FromOptions)? FirstTooLarge()
    {
        foreach (var (what, n, fromOptions) in _arrays)
            if (n > Array.MaxLength)
                return ($"{what} is {n:N0} elements, more than one array holds ({Array.MaxLength:N0})", fromOptions);
        return null;
    }

    /// <summary>Bytes this process may use (the machine's memory, or the container's or GC's limit).</summary>
    public static long AvailableBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Throws <see cref="InsufficientMemoryException"/> when <see cref="TotalBytes"/> exceeds <paramref name="available"/>.</summary>
    public void CheckMemory(long available, string what)
    {
        if (TotalBytes <= available) return;
        throw new InsufficientMemoryException(
            $"{what} needs {Gib(TotalBytes)} ({Sequences} × {Gib(KvBytesPerSequence)} of KV cache for {KvCapacity} positions, " +
            $"{Gib(ScratchBytes)} of scratch) but this process can use {Gib(available)}. Use a smaller context " +
            "(ModelOptions.ContextLength, --ctx-size), an F16 KV cache, fewer sequences or a smaller batch.");
    }

    private static string Gib(long bytes) => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB";
}
