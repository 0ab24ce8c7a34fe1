using Microsoft.Extensions.Configuration;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace Eurus.Gateway;

/// <summary>
/// A YARP reverse proxy in front of eurus-server replicas: each conversation goes to the replica that holds its prompt
/// prefix (<see cref="ConversationAffinityPolicy"/>), active health checks (<c>/health/live</c>) and passive ones
/// (failed connections) take a dead replica out, and its conversations go to the least busy others until it is back.
/// Streams (server-sent events) pass through unbuffered. The response header <c>X-Eurus-Replica</c> names the replica
/// that served a request.
/// </summary>
public static class GatewayApp
{
    public const string ReplicaHeader = "X-Eurus-Replica";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["-h" or "--help"]) { Console.WriteLine(GatewayOptions.Usage); return 0; }
        WebApplication app;
        try
        {
            var config = new ConfigurationBuilder()
                .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
                .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
                .AddEnvironmentVariables().Build();
            var start = config.GetSection("Gateway").Get<GatewayOptions>() ?? new GatewayOptions();
            if (config["ASPNETCORE_URLS"] is { Length: > 0 } urls) start = start with { Urls = urls };
            app = Build(GatewayOptions.Parse(args, start));
            await app.StartAsync();
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException)
        {
            Console.Error.WriteLine($"eurus-gateway: cannot start: {e.Message}");
            return 1;
        }
        await app.WaitForShutdownAsync();
        return 0;
    }

    public static WebApplication Build(GatewayOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.AddFilter((category, level) => level >= LogLevel.Warning);
        builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<ILoadBalancingPolicy, ConversationAffinityPolicy>();
        var interval = TimeSpan.FromSeconds(options.HealthIntervalSeconds);
        var cluster = new ClusterConfig
        {
            ClusterId = "eurus",
            LoadBalancingPolicy = ConversationAffinityPolicy.PolicyName,
            HealthCheck = new HealthCheckConfig
            {
                AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyAndUnknown,
                Active = new ActiveHealthCheckConfig
                {
                    Enabled = true, Interval = interval, Timeout = interval, Path = "/health/live",
                    Policy = HealthCheckConstants.ActivePolicy.ConsecutiveFailures,
                },
                Passive = new PassiveHealthCheckConfig
                {
                    Enabled = true, Policy = HealthCheckConstants.PassivePolicy.TransportFailureRate, ReactivationPeriod = interval * 2,
                },
            },
            // Generations may stream for minutes between tokens of a slow CPU: no idle timeout shorter than the replicas' own limit.
            HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromMinutes(11) },
            Destinations = options.Replicas.ToDictionary(r => r, r => new DestinationConfig { Address = r }),
        };
        var route = new RouteConfig { RouteId = "all", ClusterId = "eurus", Match = new RouteMatch { Path = "{**catch-all}" } };
        builder.Services.AddReverseProxy().LoadFromMemory([route], [cluster]);
        // One failure in two probes is enough to take a replica out (the default needs 2 consecutive failures).
        builder.Services.Configure<ConsecutiveFailuresHealthPolicyOptions>(o => o.DefaultThreshold = 1);

        var app = builder.Build();
        app.MapGet("/gateway/health", () => Results.Json(new { status = "ok" }));
        app.MapGet("/gateway/replicas", (Yarp.ReverseProxy.IProxyStateLookup state) =>
            Results.Json(state.TryGetCluster("eurus", out var c)
                ? c.Destinations.Values.Select(d => new
                {
                    replica = d.DestinationId,
                    active = d.Health.Active.ToString(),
                    passive = d.Health.Passive.ToString(),
                    in_flight = d.ConcurrentRequestCount,
                })
                : []));
        app.Use(ConversationKey.Middleware);
        app.Use((ctx, next) =>
        {
            ctx.Response.OnStarting(() =>
            {
                if (ctx.Items[typeof(ConversationAffinityPolicy)] is ValueTuple<string, bool> (var replica, var affinity))
                    ctx.Response.Headers[ReplicaHeader] = replica + (affinity ? "" : "; fallback");
                return Task.CompletedTask;
            });
            return next(ctx);
        });
        app.MapReverseProxy();
        return app;
    }
}
