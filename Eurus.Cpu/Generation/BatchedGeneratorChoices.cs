using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Generation;

// n continuations of one prompt (OpenAI's n, self-consistency sampling): the prompt is evaluated once, in the leader's
// slot; its keys and values are then copied into the followers' slots and its last logits sampled by every
// continuation, so each follower starts decoding with no prompt pass of its own. All n decode together in the batch.
public sealed partial class BatchedGenerator
{
    /// <summary>
    /// Submits <paramref name="count"/> continuations of <paramref name="promptTokens"/> that share one evaluation of
    /// the prompt: it is evaluated once, its KV copied into the other continuations' slots and its last logits sampled
    /// by each, and then all of them decode together (a follower's <see cref="GenerationTimings.PromptTokens"/> is 0 and
    /// its <see cref="GenerationTimings.CachedPromptTokens"/> the whole prompt). Continuation <c>i</c> samples with
    /// seed <see cref="SamplingSettings.Seed"/> + <c>i</c> (random seeds when that is null), so with a fixed seed each is
    /// reproducible and equals a single <see cref="Submit(IReadOnlyList{int}, SamplingSettings?, CancellationToken)"/>
    /// with that seed. They start when <paramref name="count"/> slots are free (requests queued after them wait behind
    /// them). Throws as <c>Submit</c> does, and <see cref="ArgumentOutOfRangeException"/> when <paramref name="count"/>
    /// is not 1 to <see cref="BatchedGeneratorOptions.MaxSequences"/>.
    /// </summary>
    public IReadOnlyList<BatchedGeneration> SubmitMany(IReadOnlyList<int> promptTokens, int count, SamplingSettings? settings = null, CancellationToken cancellationToken = default)
    {
        if (count < 1 || count > _slots.Length)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count must be 1 to MaxSequences ({_slots.Length}): the continuations decode together, one slot each.");
        settings = Check(promptTokens, settings);
        var sequences = new Sequence[count];
        for (int i = 0; i < count; i++)
        {
            var own = i == 0 || settings.Seed is not ulong seed ? settings : settings with { Seed = unchecked(seed + (ulong)i) };
            var generation = new BatchedGeneration(promptTokens.Count, cancellationToken);
            sequences[i] = new Sequence(generation, [.. promptTokens], own, new GenerationStep(own, _model.Tokenizer, ContextLength))
            {
                ReuseCache = i == 0 && Options.PromptCache,
                // No prompt-lookup drafting for n > 1 (settings.Speculation is ignored here): the tokens are the same
                // either way, and the n continuations already share each pass.
            };
        }
        var leader = sequences[0];
        if (count > 1)
        {
            leader.Followers = sequences[1..];
            foreach (var f in leader.Followers) f.Leader = leader;
        }
        Enqueue(leader);
        return Array.ConvertAll(sequences, s => s.Generation);
    }

    /// <summary>Starts a group: the leader in its chosen slot (prompt cache as usual), each follower in an idle slot, waiting.</summary>
    private void StartGroup(Sequence leader)
    {
        Start(Choose(leader)!, leader);
        _active++;
        foreach (var f in leader.Followers!)
        {
            Start(Choose(f)!, f); // ReuseCache is off: the least recently used idle slot
            _active++;
        }
    }

    /// <summary>
    /// The leader has just evaluated its whole prompt: each follower still waiting takes a copy of the prompt's KV
    /// and samples its first token from the same <paramref name="logits"/>.
    /// </summary>
    private void ShareFirstStep(Sequence leader, ReadOnlySpan<float> logits)
    {
        int prompt = leader.Generation.PromptTokens;
        foreach (var f in leader.Followers!)
        {
            if (f.Leader != leader || f.Slot?.Sequence != f) continue; // ended meanwhile
            f.Leader = null;
            leader.Slot!.Cache.CopyPrefixTo(f.Slot.Cache, prompt);
            f.Evaluated = prompt;
            f.Reuse = prompt;
            f.Prefilled = true;
            f.PromptSeconds = f.Clock.Elapsed.TotalSeconds;
            f.Clock.Restart();
            Volatile.Write(ref f.Slot.Published, prompt);
            FinishReason reason;
            Exception? error = null;
            try { reason = Next(f, logits); }
            catch (Exception e) { reason = FinishReason.Cancelled; error = e; }
            if (reason == FinishReason.Cancelled) error ??= new OperationCanceledException(f.Generation.Cancellation);
            if (reason != FinishReason.None) Release(f.Slot, reason, error);
        }
        leader.Followers = null;
    }

    /// <summary>A leader ends before its prompt was evaluated: its waiting followers evaluate the prompt themselves.</summary>
    private static void Orphan(Sequence leader)
    {
        foreach (var f in leader.Followers!)
            if (f.Leader == leader) f.Leader = null;
        leader.Followers = null;
    }

    /// <summary>
    /// A queued leader is cancelled: its first follower becomes the leader of the others (returned, to queue in its
    /// place), or null when it led none.
    /// </summary>
    private Sequence? Promote(Sequence leader)
    {
        if (leader.Followers is not { } followers) return null;
        leader.Followers = null;
        var heir = followers[0];
        heir.Leader = null;
        heir.ReuseCache = Options.PromptCache;
        if (followers.Length > 1)
        {
            heir.Followers = followers[1..];
            foreach (var f in heir.Followers) f.Leader = heir;
        }
        return heir;
    }

    /// <summary>Ends a queued sequence and, for a group, its followers.</summary>
    private static void EndGroup(Sequence s, FinishReason reason, Exception? error)
    {
        End(s, reason, error);
        if (s.Followers is not null)
            foreach (var f in s.Followers) End(f, reason, error);
    }

    private sealed partial class Sequence
    {
        /// <summary>Set on a follower until its leader's prompt KV is copied in: it evaluates nothing meanwhile.</summary>
        public Sequence? Leader;
        /// <summary>Set on a leader until its prompt is evaluated: the continuations that share it.</summary>
        public Sequence[]? Followers;
    }
}
