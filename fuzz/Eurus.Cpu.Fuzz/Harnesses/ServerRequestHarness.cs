using System.Text;
using System.Text.Json;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// bytes → one request to the sample server's endpoint handlers, called directly with an in-memory
/// <see cref="HttpContext"/> (no Kestrel): the body is parsed as the server parses it, mapped to a prompt and to
/// sampling settings, submitted to a <see cref="BatchedGenerator"/> over a tiny model and answered (streamed or not).
/// The input is <c>PATH\nBODY</c> where PATH is /v1/chat/completions, /v1/completions, /tokenize or /detokenize
/// (anything else: chat). An exception is typed when the server's error middleware turns it into a 4xx (a request
/// error): <see cref="ApiException"/> below 500, <see cref="JsonException"/>, <see cref="ContextFullException"/>,
/// <see cref="QueueFullException"/>, and an <see cref="ArgumentException"/> thrown on purpose by Eurus code. Anything
/// that would be a 500 is a finding.
/// </summary>
public sealed class ServerRequestHarness : IFuzzHarness
{
    private static readonly (string Path, Func<HttpContext, ServerState, Task> Handler)[] Endpoints =
    [
        ("/v1/chat/completions", CompletionEndpoints.Chat),
        ("/v1/completions", CompletionEndpoints.Completion),
        ("/tokenize", TokenEndpoints.Tokenize),
        ("/detokenize", TokenEndpoints.Detokenize),
    ];

    private readonly FuzzTempDir _dir = new("server");
    private readonly ServerState _state;
    private readonly IServiceProvider _services;

    public ServerRequestHarness()
    {
        string path = _dir.File("tiny.gguf");
        TinyModels.Write(path, GgmlType.F32, dim: 8, heads: 2, kvHeads: 1, ffn: 16, tied: true, window: null, contextLength: 256);
        var model = EurusModel.Load(path, new ModelOptions { Threads = 1, ContextLength = 96, BatchSize = 16 });
        var generator = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2, QueueCapacity = 4 });
        _state = new ServerState(model, generator, new ServerOptions { ModelPath = path, Threads = 1, ContextLength = 96 });
        _services = new ServiceCollection().AddLogging().BuildServiceProvider();
    }

    public string Name => "server-request";

    public Exception? Run(byte[] input)
    {
        int nl = Array.IndexOf(input, (byte)'\n');
        string path = nl < 0 ? "" : Encoding.UTF8.GetString(input, 0, nl).Trim();
        var body = nl < 0 ? input : input[(nl + 1)..];
        var endpoint = Endpoints.FirstOrDefault(e => e.Path == path);
        if (endpoint.Handler is null) endpoint = Endpoints[0];

        // The request line is Kestrel's to parse, not the handlers': the path is the matched endpoint's, never the input's.
        var ctx = new DefaultHttpContext { RequestServices = _services };
        ctx.Request.Method = "POST";
        ctx.Request.Path = endpoint.Path;
        ctx.Request.ContentType = "application/json";
        ctx.Request.Body = new MemoryStream(body, writable: false);
        ctx.Response.Body = new MemoryStream();
        try
        {
            endpoint.Handler(ctx, _state).GetAwaiter().GetResult();
            if (ctx.Response.StatusCode != 200) throw new FuzzFinding($"the handler answered {ctx.Response.StatusCode} without throwing.");
            return null;
        }
        catch (Exception e) when (IsRequestError(e))
        {
            return e;
        }
    }

    /// <summary>What EurusServer's error middleware answers with a 4xx.</summary>
    private static bool IsRequestError(Exception e) => e switch
    {
        ApiException a => a.Status is >= 400 and < 500,
        JsonException or ContextFullException or QueueFullException => true,
        ArgumentException => FuzzPolicy.IsDeliberateArgumentException(e, typeof(ApiException).Assembly),
        _ => false,
    };

    public void Dispose()
    {
        _state.Dispose();
        (_services as IDisposable)?.Dispose();
        _dir.Dispose();
    }
}
