using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Api;

/// <summary><see cref="EurusModel.LoadAsync"/>: progress by stage, monotone, ending at 1; cancellation at a stage or between matrices.</summary>
public sealed class LoadAsyncTests
{
    /// <summary>Records reports synchronously, on the reporting thread (<see cref="Progress{T}"/> would post them later).</summary>
    private sealed class Recorder(Action<ModelLoadProgress>? onReport = null) : IProgress<ModelLoadProgress>
    {
        public readonly List<ModelLoadProgress> Reports = [];

        public void Report(ModelLoadProgress value)
        {
            lock (Reports) Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    private static void AssertMonotoneToOne(List<ModelLoadProgress> reports)
    {
        Assert.NotEmpty(reports);
        for (int i = 1; i < reports.Count; i++)
            Assert.True(reports[i].Fraction >= reports[i - 1].Fraction, $"report {i}: {reports[i]} after {reports[i - 1]}");
        Assert.All(reports, r => Assert.InRange(r.Fraction, 0, 1));
        Assert.All(reports, r => Assert.InRange(r.StageFraction, 0, 1));
        Assert.Equal(new ModelLoadProgress(ModelLoadStage.Done, 1, 1), reports[^1]);
        Assert.Single(reports, r => r.Stage == ModelLoadStage.Done);
    }

    [Fact]
    public async Task AGgufLoadReportsMappingThenEveryMatrixRepackedAndEndsAtOne()
    {
        var progress = new Recorder();
        using var model = await EurusModel.LoadAsync(TestPaths.Q8, new ModelOptions { Threads = 2 }, progress);
        var r = progress.Reports;
        AssertMonotoneToOne(r);
        Assert.Equal(ModelLoadStage.Mapping, r[0].Stage);
        // 6 layers × 7 matrices + the output projection, each repacked (Q8_0), one report each after the stage's start.
        var repacked = r.Where(p => p.Stage == ModelLoadStage.Repacking).ToList();
        Assert.Equal(6 * 7 + 1 + 1, repacked.Count);
        Assert.Equal(1, repacked[^1].StageFraction);
        // The stages come in order.
        var stages = r.Select(p => p.Stage).Distinct().ToArray();
        Assert.Equal([ModelLoadStage.Mapping, ModelLoadStage.Repacking, ModelLoadStage.Done], stages);
        // And the model works.
        using var session = model.CreateSession();
        Assert.NotEmpty(await session.GenerateAsync("And God said", SamplingSettings.Greedy with { MaxTokens = 3 }).ToListAsync());
    }

    [Fact]
    public async Task AHuggingFaceFolderReportsItsConversionFirst()
    {
        var progress = new Recorder();
        using var model = await EurusModel.LoadAsync(TestPaths.Model("kjv-tiny-hf"), new ModelOptions { Threads = 2 }, progress);
        AssertMonotoneToOne(progress.Reports);
        var stages = progress.Reports.Select(p => p.Stage).Distinct().ToArray();
        Assert.Equal([ModelLoadStage.Converting, ModelLoadStage.Mapping, ModelLoadStage.Repacking, ModelLoadStage.Done], stages);
    }

    [Fact]
    public async Task CancellingBetweenMatricesThrowsAndCancellingBeforeStartThrows()
    {
        using var cts = new CancellationTokenSource();
        var progress = new Recorder(p => { if (p.Stage == ModelLoadStage.Repacking && p.StageFraction > 0.2) cts.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => EurusModel.LoadAsync(TestPaths.Q8, new ModelOptions { Threads = 2 }, progress, cts.Token));
        Assert.DoesNotContain(progress.Reports, r => r.Stage == ModelLoadStage.Done);
        Assert.True(progress.Reports.Count(r => r.Stage == ModelLoadStage.Repacking) < 6 * 7, "the load went on after it was cancelled");

        // Cancelled at the mapping stage (before any matrix), and before the load starts.
        using var atMapping = new CancellationTokenSource();
        var early = new Recorder(p => { if (p.Stage == ModelLoadStage.Mapping) atMapping.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => EurusModel.LoadAsync(TestPaths.Q8, null, early, atMapping.Token));
        Assert.DoesNotContain(early.Reports, r => r.Stage == ModelLoadStage.Repacking);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => EurusModel.LoadAsync(TestPaths.Q8, null, null, new CancellationToken(true)));
    }

    [Fact]
    public async Task CancellingAConversionLeavesNoTemporaryFile()
    {
        string temp = Path.GetTempPath();
        var before = Directory.GetFiles(temp, "eurus-hf-*.gguf").ToHashSet();
        using var cts = new CancellationTokenSource();
        var progress = new Recorder(p => { if (p.Stage == ModelLoadStage.Converting && p.StageFraction > 0) cts.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            EurusModel.LoadAsync(TestPaths.Model("kjv-tiny-hf"), new ModelOptions { Threads = 2 }, progress, cts.Token));
        Assert.DoesNotContain(Directory.GetFiles(temp, "eurus-hf-*.gguf"), f => !before.Contains(f));
    }
}
