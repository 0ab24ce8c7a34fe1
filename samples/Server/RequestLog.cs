using System.Diagnostics;
using Eurus.Cpu.Generation;

namespace Eurus.Server;

/// <summary>
/// One log line per request (category <c>Eurus.Server.Requests</c>, level Information): method, path, status, time,
/// and for a generation its token counts (evaluated, cached, generated), finish reason and time to first token. No
/// prompt or answer text: with <see cref="ServerOptions.LogPrompts"/> the prompt's text gets a line of its own
/// (<see cref="Prompt"/>); answers are never logged.
/// </summary>
internal static class RequestLog
{
    /// <summary>What a generation request adds to its log line.</summary>
    internal sealed class Generation
    {
        public required string Endpoint;
        public bool Stream;
        public int PromptTokens;
        public GenerationTimings? Timings;
        public string? Outcome;
        public double? FirstTokenSeconds;
    }

    /// <summary>Logs a generation request's prompt text when <see cref="ServerOptions.LogPrompts"/> is set.</summary>
    public static void Prompt(HttpContext ctx, ServerState s, IReadOnlyList<int> prompt)
    {
        if (!s.Options.LogPrompts) return;
        ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Eurus.Server.Requests")
            .LogInformation("{Method} {Path} prompt ({Tokens} tokens): {Prompt}", ctx.Request.Method, ctx.Request.Path.Value, prompt.Count, s.Model.Tokenizer.Decode(prompt));
    }

    public static async Task Middleware(HttpContext ctx, RequestDelegate next)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await next(ctx);
        }
        finally
        {
            var logger = ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Eurus.Server.Requests");
            if (logger.IsEnabled(LogLevel.Information))
            {
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                int status = ctx.RequestAborted.IsCancellationRequested && !ctx.Response.HasStarted ? 499 : ctx.Response.StatusCode;
                if (ctx.Items[typeof(Generation)] is Generation g && g.Timings is { } t)
                    logger.LogInformation("{Method} {Path} {Status} {Ms:F0} ms: {Endpoint} stream={Stream} prompt={PromptTokens} evaluated={Evaluated} cached={Cached} generated={Generated} finish={Finish} outcome={Outcome} ttft_ms={Ttft:F0}",
                        ctx.Request.Method, ctx.Request.Path.Value, status, ms, g.Endpoint, g.Stream, g.PromptTokens, t.PromptTokens, t.CachedPromptTokens,
                        t.GeneratedTokens, t.FinishReason, g.Outcome, g.FirstTokenSeconds * 1000);
                else
                    logger.LogInformation("{Method} {Path} {Status} {Ms:F0} ms", ctx.Request.Method, ctx.Request.Path.Value, status, ms);
            }
        }
    }
}
