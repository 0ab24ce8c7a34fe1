using Microsoft.Extensions.Configuration;

namespace Eurus.Server;

/// <summary>
/// Where <see cref="ServerOptions"/> come from, lowest precedence first: <c>appsettings.json</c> (beside the program,
/// then in the working directory; section <c>Eurus</c>), environment variables (<c>Eurus__Parallel=8</c>; ASP.NET
/// Core's <c>ASPNETCORE_URLS</c> and <c>ASPNETCORE_HTTP_PORTS</c>), then the command line (the flags of
/// <see cref="ServerOptions.Parse(string[])"/>). The API key may come from a file (<c>--api-key-file</c>, a mounted secret).
/// </summary>
internal static class ServerConfiguration
{
    /// <summary>The configuration (JSON files and the environment), before the command line.</summary>
    /// <param name="environment">Environment variables to use instead of the process's (tests).</param>
    /// <param name="jsonFiles">The JSON files to read instead of the two appsettings.json (tests).</param>
    public static IConfiguration Build(IEnumerable<KeyValuePair<string, string?>>? environment = null, string[]? jsonFiles = null)
    {
        var builder = new ConfigurationBuilder();
        foreach (var file in jsonFiles ?? [Path.Combine(AppContext.BaseDirectory, "appsettings.json"), Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json")])
            builder.AddJsonFile(file, optional: true, reloadOnChange: false);
        if (environment is null) builder.AddEnvironmentVariables();
        else builder.AddInMemoryCollection(environment.Select(e => KeyValuePair.Create(e.Key.Replace("__", ":"), e.Value)));
        return builder.Build();
    }

    /// <summary>The options from <paramref name="configuration"/> and then <paramref name="args"/>; throws <see cref="ArgumentException"/> with a one-line message.</summary>
    public static ServerOptions Load(string[] args, IConfiguration configuration)
    {
        var section = configuration.GetSection("Eurus");
        ServerOptions configured;
        try
        {
            configured = section.Get<ServerOptions>(b => b.ErrorOnUnknownConfiguration = true) ?? new ServerOptions();
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"configuration section 'Eurus': {e.Message}");
        }
        // ASP.NET Core's own keys, when the Eurus section names no URLs: ASPNETCORE_URLS, then ASPNETCORE_HTTP_PORTS.
        string? urls = configured.Urls ?? configuration["ASPNETCORE_URLS"] ?? configuration["urls"];
        if (urls is null && configuration["ASPNETCORE_HTTP_PORTS"] is { Length: > 0 } ports)
            urls = string.Join(';', ports.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => $"http://*:{p}"));
        configured = configured with { Urls = urls };

        bool hostOrPort = args.Any(a => a is "--host" or "--port"), urlsFlag = args.Contains("--urls");
        if (hostOrPort && urlsFlag) throw new ArgumentException("Give --urls or --host/--port, not both.");
        // --host/--port on the command line win over URLs from the configuration.
        if (hostOrPort) configured = configured with { Urls = null };
        var options = ServerOptions.Parse(args, configured);
        if (options.ApiKeyFile is { } file)
        {
            string key;
            try { key = File.ReadLines(file).FirstOrDefault()?.Trim() ?? ""; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ArgumentException($"--api-key-file: cannot read '{file}': {e.Message}"); }
            if (key.Length == 0) throw new ArgumentException($"--api-key-file: '{file}' has no key on its first line.");
            options = options with { ApiKey = key, ApiKeyFile = null };
        }
        return options;
    }

    /// <summary>The addresses the server binds: its URLs, or Host:Port.</summary>
    public static string[] Addresses(ServerOptions o) => o.Urls is { } urls
        ? urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        : [$"http://{(o.Host.Contains(':') ? $"[{o.Host}]" : o.Host)}:{o.Port}"];

    /// <summary>Whether every address is a loopback one (localhost, 127.0.0.0/8, ::1).</summary>
    public static bool LoopbackOnly(ServerOptions o) => Addresses(o).All(a =>
    {
        int scheme = a.IndexOf("://", StringComparison.Ordinal);
        string rest = scheme >= 0 ? a[(scheme + 3)..] : a;
        string host = rest.StartsWith('[') ? rest[1..Math.Max(1, rest.IndexOf(']'))] : rest.Split(':', '/')[0];
        return IsLoopbackHost(host);
    });

    /// <summary>localhost, an address of 127.0.0.0/8 or ::1.</summary>
    public static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip);
}
