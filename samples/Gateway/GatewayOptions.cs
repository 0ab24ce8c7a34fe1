namespace Eurus.Gateway;

/// <summary>
/// Options of the gateway, from appsettings.json / the environment (section <c>Gateway</c>: <c>Gateway__Replicas__0=http://…</c>)
/// and the command line (<c>--replica URL</c>, repeated; <c>--urls</c>; <c>--health-interval S</c>).
/// </summary>
public sealed record GatewayOptions
{
    /// <summary>The eurus-server replicas' base URLs. Their order does not matter; their names (the URLs) do: they are hashed.</summary>
    public string[] Replicas { get; init; } = [];
    /// <summary>Where the gateway listens.</summary>
    public string Urls { get; init; } = "http://127.0.0.1:8000";
    /// <summary>Seconds between active health probes of each replica (<c>GET /health/live</c>).</summary>
    public double HealthIntervalSeconds { get; init; } = 2;
    /// <summary>The request header that names a conversation, when the client sends one.</summary>
    public string ConversationHeader { get; init; } = "X-Conversation-Id";
    /// <summary>Most bytes of a request body read to find the conversation key (larger bodies are refused with 413, as the replicas would).</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    public const string Usage = "usage: eurus-gateway --replica http://HOST:PORT [--replica …] [--urls http://127.0.0.1:8000] [--health-interval 2]";

    public static GatewayOptions Parse(string[] args, GatewayOptions start)
    {
        var o = start;
        var replicas = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            switch (name)
            {
                case "--replica": replicas.Add(Value()); break;
                case "--urls": o = o with { Urls = Value() }; break;
                case "--health-interval":
                    o = o with { HealthIntervalSeconds = double.TryParse(Value(), System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0 ? s : throw new ArgumentException("--health-interval must be a positive number of seconds.") };
                    break;
                default: throw new ArgumentException($"unknown option '{name}'. {Usage}");
            }
        }
        if (replicas.Count > 0) o = o with { Replicas = [.. replicas] };
        if (o.Replicas.Length == 0) throw new ArgumentException($"no replicas: give --replica URL (or Gateway:Replicas). {Usage}");
        foreach (var r in o.Replicas)
            if (!Uri.TryCreate(r, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                throw new ArgumentException($"replica '{r}' is not an http(s) URL.");
        if (o.Replicas.Distinct(StringComparer.OrdinalIgnoreCase).Count() != o.Replicas.Length) throw new ArgumentException("a replica is listed twice.");
        return o;
    }
}
