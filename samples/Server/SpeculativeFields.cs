using Eurus.Cpu.Sampling;

namespace Eurus.Server;

/// <summary>
/// Speculative decoding per request: llama-server's <c>speculative.n_max</c> (most draft tokens per step, 0 to 32; 0
/// turns it off), defaulting to <see cref="ServerOptions.EffectiveDraftMax"/>; drafted by the server's draft model
/// (<c>--model-draft</c>) if it has one, else by prompt lookup. The answer is the same with or without it, or for sampled
/// drafts has the same distribution (see <see cref="SpeculativeDecoding"/>); only its speed changes.
/// </summary>
internal static class SpeculativeFields
{
    public static SpeculativeDecoding? Read(SamplingFields r, ServerOptions o, Eurus.Cpu.Generation.EurusModel? draftModel)
    {
        int max = r.SpeculativeNMax ?? o.EffectiveDraftMax;
        if (max is < 0 or > 32) throw ApiException.BadRequest($"'speculative.n_max' must be from 0 (off) to 32, not {max}.", "speculative.n_max");
        return max == 0 ? null : new SpeculativeDecoding { MaxDraftTokens = max, DraftModel = draftModel };
    }
}
