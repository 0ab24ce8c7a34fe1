using System.Numerics.Tensors;

namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// Drafts with a smaller model of the same vocabulary: its greedy continuation, from its own session, which keeps its
/// KV cache between drafts — each draft evaluates only the tokens it has not seen (it rewinds to the common prefix).
/// </summary>
internal sealed class DraftModelDrafter : IDrafter, IDisposable
{
    private readonly InferenceSession _session;
    private readonly int[] _one = new int[1];

    public DraftModelDrafter(EurusModel draft, EurusModel target)
    {
        if (draft.Config.Vocab != target.Config.Vocab)
            throw new ArgumentException($"The draft model's vocabulary ({draft.Config.Vocab} tokens) differs from the model's ({target.Config.Vocab}).");
        Model = draft;
        _session = draft.CreateSession();
    }

    public EurusModel Model { get; }

    public int Draft(ReadOnlySpan<int> history, Span<int> draft)
    {
        int k = Math.Min(draft.Length, _session.ContextLength - history.Length);
        if (k <= 0 || history.IsEmpty) return 0;
        // Rewind to the common prefix, keeping at least the last token to evaluate (its logits start the draft).
        var seen = _session.Tokens;
        int common = 0, limit = Math.Min(seen.Count, history.Length - 1);
        while (common < limit && seen[common] == history[common]) common++;
        _session.Rewind(common);
        var logits = _session.Evaluate(history[common..]);
        for (int i = 0; i < k; i++)
        {
            draft[i] = TensorPrimitives.IndexOfMax(logits);
            if (i + 1 < k)
            {
                _one[0] = draft[i];
                logits = _session.Evaluate(_one);
            }
        }
        return k;
    }

    public void Dispose() => _session.Dispose();
}
