namespace Eurus.Cpu.Grading;

/// <summary>
/// Self-consistency (Wang et al., 2022) over k sampled answers to one math problem: the majority answer (maj@k) and
/// the unbiased pass@k estimator (Chen et al., 2021).
/// </summary>
public static class SelfConsistency
{
    /// <summary>
    /// The answer most of <paramref name="answers"/> agree on, or null when none has one. Answers are grouped by
    /// <see cref="MathAnswer.AreEquivalent"/> (an answer joins the first group whose first answer it equals, so
    /// <c>0.5</c> and <c>\frac{1}{2}</c> vote together); null answers (nothing extracted) do not vote. A tie goes to
    /// the group whose first answer came earliest, and the group's first answer is returned.
    /// </summary>
    public static string? MajorityAnswer(IReadOnlyList<string?> answers)
    {
        ArgumentNullException.ThrowIfNull(answers);
        var groups = new List<(string First, int Count)>();
        foreach (var a in answers)
        {
            if (a is null || MathAnswer.Normalize(a).Length == 0) continue;
            int g = groups.FindIndex(x => MathAnswer.AreEquivalent(a, x.First));
            if (g < 0) groups.Add((a, 1));
            else groups[g] = (groups[g].First, groups[g].Count + 1);
        }
        int best = -1;
        for (int i = 0; i < groups.Count; i++)
            if (best < 0 || groups[i].Count > groups[best].Count) best = i; // strictly more: ties keep the earlier group
        return best < 0 ? null : groups[best].First;
    }

    /// <summary>
    /// The unbiased estimate of pass@<paramref name="k"/> from <paramref name="samples"/> samples of which
    /// <paramref name="correct"/> are correct: 1 − C(n−c, k) / C(n, k), the chance that k of the samples drawn without
    /// replacement include a correct one. With k = n it is 1 when any is correct; with k = 1 it is c / n.
    /// </summary>
    public static double PassAtK(int samples, int correct, int k)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), samples, "samples must be ≥ 1.");
        if (correct < 0 || correct > samples) throw new ArgumentOutOfRangeException(nameof(correct), correct, "correct must be 0 to samples.");
        if (k < 1 || k > samples) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be 1 to samples.");
        if (samples - correct < k) return 1.0;
        // C(n−c, k) / C(n, k) = Π_{i=n−c+1}^{n} (1 − k / i), as a product (no large binomials).
        double miss = 1.0;
        for (int i = samples - correct + 1; i <= samples; i++) miss *= 1.0 - (double)k / i;
        return 1.0 - miss;
    }
}
