namespace Eurus.Cli;

/// <summary>A usage error: bad or missing arguments.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>llama.cpp-style arguments: a command word, then <c>-x VALUE</c> / <c>--long VALUE</c> pairs and flags.</summary>
internal sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);

    public string Command { get; private init; } = "help";

    public List<string> Positional { get; } = [];

    private static readonly HashSet<string> Flags = ["verbose", "interactive", "compare", "allow-code-execution", "no-color", "kl-divergence"];

    public static CliArgs Parse(string[] args)
    {
        if (args.Length == 0) return new CliArgs { Command = "help" };
        var a = new CliArgs { Command = args[0] };
        for (int i = 1; i < args.Length; i++)
        {
            string s = args[i];
            if (s.StartsWith('-') && s.Length > 1 && !double.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                string name = s.TrimStart('-');
                if (Flags.Contains(name)) { a._options[name] = null; continue; }
                if (i + 1 >= args.Length) throw new CliUsageException($"option {s} needs a value.");
                a._options[name] = args[++i];
            }
            else a.Positional.Add(s);
        }
        return a;
    }

    /// <summary>Fails on any option not in <paramref name="allowed"/>.</summary>
    public void Reject(params string[] allowed)
    {
        foreach (var k in _options.Keys)
            if (!allowed.Contains(k)) throw new CliUsageException($"unknown option -{(k.Length > 1 ? "-" : "")}{k} for '{Command}'.");
    }

    public string? Get(params string[] names)
    {
        foreach (var n in names) if (_options.TryGetValue(n, out var v)) return v;
        return null;
    }

    public bool Has(string name) => _options.ContainsKey(name);

    public int GetInt(int fallback, params string[] names)
    {
        var v = Get(names);
        if (v is null) return fallback;
        return int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int x)
            ? x : throw new CliUsageException($"-{names[0]} expects an integer, got '{v}'.");
    }

    public float GetFloat(float fallback, params string[] names)
    {
        var v = Get(names);
        if (v is null) return fallback;
        return float.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float x) && float.IsFinite(x)
            ? x : throw new CliUsageException($"-{names[0]} expects a number, got '{v}'.");
    }
}
