using Eurus.Cpu.Generation;

namespace Eurus.Server;

/// <summary>What every request shares: the model, the batched generator and the options.</summary>
public sealed class ServerState(EurusModel model, BatchedGenerator generator, ServerOptions options) : IDisposable
{
    public EurusModel Model { get; } = model;
    public BatchedGenerator Generator { get; } = generator;
    public ServerOptions Options { get; } = options;
    public string ModelId { get; } = Path.GetFileNameWithoutExtension(model.FilePath);
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private int _disposed;

    /// <summary>Stops the generator and frees the model (once; later calls do nothing).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Generator.Dispose();
        Model.Dispose();
    }
}
