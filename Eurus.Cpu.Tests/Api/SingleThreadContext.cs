using System.Collections.Concurrent;

namespace Eurus.Cpu.Tests.Api;

/// <summary>
/// A UI-like synchronization context: one dedicated thread runs every posted callback in order (as a WPF dispatcher or a
/// WinForms message loop does). <see cref="Run"/> starts an async function on that thread and pumps until it ends.
/// </summary>
internal sealed class SingleThreadContext : SynchronizationContext
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];
    private int _posted;

    /// <summary>Managed id of the context's thread.</summary>
    public int ThreadId { get; private set; }

    /// <summary>Callbacks run on the context's thread (continuations of awaits that captured it).</summary>
    public int Posted => Volatile.Read(ref _posted);

    public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

    public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("Send would block the UI thread.");

    /// <summary>Runs <paramref name="body"/> on a new thread with this context installed, until it completes.</summary>
    public static T Run<T>(Func<SingleThreadContext, Task<T>> body)
    {
        var context = new SingleThreadContext();
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            context.ThreadId = Environment.CurrentManagedThreadId;
            SynchronizationContext.SetSynchronizationContext(context);
            var task = body(context);
            task.ContinueWith(_ => context._queue.CompleteAdding(), TaskScheduler.Default);
            foreach (var (callback, state) in context._queue.GetConsumingEnumerable())
            {
                Interlocked.Increment(ref context._posted);
                callback(state);
            }
            try { result = task.GetAwaiter().GetResult(); }
            catch (Exception e) { failure = e; }
        }) { IsBackground = true, Name = "UI (test)" };
        thread.Start();
        if (!thread.Join(TimeSpan.FromMinutes(2))) throw new TimeoutException("the UI thread did not finish within two minutes");
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        return result;
    }
}
