namespace Eurus.Cpu.Generation;

/// <summary>
/// Turns the stages of one load into <see cref="ModelLoadProgress"/> reports on one overall scale: each stage owns a
/// span of [0, 1]; reports from several threads (matrices repacked in parallel) are serialised and never go down.
/// Checks the cancellation token at every report, so a load stops between matrices.
/// </summary>
internal sealed class LoadReporter(IProgress<ModelLoadProgress>? progress, CancellationToken cancellationToken)
{
    private readonly object _lock = new();
    private double _last;
    private double _start, _span;
    private ModelLoadStage _stage;

    public CancellationToken CancellationToken => cancellationToken;

    /// <summary>Starts <paramref name="stage"/>, which runs from <paramref name="from"/> to <paramref name="to"/> of the whole load.</summary>
    public void Begin(ModelLoadStage stage, double from, double to)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock) (_stage, _start, _span) = (stage, from, to - from);
        Report(0);
    }

    /// <summary>Reports that the current stage is <paramref name="stageFraction"/> done; throws if the load was cancelled.</summary>
    public void Report(double stageFraction)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (progress is null) return;
        lock (_lock)
        {
            double f = Math.Clamp(stageFraction, 0, 1);
            double overall = Math.Max(_last, _start + _span * f);
            _last = overall;
            progress.Report(new ModelLoadProgress(_stage, f, overall));
        }
    }

    /// <summary>The last report: done, 1.</summary>
    public void Done()
    {
        lock (_lock) _last = 1;
        progress?.Report(new ModelLoadProgress(ModelLoadStage.Done, 1, 1));
    }
}
