namespace Eurus.Server;

/// <summary>
/// Keeps web pages from driving the server through a user's browser (llama-server and Ollama had to add the same):
/// <list type="bullet">
/// <item>a POST must say <c>Content-Type: application/json</c> (415 otherwise): a page can send a form or
/// <c>text/plain</c> body to any address without asking, but JSON needs a CORS preflight, which this server does not grant;</item>
/// <item>a request with an <c>Origin</c> header (sent by browsers) is refused with 403 unless the origin is in
/// <see cref="ServerOptions.AllowedOrigins"/>;</item>
/// <item>a server bound to loopback only answers requests whose <c>Host</c> is a loopback name (421 otherwise), so a
/// DNS-rebinding page (evil.example resolving to 127.0.0.1) cannot reach it.</item>
/// </list>
/// Health checks and metrics (GET, no side effects) are exempt from the Host check, for probes and scrapers.
/// </summary>
internal static class BrowserGuard
{
    public static Task Check(HttpContext ctx, RequestDelegate next)
    {
        var state = ctx.RequestServices.GetRequiredService<ServerState>();
        var o = state.Options;
        var req = ctx.Request;
        if (state.LoopbackOnly && !IsProbe(req) && !LoopbackHost(req.Host))
            return ApiException.Write(ctx, 421, $"Host '{req.Host}' is not a loopback name; this server listens on loopback only (use --host or --urls to serve other names).",
                "invalid_request_error", code: "host_not_allowed");
        if (req.Headers.Origin.ToString() is { Length: > 0 } origin && !o.AllowedOrigins.Contains("*") && !o.AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase))
            return ApiException.Write(ctx, 403, $"Requests from the web origin '{origin}' are not allowed (--allowed-origin).", "invalid_request_error", code: "origin_not_allowed");
        if (HttpMethods.IsPost(req.Method) && !IsJson(req.ContentType))
            return ApiException.Write(ctx, 415, $"The request body must be JSON, sent with 'Content-Type: application/json' (got '{req.ContentType}').",
                "invalid_request_error", code: "unsupported_media_type");
        return next(ctx);
    }

    private static bool IsProbe(HttpRequest req) =>
        HttpMethods.IsGet(req.Method) && (req.Path.StartsWithSegments("/health") || req.Path.StartsWithSegments("/metrics"));

    private static bool LoopbackHost(HostString host) => host.HasValue && ServerConfiguration.IsLoopbackHost(host.Host.Trim('[', ']'));

    private static bool IsJson(string? contentType) =>
        contentType is not null
        && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);
}
