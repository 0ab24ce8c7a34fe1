using System.Globalization;

namespace Eurus.Server;

/// <summary>
/// Options of the server (llama-server's names where it has one), from <c>appsettings.json</c>, environment variables
/// and the command line (see <see cref="ServerConfiguration"/>): each property is also a configuration key of the
/// <c>Eurus</c> section (<c>Eurus:Parallel</c>, <c>Eurus__Parallel</c> in the environment).
/// </summary>
public sealed record ServerOptions
{
    public string ModelPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>
    /// Where to listen instead of <see cref="Host"/>:<see cref="Port"/>: ASP.NET Core's <c>urls</c> (semicolon-separated,
    /// from <c>--urls</c>, <c>ASPNETCORE_URLS</c> or <c>ASPNETCORE_HTTP_PORTS</c>); null: Host and Port.
    /// </summary>
    public string? Urls { get; init; }
    /// <summary>When set, every endpoint but the health checks needs <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }
    /// <summary>A file whose first line is the API key (a mounted secret): keeps the key out of <c>ps</c> and the environment.</summary>
    public string? ApiKeyFile { get; init; }
    /// <summary>
    /// Browser origins allowed to call the API (a request with any other <c>Origin</c> header gets 403), e.g.
    /// <c>https://app.example.com</c>; <c>*</c> allows every origin. Empty (the default): requests from web pages are refused.
    /// </summary>
    public string[] AllowedOrigins { get; init; } = [];
    /// <summary>Reuse the longest cached prompt prefix of a slot (llama-server's <c>cache_prompt</c>); a request's <c>cache_prompt</c> overrides it.</summary>
    public bool CachePrompt { get; init; } = true;
    /// <summary>Log each request's prompt text (off: request logs give sizes, token counts and timings only).</summary>
    public bool LogPrompts { get; init; }
    /// <summary>
    /// On shutdown (SIGTERM, Ctrl+C), how long running requests may go on; then their generations are cancelled and
    /// their answers end cleanly (<c>finish_reason: "length"</c> and a <c>server_shutdown</c> warning).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Positions per sequence (0: the model's).</summary>
    public int ContextLength { get; init; } = 4096;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Sequences decoded together.</summary>
    public int Parallel { get; init; } = 4;
    /// <summary>Requests waiting for a slot before 429.</summary>
    public int Queue { get; init; } = 64;
    /// <summary>KV cache element type (f16 halves the per-slot memory).</summary>
    public Eurus.Cpu.Model.KvCacheType KvCacheType { get; init; } = Eurus.Cpu.Model.KvCacheType.F16;
    /// <summary>Sliding attention window (null: the file's, else full attention).</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>
    /// Speculative decoding for every request: most draft tokens per step (llama-server's <c>--draft-max</c>; 0: off),
    /// drafted by <see cref="DraftModelPath"/>'s model if there is one, else by prompt lookup. Null (the default): 16
    /// with a draft model (llama-server's default), else 0 (see <see cref="EffectiveDraftMax"/>). A request's
    /// <c>speculative.n_max</c> overrides it.
    /// </summary>
    public int? DraftMax { get; init; }

    /// <summary>
    /// A smaller model with the same vocabulary that drafts for speculative decoding (llama-server's
    /// <c>--model-draft</c>, <c>-md</c>); null (the default): drafts come from prompt lookup.
    /// </summary>
    public string? DraftModelPath { get; init; }

    /// <summary>The draft length in effect: <see cref="DraftMax"/>, or its default (16 with a draft model, else 0: off).</summary>
    public int EffectiveDraftMax => DraftMax ?? (DraftModelPath is null ? 0 : 16);

    // Request limits: each refused with a 4xx whose message names the limit and its option. They bound the work a
    // request can make the server do on its request thread (parsing, merging, tokenizing) and on the decode thread
    // (stop strings are matched there after every token of every slot).

    /// <summary>Largest request body accepted (413 above; Kestrel's limit).</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;
    /// <summary>Most messages in one chat request.</summary>
    public int MaxMessages { get; init; } = 1024;
    /// <summary>Most UTF-8 bytes of prompt text: a completion's prompt, or all of a chat request's message texts together.</summary>
    public int MaxPromptBytes { get; init; } = 1 << 20;
    /// <summary>Most stop strings in one request.</summary>
    public int MaxStopStrings { get; init; } = 16;
    /// <summary>Longest stop string, in UTF-16 characters.</summary>
    public int MaxStopLength { get; init; } = 256;
    /// <summary>Most <c>logit_bias</c> entries in one request.</summary>
    public int MaxLogitBias { get; init; } = 1024;
    /// <summary>
    /// Wall-clock limit of one generation request, from its submission (queue wait included) to its last token;
    /// <see cref="TimeSpan.Zero"/>: none. When it fires the generation is cancelled and the answer ends with what it
    /// has, <c>finish_reason: "length"</c> and a <c>warning</c> saying so; a client that has not taken the whole answer
    /// <see cref="Grace"/> later (one that stopped reading) is disconnected.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long after <see cref="RequestTimeout"/> a response may still take to reach the client (the limit itself, at
    /// most 10 s) before the connection is closed: a client that stopped reading holds its unsent answer no longer.
    /// </summary>
    public static TimeSpan Grace(TimeSpan timeout) => timeout < TimeSpan.FromSeconds(10) ? timeout : TimeSpan.FromSeconds(10);

    public const string Usage = """
        usage: eurus-server [-m MODEL.gguf] [--host 127.0.0.1] [--port 8080] [--urls URLS] [--api-key KEY | --api-key-file FILE]
                            [-c 4096] [-t THREADS] [--parallel 4] [--queue 64] [--kv-type f16|f32] [--window N]
                            [--no-cache-prompt] [-md DRAFT.gguf] [--draft-max N] [--allowed-origin ORIGIN]... [--log-prompts] [--shutdown-timeout 30] [limits]
               eurus-server bench [-m MODEL.gguf] [--streams 1,2,4,8] [-n 64] [-t THREADS] [-r 2]
        --draft-max N: speculative decoding, at most N draft tokens a step (default 0: off, 16 with -md; a request's
        "speculative.n_max" overrides it): prompt lookup (the same answer, only faster where it repeats its prompt) or
        -md/--model-draft DRAFT.gguf, a smaller model of the same vocabulary that drafts (greedy answers are the same;
        sampled ones have the same distribution).
        OpenAI-compatible endpoints: POST /v1/chat/completions, POST /v1/completions ("stream": true for SSE),
        GET /v1/models, GET /health (/health/live, /health/ready), GET /slots, GET /metrics, POST /tokenize, POST /detokenize.
        Every option is also read from appsettings.json ("Eurus": {"Parallel": 4, ...}) and the environment
        (Eurus__Parallel=4, Eurus__ApiKeyFile=/run/secrets/key); the command line wins. ASPNETCORE_URLS is honoured.
        limits (a request over one gets a 400, or 413 for the body, naming it):
          --max-body-bytes N     request body size (default 4194304)
          --max-messages N       messages in a chat request (default 1024)
          --max-prompt-bytes N   UTF-8 bytes of a prompt, or of all of a chat request's messages (default 1048576)
          --max-stop N           stop strings in a request (default 16)
          --max-stop-length N    characters in one stop string (default 256)
          --max-logit-bias N     logit_bias entries in a request (default 1024)
          --request-timeout S    wall-clock seconds per generation request, queue wait included; when it passes the
                                 answer ends with finish_reason "length" and a warning (default 600, 0: none)
        """;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with a one-line message.</summary>
    public static ServerOptions Parse(string[] args) => Parse(args, new ServerOptions());

    /// <summary>Applies <paramref name="args"/> over <paramref name="start"/> (the configured options).</summary>
    public static ServerOptions Parse(string[] args, ServerOptions start)
    {
        var o = start;
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            long Long(long min, long max)
            {
                string v = Value();
                if (!long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long r) || r < min || r > max)
                    throw new ArgumentException($"{name} must be an integer from {min} to {max}, not '{v}'.");
                return r;
            }
            int Int(int min, int max) => (int)Long(min, max);
            o = name switch
            {
                "-m" or "--model" => o with { ModelPath = Value() },
                "-md" or "--model-draft" => o with { DraftModelPath = Value() },
                "--host" => o with { Host = Value() },
                "--port" => o with { Port = Int(0, 65535) },
                "--api-key" => o with { ApiKey = Value() },
                "--api-key-file" => o with { ApiKeyFile = Value() },
                "--urls" => o with { Urls = Value() },
                "--allowed-origin" => o with { AllowedOrigins = [.. o.AllowedOrigins, Value()] },
                "--no-cache-prompt" => o with { CachePrompt = false },
                "--log-prompts" => o with { LogPrompts = true },
                "--shutdown-timeout" => o with { ShutdownTimeout = TimeSpan.FromSeconds(Int(0, 24 * 3600)) },
                "-c" or "--ctx-size" => o with { ContextLength = Int(0, 1 << 24) },
                "-t" or "--threads" => o with { Threads = Int(1, 1024) },
                "-np" or "--parallel" => o with { Parallel = Int(1, 256) },
                "--queue" => o with { Queue = Int(0, 100_000) },
                "--kv-type" => o with
                {
                    KvCacheType = Value() switch
                    {
                        "f32" => Eurus.Cpu.Model.KvCacheType.F32,
                        "f16" => Eurus.Cpu.Model.KvCacheType.F16,
                        var v => throw new ArgumentException($"--kv-type must be f32 or f16, not '{v}'."),
                    },
                },
                "--window" => o with { SlidingWindow = Int(1, 1 << 24) },
                "--draft-max" or "--draft" => o with { DraftMax = Int(0, 32) },
                "--max-body-bytes" => o with { MaxBodyBytes = Long(1024, 1L << 40) },
                "--max-messages" => o with { MaxMessages = Int(1, 10_000_000) },
                "--max-prompt-bytes" => o with { MaxPromptBytes = Int(1, int.MaxValue) },
                "--max-stop" => o with { MaxStopStrings = Int(0, 100_000) },
                "--max-stop-length" => o with { MaxStopLength = Int(1, 1 << 20) },
                "--max-logit-bias" => o with { MaxLogitBias = Int(0, 10_000_000) },
                "--request-timeout" => o with { RequestTimeout = TimeSpan.FromSeconds(Int(0, 7 * 24 * 3600)) },
                _ => throw new ArgumentException($"unknown option '{name}'."),
            };
        }
        o.Validate();
        return o;
    }

    /// <summary>Throws <see cref="ArgumentException"/> (one line) for values that make no sense.</summary>
    public void Validate()
    {
        if (ApiKey is "") throw new ArgumentException("--api-key must not be empty.");
        if (MaxBodyBytes < 1) throw new ArgumentException("--max-body-bytes must be positive.");
        if (MaxMessages < 1) throw new ArgumentException("--max-messages must be at least 1.");
        if (MaxPromptBytes < 1) throw new ArgumentException("--max-prompt-bytes must be at least 1.");
        if (MaxStopStrings < 0 || MaxStopLength < 1 || MaxLogitBias < 0)
            throw new ArgumentException("--max-stop and --max-logit-bias must be ≥ 0, --max-stop-length ≥ 1.");
        if (RequestTimeout < TimeSpan.Zero) throw new ArgumentException("--request-timeout must be ≥ 0.");
        if (ShutdownTimeout < TimeSpan.Zero) throw new ArgumentException("--shutdown-timeout must be ≥ 0.");
        if (ApiKey is not null && ApiKeyFile is not null) throw new ArgumentException("Give the API key once: --api-key or --api-key-file, not both.");
        if (Urls is "") throw new ArgumentException("--urls must not be empty.");
        if (DraftMax is < 0 or > 32) throw new ArgumentException("--draft-max must be from 0 (off) to 32.");
        if (DraftModelPath is "") throw new ArgumentException("--model-draft must not be empty.");
        if (Parallel < 1 || Threads < 1 || Queue < 0 || Port is < 0 or > 65535 || ContextLength < 0)
            throw new ArgumentException("Parallel and Threads must be ≥ 1, Queue and ContextLength ≥ 0, Port 0 to 65535.");
    }
}
