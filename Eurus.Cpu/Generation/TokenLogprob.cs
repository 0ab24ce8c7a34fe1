namespace Eurus.Cpu.Generation;

/// <summary>A token and the natural log of the probability the model gave it (see <see cref="GeneratedToken.TopLogprobs"/>).</summary>
/// <param name="Id">Token id.</param>
/// <param name="Logprob">Log probability under the model's distribution (raw logits, before sampling settings).</param>
public readonly record struct TokenLogprob(int Id, float Logprob);
