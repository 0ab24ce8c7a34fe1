namespace Eurus.Cpu.Generation;

/// <summary>Options for a <see cref="BatchedGenerator"/>.</summary>
public sealed record BatchedGeneratorOptions
{
    /// <summary>Sequences decoded together (slots); each holds its own KV cache of the model's context length, all allocated (and checked against the memory this process may use) when the generator is created.</summary>
    public int MaxSequences { get; init; } = 4;

    /// <summary>Requests allowed to wait for a free slot; one more raises <see cref="QueueFullException"/>.</summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>
    /// Most tokens evaluated per step, decode tokens of every active sequence first, then prompt chunks of new ones;
    /// 0 picks max(<see cref="MaxSequences"/>, the model's <see cref="ModelOptions.BatchSize"/>).
    /// </summary>
    public int StepTokens { get; init; }

    /// <summary>
    /// Reuse prompt prefixes across requests (llama-server's <c>cache_prompt</c>): each slot keeps the tokens and KV
    /// of its last request, and a new request starts in the slot whose cached tokens share the longest prefix with its
    /// prompt (or copies that prefix from a busy slot), evaluating only the rest. Idle slots are given to new prefixes
    /// least recently used first. The output is the same with or without it. A request can opt out at submission.
    /// </summary>
    public bool PromptCache { get; init; } = true;

    internal void Validate()
    {
        if (MaxSequences < 1 || MaxSequences > 1024) throw new ArgumentOutOfRangeException(nameof(MaxSequences), MaxSequences, "MaxSequences must be 1 to 1024.");
        if (QueueCapacity < 0) throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "QueueCapacity must be ≥ 0.");
        if (StepTokens != 0 && (StepTokens < MaxSequences || StepTokens > 8192))
            throw new ArgumentOutOfRangeException(nameof(StepTokens), StepTokens, "StepTokens must be 0, or MaxSequences to 8192.");
    }
}
