using Eurus.Cpu.Generation;

namespace Eurus.Server;

/// <summary>What every request shares: the model (and the draft model), the batched generator, the options, metrics and the shutdown state.</summary>
public sealed class ServerState(EurusModel model, BatchedGenerator generator, ServerOptions options, EurusModel? draftModel = null) : IDisposable
{
    public EurusModel Model { get; } = model;
    /// <summary>The model that drafts for speculative decoding (<c>--model-draft</c>; null: prompt lookup).</summary>
    public EurusModel? DraftModel { get; } = draftModel;
    public BatchedGenerator Generator { get; } = generator;
    public ServerOptions Options { get; } = options;
    public string ModelId { get; } = Path.GetFileNameWithoutExtension(model.FilePath);
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    internal ServerMetrics Metrics { get; } = new(generator);
    /// <summary>Whether the server listens on loopback addresses only (then the Host header is checked).</summary>
    internal bool LoopbackOnly { get; } = ServerConfiguration.LoopbackOnly(options);

    private readonly CancellationTokenSource _shutdown = new();
    private volatile bool _stopping;

    /// <summary>Set when the host begins to stop: readiness fails and new generation requests get 503.</summary>
    internal bool Stopping => _stopping;

    /// <summary>Cancelled <see cref="ServerOptions.ShutdownTimeout"/> after the host began to stop: running generations end then.</summary>
    internal CancellationToken ShutdownDeadline => _shutdown.Token;

    internal void BeginShutdown()
    {
        _stopping = true;
        try { _shutdown.CancelAfter(Options.ShutdownTimeout); } catch (ObjectDisposedException) { }
    }

    private int _disposed;

    /// <summary>Stops the generator and frees the model (once; later calls do nothing).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        Generator.Dispose();
        Model.Dispose();
        DraftModel?.Dispose();
        _shutdown.Dispose();
    }
}
