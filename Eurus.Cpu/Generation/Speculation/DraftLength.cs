namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// How many tokens to draft at each decode step, adapted to how the drafts fare. Checking a draft is not free on a CPU:
/// on Mistral-7B Q4_0 at 2 threads a pass over 1 + k tokens costs about 1 + 0.6k one-token passes (1.64× for 2 tokens,
/// 2.4× for 4, 3.0× for 5), so a draft pays only where most of it is kept. A draft kept whole doubles the length (up to
/// the maximum); one rejected at its first token halves it (down to 1); a partly kept one leaves it. A one-token draft
/// rejected at once starts a back-off: the next 1, 2, 4 … 64 steps draft nothing (reset by any kept draft token), so
/// text that does not repeat pays for one failed one-token draft every 64 steps at most (about 1% on 7B).
/// </summary>
internal struct DraftLength(int max)
{
    private const int MaxBackoff = 64;
    private int _limit = Math.Min(max, 2); // a spurious first match costs little (1.5× a step on 7B), a real one doubles it fast
    private int _backoff, _skip;

    /// <summary>Tokens to draft at this step (0: none); call once per decode step.</summary>
    public int Next()
    {
        if (_skip == 0) return _limit;
        _skip--;
        return 0;
    }

    /// <summary>Learns from a verified draft of <paramref name="drafted"/> tokens of which <paramref name="accepted"/> were kept.</summary>
    public void Update(int drafted, int accepted)
    {
        if (drafted == 0) return;
        if (accepted > 0) _backoff = 0;
        if (accepted == drafted) _limit = Math.Min(max, _limit * 2);
        else if (accepted == 0)
        {
            if (_limit == 1)
            {
                _backoff = Math.Min(MaxBackoff, Math.Max(1, _backoff * 2));
                _skip = _backoff;
            }
            _limit = Math.Max(1, _limit / 2);
        }
    }
}
