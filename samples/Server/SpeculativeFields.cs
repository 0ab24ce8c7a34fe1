using Eurus.Cpu.Sampling;

namespace Eurus.Server;

/// <summary>
/// Prompt-lookup speculative decoding per request: llama-server's <c>speculative.n_max</c> (most draft tokens per step,
/// 0 to 32; 0 turns it off), defaulting to <see cref="ServerOptions.DraftMax"/>. The answer is the same with or without
/// it (see <see cref="SpeculativeDecoding"/>); only its speed changes.
/// </summary>
internal static class SpeculativeFields
{
    public static SpeculativeDecoding? Read(SamplingFields r, ServerOptions o)
    {
        int max = r.SpeculativeNMax ?? o.DraftMax;
        if (max is < 0 or > 32) throw ApiException.BadRequest($"'speculative.n_max' must be from 0 (off) to 32, not {max}.", "speculative.n_max");
        return max == 0 ? null : new SpeculativeDecoding { MaxDraftTokens = max };
    }
}
