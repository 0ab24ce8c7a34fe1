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
    public Eurus.Cpu.Model.KvCacheType KvCacheType { get; init; } = Eurus.Cpu.Model.KvCacheType.F32;
    /// <summary>Sliding attention window (null: the file's, else full attention).</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Largest request body accepted.</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    public const string Usage = """
        usage: eurus-server [-m MODEL.gguf] [--host 127.0.0.1] [--port 8080] [--api-key KEY] [-c 4096] [-t THREADS]
                            [--parallel 4] [--queue 64] [--kv-type f32|f16] [--window N]
               eurus-server bench [-m MODEL.gguf] [--streams 1,2,4,8] [-n 64] [-t THREADS] [-r 2]
        OpenAI-compatible endpoints: POST /v1/chat/completions, POST /v1/completions (\"stream\": true for SSE),
        GET /v1/models, GET /health, POST /tokenize, POST /detokenize.
        """;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with a one-line message.</summary>
    public static ServerOptions Parse(string[] args)
    {
        var o = new ServerOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int Int(int min, int max)
            {
                string v = Value();
                if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int r) || r < min || r > max)
                    throw new ArgumentException($"{name} must be an integer from {min} to {max}, not '{v}'.");
                return r;
            }
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
                _ => throw new ArgumentException($"unknown option '{name}'."),
            };
        }
        if (o.ApiKey is "") throw new ArgumentException("--api-key must not be empty.");
        return o;
    }
}
