using Eurus.Cpu.Generation;

namespace Eurus.Cpu.Sampling;

/// <summary>
/// Log probabilities of the model's distribution at one position: the log-softmax of the raw logits (what OpenAI and
/// llama-server report), independent of penalties, grammar, the top-k/top-p/min-p filters and the temperature that
/// picked the token. Computed only when asked for; the top list is the one allocation per token.
/// </summary>
internal static class Logprobs
{
    /// <summary>Most alternatives per token (<see cref="SamplingSettings.TopLogprobs"/>), OpenAI's limit.</summary>
    public const int MaxTop = 20;

    /// <summary>log Σ exp(logits), computed stably (max subtracted, summed in double).</summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits) if (x > max) max = x;
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        return max + Math.Log(sum);
    }

    /// <summary>The log probability of <paramref name="id"/> and, when <paramref name="top"/> &gt; 0, the <paramref name="top"/> most likely tokens.</summary>
    public static (float Logprob, TokenLogprob[]? Top) For(ReadOnlySpan<float> logits, int id, int top)
    {
        double lse = LogSumExp(logits);
        float chosen = (float)(logits[id] - lse);
        if (top <= 0) return (chosen, null);
        int k = Math.Min(top, logits.Length);
        // Insertion into a sorted list of k (k ≤ 20): larger logit first, equal logits by lower id.
        Span<int> best = stackalloc int[k];
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float x = logits[i];
            if (n == k && !(x > logits[best[k - 1]])) continue;
            int j = n < k ? n++ : k - 1;
            while (j > 0 && x > logits[best[j - 1]]) { best[j] = best[j - 1]; j--; }
            best[j] = i;
        }
        var result = new TokenLogprob[k];
        for (int i = 0; i < k; i++) result[i] = new TokenLogprob(best[i], (float)(logits[best[i]] - lse));
        return (chosen, result);
    }
}
