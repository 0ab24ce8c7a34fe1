using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Api;

/// <summary>
/// One worker pool per model: every session uses it, concurrent sessions give the results they give alone, and
/// disposing one session while another generates harms neither the other nor the pool.
/// </summary>
public sealed class SharedPoolTests
{
    private static readonly SamplingSettings Greedy = SamplingSettings.Greedy with { MaxTokens = 24, StopAtEos = false };

    private static EurusModel Load() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128 });

    [Fact]
    public async Task SessionsOfOneModelShareItsPoolAndGiveTheirOwnResultsConcurrently()
    {
        using var model = Load();
        string[] prompts = ["And God said", "In the beginning", "The LORD is my shepherd", "Blessed are"];
        var alone = new List<string>();
        foreach (var p in prompts)
        {
            using var s = model.CreateSession();
            alone.Add(string.Concat(await s.GenerateAsync(p, Greedy).ToListAsync()));
        }
        var sessions = prompts.Select(_ => model.CreateSession()).ToArray();
        // Four sessions on one model: one pool (one worker thread with Threads = 2), not one per session.
        Assert.All(sessions, s => Assert.Same(model.Compute.Pool, s.Pool));
        var together = await Task.WhenAll(prompts.Select((p, i) => Task.Run(async () => string.Concat(await sessions[i].GenerateAsync(p, Greedy).ToListAsync()))));
        foreach (var s in sessions) s.Dispose();
        Assert.Equal(alone, together);
    }

    [Fact]
    public async Task DisposingOneSessionMidwayLeavesTheOtherAndThePoolWorking()
    {
        using var model = Load();
        var long_ = SamplingSettings.Greedy with { MaxTokens = 100, StopAtEos = false };
        string expected;
        using (var alone = model.CreateSession()) expected = string.Concat(await alone.GenerateAsync("And God said", long_).ToListAsync());
        for (int i = 0; i < 10; i++)
        {
            using var keeper = model.CreateSession();
            var victim = model.CreateSession();
            var started = new TaskCompletionSource();
            var doomed = Task.Run(async () =>
            {
                try
                {
                    await foreach (var _ in victim.GenerateAsync("In the beginning", long_)) started.TrySetResult();
                }
                catch (ObjectDisposedException) { }
                started.TrySetResult();
            });
            var kept = Task.Run(async () => string.Concat(await keeper.GenerateAsync("And God said", long_).ToListAsync()));
            await started.Task;
            victim.Dispose();
            Assert.True(await Task.WhenAny(doomed, Task.Delay(TimeSpan.FromSeconds(60))) == doomed, "the disposed session's generation did not end");
            Assert.Equal(expected, await kept);
        }
    }
}
