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
    /// A constructed (not trained) copying model. The first seven layers hold a hand-built induction circuit —
    /// previous-token heads, products in the feed-forward layers that hash the last 2..5 tokens (and a skip-gram
    /// reaching 8 back), and induction heads that attend where the same tokens stood before — so the greedy
    /// continuation of a prompt that ends inside a passage seen earlier is the rest of that passage: the token that
    /// followed the longest matching context (up to 6 tokens; among equal matches, mostly the most frequent follower,
    /// with a slight preference for the latest). Where nothing matches (not even the current token) the output is
    /// arbitrary; a run of one token longer than the matched context (e.g. indentation the answer changed) can repeat
    /// forever. The remaining layers keep full-size random matrices but write nothing (zero attention output and
    /// feed-forward down matrices), so a forward pass costs what the random model's costs. The matrices are
    /// ±1-and-zero patterns (the scales sit in the F32 norms) that Q8_0, Q4_0 and the K-quant mixtures store almost
    /// exactly. Needs a BOS token at position 0 (the heads' attention sink), at least seven layers, a head dimension of
    /// at least 64 and enough width (the 7B shape: 192-dim token codes, 8 heads per induction layer); see
    /// <see cref="SyntheticModel"/>.
    /// </summary>
    Induction,
}
