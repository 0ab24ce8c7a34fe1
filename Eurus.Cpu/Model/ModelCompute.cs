using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Model;

/// <summary>
/// The compute a model's forward passes share: one <see cref="WorkerPool"/> per model, sized once at load
/// (<see cref="Generation.ModelOptions.Threads"/>), used by every session, chat client and batched generator of that
/// model. The pool runs one step at a time, so the passes of one model take turns: each pass holds <see cref="Turn"/>
/// from its first matmul to its logits (a decode step of a 7B model is tens of milliseconds), and sessions of one model
/// interleave token by token. Two models have two pools and run in parallel.
/// </summary>
internal sealed class ModelCompute(int threads) : IDisposable
{
    /// <summary>The model's worker threads.</summary>
    public WorkerPool Pool { get; } = new(threads);

    /// <summary>Held by a forward pass for its whole duration (the pool is not re-entrant).</summary>
    public Lock Turn { get; } = new();

    /// <summary>Called at the start of every forward pass of this model, on the thread that runs it (tests watch it).</summary>
    public Action? OnForward { get; set; }

    /// <summary>Stops the worker threads; callers make sure no pass is running (the weights' gate is closed first).</summary>
    public void Dispose() => Pool.Dispose();
}
