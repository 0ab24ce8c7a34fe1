using System.Runtime.CompilerServices;

namespace Eurus.Cpu.Generation;

/// <summary>
/// <c>await</c>-able that moves the rest of an async method to the thread pool when it is running on a synchronization
/// context (a UI thread), under a non-default task scheduler, or on a thread outside the pool; elsewhere it completes at
/// once. Generation awaits it before every forward pass, so the caller's context never computes however the caller
/// consumes the stream. One instance per session, reused: a hop queues this object itself as the work item and the
/// continuation is the async state machine's cached delegate, so a hop allocates nothing.
/// </summary>
internal sealed class OffContext : ICriticalNotifyCompletion, IThreadPoolWorkItem
{
    private Action? _continuation;

    public OffContext GetAwaiter() => this;

    /// <summary>True when the current thread is already a pool thread with no context and the default scheduler.</summary>
    public bool IsCompleted =>
        SynchronizationContext.Current is null && TaskScheduler.Current == TaskScheduler.Default && Thread.CurrentThread.IsThreadPoolThread;

    public void GetResult() { }

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        _continuation = continuation;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        var c = _continuation!;
        _continuation = null;
        c();
    }
}
