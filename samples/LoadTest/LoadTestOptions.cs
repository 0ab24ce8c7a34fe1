using System.Globalization;

namespace Eurus.LoadTest;

/// <summary>The scenario: replicas, conversations, turns, cancellations and the replica kill.</summary>
public sealed record LoadTestOptions
{
    public int Replicas { get; init; } = 3;
    public int Conversations { get; init; } = 64;
    public int Turns { get; init; } = 3;
    public int MaxTokens { get; init; } = 24;
    /// <summary>Share of requests the client cancels after a few tokens.</summary>
    public double CancelFraction { get; init; } = 0.15;
    /// <summary>Kill a replica when this share of the requests has ended, restart it <see cref="RestartAfter"/> later (negative: no kill).</summary>
    public double KillAt { get; init; } = 0.3;
    public TimeSpan RestartAfter { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>A request that takes longer has hung (a failure).</summary>
    public TimeSpan RequestLimit { get; init; } = TimeSpan.FromSeconds(180);
    public int Parallel { get; init; } = 8;
    public int ThreadsPerReplica { get; init; } = 1;
    /// <summary>Most working set of one replica (bytes).</summary>
    public long MemoryLimit { get; init; } = 1L << 30;
    public int Seed { get; init; } = 1;
    /// <summary>Build configuration whose outputs are started (samples/Server/bin/&lt;this&gt;/net10.0).</summary>
    public string Configuration { get; init; } = "Release";
    public string? Model { get; init; }

    public const string Usage = "usage: eurus-loadtest [--replicas 3] [--conversations 64] [--turns 3] [--max-tokens 24] [--cancel 0.15] [--kill-at 0.3|-1] [--parallel 8] [--seed 1] [--configuration Release] [-m MODEL]";

    public static LoadTestOptions Parse(string[] args)
    {
        var o = new LoadTestOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int Int() => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new ArgumentException($"{name} must be a positive integer.");
            double Real() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new ArgumentException($"{name} must be a number.");
            o = name switch
            {
                "--replicas" => o with { Replicas = Int() },
                "--conversations" => o with { Conversations = Int() },
                "--turns" => o with { Turns = Int() },
                "--max-tokens" => o with { MaxTokens = Int() },
                "--cancel" => o with { CancelFraction = Real() },
                "--kill-at" => o with { KillAt = Real() },
                "--parallel" => o with { Parallel = Int() },
                "--seed" => o with { Seed = Int() },
                "--configuration" => o with { Configuration = Value() },
                "-m" => o with { Model = Value() },
                _ => throw new ArgumentException($"unknown option '{name}'."),
            };
        }
        if (o.KillAt >= 0 && o.Replicas < 2) throw new ArgumentException("killing a replica needs at least 2 (or --kill-at -1).");
        return o;
    }
}
