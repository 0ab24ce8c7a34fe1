namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// How many tokens to draft next, adapted to how the drafts fare: a draft kept whole doubles the length (up to the
/// maximum), a draft whose first token is rejected halves it (down to 1), a partly kept one leaves it. Checking a draft
/// is not free on a CPU — on Mistral-7B at 2 threads a pass over 1 + k tokens costs about 1 + k/4 one-token passes —
/// so text that repeats little pays for short drafts only, and text that repeats gets long ones.
/// </summary>
internal struct DraftLength(int max)
{
    private int _limit = Math.Min(max, 4);

    /// <summary>Tokens to draft now.</summary>
    public readonly int Limit => _limit;

    /// <summary>Learns from a verified draft of <paramref name="drafted"/> tokens of which <paramref name="accepted"/> were kept.</summary>
    public void Update(int drafted, int accepted)
    {
        if (drafted == 0) return;
        if (accepted == drafted) _limit = Math.Min(max, _limit * 2);
        else if (accepted == 0) _limit = Math.Max(1, _limit / 2);
    }
}
