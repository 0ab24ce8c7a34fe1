using System.Globalization;

namespace Eurus.Server;

/// <summary>Command-line options of the server (llama-server's names where it has one).</summary>
public sealed record ServerOptions
{
    public string ModelPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, every endpoint but /health needs <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }
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
        usage: eurus-server [-m MODEL.gguf] [--host 127.0.0.1] [--port 8080] [--api-key KEY] [-c 4096] [-t THREADS]
                            [--parallel 4] [--queue 64] [--kv-type f16|f32] [--window N] [limits]
               eurus-server bench [-m MODEL.gguf] [--streams 1,2,4,8] [-n 64] [-t THREADS] [-r 2]
        OpenAI-compatible endpoints: POST /v1/chat/completions, POST /v1/completions ("stream": true for SSE),
        GET /v1/models, GET /health, POST /tokenize, POST /detokenize.
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
    public static ServerOptions Parse(string[] args)
    {
        var o = new ServerOptions();
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
                "--host" => o with { Host = Value() },
                "--port" => o with { Port = Int(0, 65535) },
                "--api-key" => o with { ApiKey = Value() },
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
    }
}
