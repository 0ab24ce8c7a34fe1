using Eurus.LoadTest;

namespace Eurus.Server.Tests;

/// <summary>
/// The load test of docs/serving.md, small: 3 replicas and the YARP gateway on 127.0.0.1, 8 streaming conversations
/// of 3 turns with client cancellations, one replica killed part way and restarted. Every request completes, is
/// cancelled by its client or ends with a clean error near the kill; none hangs; turns keep their replica; the prompt
/// cache reports hits; memory stays bounded. The full run (64 conversations) is <c>dotnet run -c Release --project samples/LoadTest</c>.
/// </summary>
[Collection(nameof(LoadTests))] // alone: its five processes would slow the timing-sensitive tests beside it
public class LoadTests
{
    [Fact]
    public async Task ThreeReplicasBehindTheGatewaySurviveAKillWithEveryRequestAccountedFor()
    {
        var options = new LoadTestOptions
        {
            Conversations = 8, Turns = 3, MaxTokens = 16, CancelFraction = 0.2, KillAt = 0.25, Parallel = 4,
            Configuration = BuildConfiguration, // the server and gateway were built with these tests, in their configuration
        };
        var report = await LoadTestRunner.RunAsync(options, Console.Out);
        string summary = report.Summary();
        Console.WriteLine(summary);
        var problems = report.Problems(options);
        Assert.True(problems.Count == 0, string.Join("\n", problems) + "\n" + summary);
        Assert.NotNull(report.KilledAt);
        Assert.NotNull(report.RestartedAt);
    }

#if DEBUG
    private const string BuildConfiguration = "Debug";
#else
    private const string BuildConfiguration = "Release";
#endif
}

[CollectionDefinition(nameof(LoadTests), DisableParallelization = true)]
public sealed class LoadTestsCollection;
