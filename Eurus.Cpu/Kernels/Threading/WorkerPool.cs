using System.Runtime.ExceptionServices;

namespace Eurus.Cpu.Kernels;

/// <summary>One parallel step: <see cref="Execute"/> is called once for every index of the range given to the pool.</summary>
internal interface IParallelWork
{
    /// <summary>Runs work item <paramref name="index"/>; called concurrently for different indices.</summary>
    void Execute(int index);
}

/// <summary>
/// A fixed set of dedicated worker threads for the forward pass's many short parallel steps (a 7B decode step is about
/// 225 matmuls plus 32 attention steps, each tens to hundreds of microseconds). Compared with <see cref="Parallel.For(int, int, Action{int})"/>
/// it allocates nothing per step and wakes its workers by a shared generation counter they spin on, falling back to
/// a monitor wait when idle for longer than <see cref="SpinMicroseconds"/>. The calling thread takes part in the work.
/// Items are handed out one at a time through an atomic counter, so uneven items balance themselves.
/// Not re-entrant: one <see cref="Run"/> at a time (the owner is a single session's forward pass).
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle worker spins before it blocks.</summary>
    public const int SpinMicroseconds = 200;

    /// <summary>
    /// For measuring the pool against the runtime's scheduler: with EURUS_PARALLEL_FOR=1 in the environment every step
    /// runs through <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/> instead (allocating per step).
    /// </summary>
    internal static readonly bool UseParallelFor = Environment.GetEnvironmentVariable("EURUS_PARALLEL_FOR") == "1";

    private readonly Thread[] _threads;
    private readonly object _sleepLock = new();
    private readonly long _spinTicks = Math.Max(1, System.Diagnostics.Stopwatch.Frequency * SpinMicroseconds / 1_000_000);

    // The current step. Written by the caller before _generation is bumped, read by workers after they see the bump.
    private IParallelWork? _work;
    private int _count;
    private int _next;        // next index to hand out
    private int _remaining;   // workers that have not finished the current step
    private long _generation; // bumped once per step (and once at disposal)
    private int _sleepers;    // workers blocked in Monitor.Wait (or about to be)
    private volatile bool _disposed;
    private int _runner;      // managed thread id of the thread inside Run, 0 when none
    private readonly ParallelOptions _parallelOptions;
    private ExceptionDispatchInfo? _failure;

    /// <summary>A pool where <paramref name="threads"/> threads (the caller included) share each step.</summary>
    public WorkerPool(int threads)
    {
        Threads = Math.Max(1, threads);
        _parallelOptions = new ParallelOptions { MaxDegreeOfParallelism = Threads };
        _threads = new Thread[UseParallelFor ? 0 : Threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"Eurus.Cpu worker {i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads taking part in a step, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Calls <paramref name="work"/>.Execute(i) for every i in [0, <paramref name="count"/>) and returns when all are done.</summary>
    public void Run(IParallelWork work, int count)
    {
        // Marked running before the disposed check (both interlocked): Dispose either sees this run and waits for it,
        // or this run sees Dispose and throws; workers never leave a step half done.
        if (Interlocked.CompareExchange(ref _runner, Environment.CurrentManagedThreadId, 0) != 0)
            throw new InvalidOperationException("WorkerPool.Run is not re-entrant: another step is running.");
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            RunStep(work, count);
        }
        finally { Volatile.Write(ref _runner, 0); }
    }

    private void RunStep(IParallelWork work, int count)
    {
        if (count <= 0) return;
        if (UseParallelFor && Threads > 1 && count > 1)
        {
            Parallel.For(0, count, _parallelOptions, work.Execute);
            return;
        }
        if (_threads.Length == 0 || count == 1)
        {
            for (int i = 0; i < count; i++) work.Execute(i);
            return;
        }
        _work = work;
        _count = count;
        _next = 0;
        _failure = null;
        Volatile.Write(ref _remaining, _threads.Length);
        Interlocked.Increment(ref _generation); // full fence: publishes the step before any worker can see it
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_sleepLock) Monitor.PulseAll(_sleepLock);

        Drain();

        var spin = new SpinWait();
        while (Volatile.Read(ref _remaining) != 0) spin.SpinOnce(sleep1Threshold: -1);
        _work = null;
        _failure?.Throw();
    }

    private void Drain()
    {
        var work = _work!;
        int count = _count;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < count) work.Execute(i);
        }
        catch (Exception e)
        {
            // Stop handing out items; the first failure is rethrown on the calling thread.
            Volatile.Write(ref _next, int.MaxValue / 2);
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            long g;
            long spinStart = System.Diagnostics.Stopwatch.GetTimestamp();
            while ((g = Volatile.Read(ref _generation)) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() - spinStart < _spinTicks)
                {
                    Thread.SpinWait(16);
                    continue;
                }
                lock (_sleepLock)
                {
                    Interlocked.Increment(ref _sleepers); // full fence before re-reading the generation (pairs with Run's bump)
                    while (Volatile.Read(ref _generation) == seen) Monitor.Wait(_sleepLock);
                    Interlocked.Decrement(ref _sleepers);
                }
                spinStart = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            seen = g;
            // A bump while a Run is in flight is that run's step, even if Dispose has begun (it waits for the run to
            // end, and the run ends only when every worker has done its part); with no run in flight it is Dispose's.
            if (_disposed && Volatile.Read(ref _runner) == 0) return;
            Drain();
            Interlocked.Decrement(ref _remaining);
        }
    }

    /// <summary>
    /// Stops the worker threads. A step running on another thread is finished first (its workers would otherwise stop
    /// half-way and leave <see cref="Run"/> waiting for them forever); a later <see cref="Run"/> throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Interlocked.MemoryBarrier();
        int runner = Volatile.Read(ref _runner);
        if (runner != 0 && runner != Environment.CurrentManagedThreadId)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _runner) != 0) spin.SpinOnce();
        }
        Interlocked.Increment(ref _generation);
        lock (_sleepLock) Monitor.PulseAll(_sleepLock);
    }
}
