using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Eurus.Server;

/// <summary>Builds and runs the OpenAI-compatible server.</summary>
public static class EurusServer
{
    public static Task<int> RunAsync(string[] args) => RunAsync(args, Console.Out, Console.Error);

    /// <summary>
    /// Runs the server (or <c>bench</c>) until it is stopped. Bad arguments and anything that fails before the server
    /// listens (model file, memory for the slots, the port) print one line on <paramref name="stderr"/> and return 1,
    /// not a stack trace.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args is ["-h" or "--help"]) { stdout.WriteLine(ServerOptions.Usage); return 0; }
        if (args is ["bench", ..])
        {
            try { return await BenchCommand.RunAsync(args[1..]); }
            catch (Exception e)
            {
                stderr.WriteLine($"eurus-server: {OneLine(e)}");
                return 1;
            }
        }
        ServerOptions options;
        IConfiguration configuration;
        try
        {
            configuration = ServerConfiguration.Build();
            options = ServerConfiguration.Load(args, configuration);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"eurus-server: {e.Message}");
            stderr.WriteLine(ServerOptions.Usage);
            return 1;
        }
        WebApplication? app = null;
        try
        {
            app = Build(options, configuration);
            await app.StartAsync();
            var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Eurus.Server");
            foreach (var warning in StartupWarnings(options)) log.LogWarning("{Warning}", warning);
            log.LogInformation("Listening on {Addresses}", string.Join(", ", app.Urls));
        }
        catch (Exception e)
        {
            stderr.WriteLine($"eurus-server: cannot start: {OneLine(e)}");
            if (app is not null)
            {
                // The state is disposed when the app stops, which a failed start never reaches.
                app.Services.GetService<ServerState>()?.Dispose();
                try { await app.DisposeAsync(); } catch (Exception) { }
            }
            return 1;
        }
        await app.WaitForShutdownAsync();
        await app.DisposeAsync();
        return 0;
    }

    /// <summary>What a start with <paramref name="options"/> should warn about: serving beyond loopback without a key.</summary>
    internal static IEnumerable<string> StartupWarnings(ServerOptions options)
    {
        if (!ServerConfiguration.LoopbackOnly(options) && options.ApiKey is null && options.ApiKeyFile is null)
            yield return $"Listening on {string.Join(", ", ServerConfiguration.Addresses(options))}, beyond loopback, without an API key: anyone who can reach this port can use the model. Set --api-key-file (or Eurus__ApiKey).";
    }

    /// <summary>An exception as one line: its message (and the inner ones' when they add to it), newlines folded.</summary>
    internal static string OneLine(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException or TypeInitializationException
               && e.InnerException is not null)
            e = e.InnerException!;
        string message = e.Message;
        if (e is OutOfMemoryException and not InsufficientMemoryException)
            message = $"out of memory ({e.Message}); lower --parallel or -c";
        else if (e is not (ArgumentException or IOException or UnauthorizedAccessException or GgufFormatException or InsufficientMemoryException))
            message = $"{e.GetType().Name}: {message}";
        return string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> (one line) unless <paramref name="draft"/> has <paramref name="model"/>'s
    /// vocabulary: the same tokens, in the same order, with the same end of sequence (drafts are token ids of the model).
    /// </summary>
    internal static void CheckDraftVocabulary(EurusModel model, EurusModel draft, string draftPath)
    {
        Eurus.Cpu.Tokenization.Tokenizer a = model.Tokenizer, b = draft.Tokenizer;
        string name = Path.GetFileName(draftPath);
        if (a.VocabSize != b.VocabSize || model.Config.Vocab != draft.Config.Vocab)
            throw new ArgumentException($"--model-draft {name}: its vocabulary has {b.VocabSize} tokens, the model's {a.VocabSize}; a draft model must have the model's vocabulary.");
        if (a.EosId != b.EosId || a.BosId != b.BosId)
            throw new ArgumentException($"--model-draft {name}: its BOS/EOS tokens ({b.BosId}/{b.EosId}) differ from the model's ({a.BosId}/{a.EosId}).");
        for (int i = 0; i < a.VocabSize; i++)
            if (!a.GetPieceBytes(i).SequenceEqual(b.GetPieceBytes(i)))
                throw new ArgumentException($"--model-draft {name}: token {i} is '{b.GetTokenText(i)}', the model's '{a.GetTokenText(i)}'; a draft model must have the model's vocabulary.");
    }

    /// <summary>
    /// Loads the model and builds the app bound to <see cref="ServerOptions.Host"/>:<see cref="ServerOptions.Port"/>
    /// (not started). Disposing the app's services frees the model.
    /// </summary>
    public static WebApplication Build(ServerOptions options, IConfiguration? configuration = null)
    {
        options.Validate();
        var model = EurusModel.Load(options.ModelPath, new ModelOptions
        {
            Threads = options.Threads, ContextLength = options.ContextLength, KvCacheType = options.KvCacheType, SlidingWindow = options.SlidingWindow,
        });
        ServerState state;
        EurusModel? draft = null;
        try
        {
            if (options.DraftModelPath is { } draftPath)
            {
                // The draft model drafts within the same positions (each slot keeps its own session of it).
                draft = EurusModel.Load(draftPath, new ModelOptions
                {
                    Threads = options.Threads, ContextLength = model.ContextLength, KvCacheType = options.KvCacheType, SlidingWindow = options.SlidingWindow,
                });
                CheckDraftVocabulary(model, draft, draftPath);
            }
            var generator = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = options.Parallel, QueueCapacity = options.Queue });
            state = new ServerState(model, generator, options, draft);
        }
        catch
        {
            draft?.Dispose();
            model.Dispose();
            throw;
        }

        var builder = WebApplication.CreateSlimBuilder();
        // The server's own logs (request lines: Eurus.Server.Requests) at Information, the framework's warnings and
        // errors; the configuration's "Logging" section can change both. A failed start is reported by RunAsync in one
        // line; the host's own report of it, a stack trace, is left out.
        bool started = false;
        if (configuration is not null) builder.Logging.AddConfiguration(configuration.GetSection("Logging"));
        builder.Logging.AddFilter((category, level) =>
            level >= (category?.StartsWith("Eurus.Server", StringComparison.Ordinal) == true ? LogLevel.Information : LogLevel.Warning)
            && (started || category != "Microsoft.Extensions.Hosting.Internal.Host"));
        builder.Services.AddSingleton(state);
        builder.Services.Configure<KestrelServerOptions>(k => k.Limits.MaxRequestBodySize = options.MaxBodyBytes);
        // Running requests get ShutdownTimeout, then their generations are cancelled and their answers end cleanly;
        // the host waits a grace period more for them to reach their clients.
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout + ServerOptions.Grace(options.ShutdownTimeout) + TimeSpan.FromSeconds(1));
        builder.WebHost.UseUrls(ServerConfiguration.Addresses(options));
        var app = builder.Build();
        app.Lifetime.ApplicationStarted.Register(() => started = true);
        app.Lifetime.ApplicationStopping.Register(state.BeginShutdown);
        app.Lifetime.ApplicationStopped.Register(state.Dispose);
        app.Use(RequestLog.Middleware);

        // Responses the framework ends without a body (404 unknown route, 405 wrong method) get an error body too.
        app.UseStatusCodePages(async c =>
        {
            var http = c.HttpContext;
            await ApiException.Write(http, http.Response.StatusCode, $"{http.Request.Method} {http.Request.Path}: status {http.Response.StatusCode}.",
                http.Response.StatusCode >= 500 ? "server_error" : "invalid_request_error");
        });
        app.Use(Errors);
        app.Use(BrowserGuard.Check);
        app.Use(ApiKey);
        StatusEndpoints.Map(app);
        app.MapGet("/v1/models", (ServerState s) => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = s.ModelId, @object = "model", created = s.Created, owned_by = "eurus-cpu" } },
        }));
        app.MapPost("/v1/chat/completions", CompletionEndpoints.Chat);
        app.MapPost("/v1/completions", CompletionEndpoints.Completion);
        app.MapPost("/tokenize", TokenEndpoints.Tokenize);
        app.MapPost("/detokenize", TokenEndpoints.Detokenize);
        return app;
    }

    /// <summary>Every failure becomes an OpenAI-style error body; nothing escapes to crash a connection or the process.</summary>
    private static async Task Errors(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        catch (Exception e) when (ctx.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away; its generation was cancelled with the request.
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            var error = e switch
            {
                ApiException a => a,
                JsonException j => ApiException.BadRequest($"Malformed JSON body: {j.Message}"),
                Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: 413 } => new ApiException(413,
                    $"The request body is larger than this server's limit of {ctx.RequestServices.GetRequiredService<ServerState>().Options.MaxBodyBytes} bytes (--max-body-bytes).",
                    code: "request_too_large"),
                Microsoft.AspNetCore.Http.BadHttpRequestException b => new ApiException(b.StatusCode, b.Message),
                QueueFullException q => new ApiException(429, q.Message, "server_busy", code: "queue_full"),
                ContextFullException c => ApiException.BadRequest(c.Message, code: "context_length_exceeded"),
                ArgumentException a => ApiException.BadRequest(a.Message, a.ParamName),
                _ => new ApiException(500, $"Internal error: {e.Message}", "server_error"),
            };
            ctx.Response.Clear();
            await error.Write(ctx);
        }
    }

    private static Task ApiKey(HttpContext ctx, RequestDelegate next)
    {
        var key = ctx.RequestServices.GetRequiredService<ServerState>().Options.ApiKey;
        if (key is null || ctx.Request.Path.StartsWithSegments("/health")) return next(ctx);
        string header = ctx.Request.Headers.Authorization.ToString();
        var expected = Encoding.UTF8.GetBytes("Bearer " + key);
        if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), expected)) return next(ctx);
        ctx.Response.Headers.WWWAuthenticate = "Bearer";
        return ApiException.Write(ctx, 401, "Invalid or missing API key (send 'Authorization: Bearer KEY').", "invalid_request_error", code: "invalid_api_key");
    }
}
