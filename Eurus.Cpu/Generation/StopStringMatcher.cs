namespace Eurus.Cpu.Generation;

/// <summary>
/// Holds back streamed text that might be the start of a stop string, and reports when one appears.
/// </summary>
internal sealed class StopStringMatcher(IReadOnlyList<string> stops)
{
    private string _held = "";

    /// <summary>Adds <paramref name="text"/>; returns what can be emitted now and whether a stop string was found.</summary>
    public (string Emit, bool Hit) Push(string text)
    {
        if (stops.Count == 0) return (text, false);
        string s = _held + text;
        int first = -1;
        foreach (var stop in stops)
        {
            int i = s.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        if (first >= 0)
        {
            _held = "";
            return (s[..first], true);
        }
        // Keep the longest suffix that is a prefix of some stop string.
        int keep = 0;
        foreach (var stop in stops)
            for (int k = Math.Min(stop.Length - 1, s.Length); k > keep; k--)
                if (s.AsSpan(s.Length - k).SequenceEqual(stop.AsSpan(0, k))) { keep = k; break; }
        _held = s[(s.Length - keep)..];
        return (s[..(s.Length - keep)], false);
    }

    /// <summary>Returns whatever was held back plus <paramref name="tail"/> (the stream ended without a stop).</summary>
    public string Flush(string tail)
    {
        var (emit, hit) = Push(tail);
        if (hit) return emit;
        string rest = emit + _held;
        _held = "";
        return rest;
    }
}
