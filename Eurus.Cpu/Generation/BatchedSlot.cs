namespace Eurus.Cpu.Generation;

/// <summary>One slot of a <see cref="BatchedGenerator"/> as <see cref="BatchedGenerator.GetSlots"/> saw it (a snapshot).</summary>
/// <param name="Index">The slot's number, from 0.</param>
/// <param name="IsProcessing">Whether a request runs in it now.</param>
/// <param name="CachedTokens">Tokens whose keys and values the slot holds: what a request with the same prefix can reuse.</param>
/// <param name="LastUsed">When a request last left (or entered) the slot, in the generator's own order (0: never used); the idle slot with the smallest is given to a new prefix first.</param>
public readonly record struct BatchedSlot(int Index, bool IsProcessing, int CachedTokens, long LastUsed);
