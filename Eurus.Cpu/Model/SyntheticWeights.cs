namespace Eurus.Cpu.Model;

/// <summary>What the weights of a synthetic model (<see cref="SyntheticModel"/>) compute.</summary>
public enum SyntheticWeights
{
    /// <summary>
    /// Seeded uniform random matrices (standard deviation 1/sqrt(fan_in)) and norms of 1 ± 0.1: activations and logits
    /// of a realistic size, but no behaviour — the greedy continuation never repeats its input.
    /// </summary>
    Random,

    /// <summary>
    /// A constructed (not trained) copying model: the first three layers hold a hand-built induction circuit —
    /// previous-token heads, products in the feed-forward layers that hash the last two and three tokens, and
    /// induction heads that attend to the earlier place where the same tokens stood — so the greedy continuation of a
    /// prompt that ends inside a passage seen earlier is the rest of that passage (the token that followed the latest
    /// earlier occurrence of the last three tokens, else of the last two). The remaining layers keep full-size random
    /// matrices but write nothing (zero attention output and feed-forward down matrices), so a forward pass costs what
    /// the random model's costs. Where the last tokens never occurred before, the output is arbitrary. The matrices are
    /// ±1-and-zero patterns (scales sit in the F32 norms), so the circuit survives Q8_0, Q4_0 and the K-quant mixtures.
    /// Needs at least three layers, a head dimension of at least 64 and enough width; see <see cref="SyntheticModel"/>.
    /// </summary>
    Induction,
}
