namespace Eurus.Cli;

/// <summary>Runs the callback on the reporting thread (Progress&lt;T&gt; would post to the thread pool and reorder).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
