using Prometheus;

namespace Eurus.Server;

/// <summary>Health (liveness, readiness), slots and metrics.</summary>
internal static class StatusEndpoints
{
    public static void Map(WebApplication app)
    {
        // /health: llama-server's, with the slot and step counters; 503 once the server is stopping.
        app.MapGet("/health", (ServerState s) => Results.Json(new
        {
            status = s.Stopping ? "stopping" : "ok",
            slots_idle = s.Options.Parallel - s.Generator.ActiveSequences,
            slots_processing = s.Generator.ActiveSequences,
            requests_queued = s.Generator.QueuedRequests,
            steps = s.Generator.Steps,
            step_tokens = s.Generator.StepTokens,
        }, statusCode: s.Stopping ? 503 : 200));
        // Liveness: the process answers (restart it if not). Readiness: send it traffic (not while stopping, nor with a full queue).
        app.MapGet("/health/live", () => Results.Json(new { status = "alive" }));
        app.MapGet("/health/ready", (ServerState s) =>
        {
            string? reason = s.Stopping ? "stopping" : s.Generator.QueuedRequests >= s.Options.Queue && s.Generator.ActiveSequences >= s.Options.Parallel ? "queue_full" : null;
            return Results.Json(new
            {
                status = reason ?? "ready",
                slots_idle = s.Options.Parallel - s.Generator.ActiveSequences,
                requests_queued = s.Generator.QueuedRequests,
            }, statusCode: reason is null ? 200 : 503);
        });
        // llama-server's /slots: each slot's state and its prompt cache.
        app.MapGet("/slots", (ServerState s) => Results.Json(s.Generator.GetSlots().Select(x => new
        {
            id = x.Index,
            is_processing = x.IsProcessing,
            n_ctx = s.Generator.ContextLength,
            n_cached = x.CachedTokens,
            last_used = x.LastUsed,
        })));
        app.MapMetrics("/metrics", app.Services.GetRequiredService<ServerState>().Metrics.Registry);
    }
}
