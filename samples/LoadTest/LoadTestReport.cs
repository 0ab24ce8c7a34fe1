using System.Globalization;
using System.Text;

namespace Eurus.LoadTest;

public enum Outcome { Completed, Cancelled, HttpError, BrokenStream, Hung }

/// <summary>One request of one conversation.</summary>
public sealed record RequestResult(int Conversation, int Turn, Outcome Outcome, string? Replica, double StartSeconds, double? FirstTokenSeconds,
    double Seconds, int Tokens, int PromptTokens, int CachedTokens, int Status, string? Error);

public sealed class LoadTestReport
{
    public required List<RequestResult> Results { get; init; }
    public required int Expected { get; init; }
    public required double WallSeconds { get; init; }
    public double? KilledAt { get; init; }
    public double? RestartedAt { get; init; }
    public required Dictionary<string, long> PeakWorkingSet { get; init; }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    public int Count(Outcome o) => Results.Count(r => r.Outcome == o);

    /// <summary>Later turns served by the replica that served the conversation's previous turn (both completed).</summary>
    public (int Same, int Of) Affinity()
    {
        int same = 0, of = 0;
        foreach (var g in Results.GroupBy(r => r.Conversation))
        {
            var turns = g.OrderBy(r => r.Turn).ToList();
            for (int i = 1; i < turns.Count; i++)
                if (turns[i].Replica is { } a && turns[i - 1].Replica is { } b && !a.Contains("fallback") && !b.Contains("fallback"))
                {
                    of++;
                    if (a == b) same++;
                }
        }
        return (same, of);
    }

    public string Summary()
    {
        var ttft = Results.Where(r => r.FirstTokenSeconds is not null).Select(r => r.FirstTokenSeconds!.Value).Order().ToList();
        int tokens = Results.Sum(r => r.Tokens);
        var (same, of) = Affinity();
        var later = Results.Where(r => r.Turn > 0 && r.Outcome is Outcome.Completed).ToList();
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"requests {Results.Count} of {Expected}: completed {Count(Outcome.Completed)}, cancelled by the client {Count(Outcome.Cancelled)}, HTTP errors {Count(Outcome.HttpError)}, broken streams {Count(Outcome.BrokenStream)}, hung {Count(Outcome.Hung)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"time to first token: p50 {Percentile(ttft, 0.5) * 1000:F0} ms, p99 {Percentile(ttft, 0.99) * 1000:F0} ms ({ttft.Count} requests)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"tokens streamed {tokens} in {WallSeconds:F1} s: {tokens / WallSeconds:F1} tokens/s aggregate");
        sb.AppendLine(CultureInfo.InvariantCulture, $"affinity: {same} of {of} later turns on their previous turn's replica; cache-hit prompt tokens {Results.Sum(r => r.CachedTokens)} of {Results.Sum(r => r.PromptTokens)} ({later.Count(r => r.CachedTokens > 1)} of {later.Count} completed later turns reused more than BOS)");
        if (KilledAt is double k) sb.AppendLine(CultureInfo.InvariantCulture, $"replica killed at {k:F1} s, restarted and healthy at {RestartedAt:F1} s");
        sb.Append("peak working set: " + string.Join(", ", PeakWorkingSet.Select(p => $"{p.Key} {p.Value / (1 << 20)} MiB")));
        foreach (var e in Results.Where(r => r.Error is not null).GroupBy(r => r.Error).Take(5))
            sb.Append(CultureInfo.InvariantCulture, $"\n  {e.Count()}× {e.Key}");
        return sb.ToString();
    }

    /// <summary>What makes the run fail: lost or hung requests, errors away from the replica kill, lost affinity, memory over the limit.</summary>
    public List<string> Problems(LoadTestOptions o)
    {
        var problems = new List<string>();
        if (Results.Count != Expected) problems.Add($"{Expected - Results.Count} requests unaccounted for");
        if (Count(Outcome.Hung) > 0) problems.Add($"{Count(Outcome.Hung)} requests hung (over {o.RequestLimit.TotalSeconds} s)");
        // Errors are expected only for requests in flight when the replica died, or sent before the gateway saw it die.
        double window = (RestartedAt ?? 0) + 10;
        var stray = Results.Where(r => r.Outcome is Outcome.HttpError or Outcome.BrokenStream && (KilledAt is null || r.StartSeconds + r.Seconds < KilledAt - 0.5 || r.StartSeconds > window)).ToList();
        if (stray.Count > 0) problems.Add($"{stray.Count} errors away from the replica kill, e.g. {stray[0]}");
        var (same, of) = Affinity();
        if (of > 0 && same < 0.8 * of) problems.Add($"affinity lost: {same} of {of} later turns on their previous turn's replica");
        if (Results.Sum(r => r.CachedTokens) == 0) problems.Add("no prompt-cache hits reported");
        foreach (var (name, bytes) in PeakWorkingSet)
            if (bytes > o.MemoryLimit) problems.Add($"{name} peaked at {bytes >> 20} MiB, over {o.MemoryLimit >> 20} MiB");
        if (Count(Outcome.Completed) == 0) problems.Add("nothing completed");
        return problems;
    }
}
