using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Batching;

/// <summary><see cref="BatchedGenerator.SubmitMany"/>: n continuations of one prompt evaluated once.</summary>
public class SharedPromptChoicesTests
{
    private const string Prompt = "And it came to pass in those days, that there went out a decree from Caesar Augustus, that all the world should be taxed.";

    private static async Task<List<int>> Ids(IAsyncEnumerable<GeneratedToken> stream)
    {
        var ids = new List<int>();
        await foreach (var t in stream) if (t.Id >= 0) ids.Add(t.Id);
        return ids;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task EachContinuationEqualsASingleRequestWithItsSeedAndThePromptIsEvaluatedOnce(bool promptCache)
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        var prompt = model.Tokenizer.Encode(Prompt);
        Assert.True(prompt.Length > 30);
        var settings = new SamplingSettings { Seed = 42, Temperature = 1.0f, MaxTokens = 10, StopAtEos = false };
        const int n = 3;
        var expected = new List<List<int>>();
        for (int i = 0; i < n; i++)
        {
            using var session = model.CreateSession();
            expected.Add(await Ids(session.GenerateTokensAsync(prompt, settings with { Seed = 42 + (ulong)i })));
        }
        Assert.True(expected.Distinct(new ListComparer()).Count() > 1, "the seeds give different continuations");

        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 4, PromptCache = promptCache });
        var choices = gen.SubmitMany(prompt, n, settings);
        Assert.Equal(n, choices.Count);
        var results = await Task.WhenAll(choices.Select(Ids));
        for (int i = 0; i < n; i++) Assert.Equal(expected[i], results[i]);

        // The leader evaluated the prompt; the others took a copy of its KV and evaluated none of it.
        var timings = await Task.WhenAll(choices.Select(c => c.Completion));
        Assert.Equal(prompt.Length, timings[0].PromptTokens);
        for (int i = 1; i < n; i++)
        {
            Assert.Equal(0, timings[i].PromptTokens);
            Assert.Equal(prompt.Length, timings[i].CachedPromptTokens);
        }
        // Counted by the generator itself: the prompt once, plus one decode token per generated token at most.
        long decoded = results.Sum(r => r.Count);
        Assert.InRange(gen.StepTokens, prompt.Length + decoded - n, prompt.Length + decoded);

        // Reproducible: the same request again gives the same continuations.
        var again = await Task.WhenAll(gen.SubmitMany(prompt, n, settings).Select(Ids));
        for (int i = 0; i < n; i++) Assert.Equal(expected[i], again[i]);
    }

    [Fact]
    public async Task ContinuationsOutliveACancelledLeader()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 8 });
        var prompt = model.Tokenizer.Encode(Prompt);
        var settings = new SamplingSettings { Seed = 5, Temperature = 0.8f, MaxTokens = 8, StopAtEos = false };
        using var session = model.CreateSession();
        var expected = await Ids(session.GenerateTokensAsync(prompt, settings with { Seed = 6 }));
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2 });
        var choices = gen.SubmitMany(prompt, 2, settings);
        choices[0].Cancel(); // before or after its prompt pass: the follower goes on either way
        Assert.Equal(expected, await Ids(choices[1]));
        Assert.Equal(FinishReason.Cancelled, (await choices[0].Completion).FinishReason);
    }

    [Fact]
    public async Task AGroupWaitsForItsSlotsAndACancelledQueuedLeaderHandsTheGroupOn()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 8 });
        var prompt = model.Tokenizer.Encode(Prompt);
        var settings = new SamplingSettings { Seed = 20, Temperature = 0.8f, MaxTokens = 6, StopAtEos = false };
        var expected = new List<List<int>>();
        for (int i = 0; i < 3; i++)
        {
            using var session = model.CreateSession();
            expected.Add(await Ids(session.GenerateTokensAsync(prompt, settings with { Seed = 20 + (ulong)i })));
        }
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 3 });
        // One slot busy: the group of 3 must wait in the queue, and there its leader is cancelled.
        var busy = gen.Submit(model.Tokenizer.Encode("In the beginning"), new SamplingSettings { Seed = 1, MaxTokens = 110, StopAtEos = false });
        while (gen.ActiveSequences == 0) await Task.Delay(1);
        var choices = gen.SubmitMany(prompt, 3, settings);
        Assert.Equal(1, gen.QueuedRequests);
        choices[0].Cancel();
        Assert.Equal(expected[1], await Ids(choices[1]));
        Assert.Equal(expected[2], await Ids(choices[2]));
        await foreach (var _ in busy) { }
        Assert.Equal(FinishReason.Cancelled, (await choices[0].Completion).FinishReason);
        // The heir evaluated the prompt; the other follower shared it.
        var t1 = await choices[1].Completion;
        var t2 = await choices[2].Completion;
        Assert.Equal(prompt.Length, t1.PromptTokens + t1.CachedPromptTokens);
        Assert.Equal(0, t2.PromptTokens);
    }

    [Fact]
    public void CountBeyondTheSlotsIsRefused()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 64 });
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2 });
        var prompt = model.Tokenizer.Encode("In the beginning");
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.SubmitMany(prompt, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.SubmitMany(prompt, 0));
    }

    private sealed class ListComparer : IEqualityComparer<List<int>>
    {
        public bool Equals(List<int>? a, List<int>? b) => a!.SequenceEqual(b!);
        public int GetHashCode(List<int> l) => l.Count;
    }
}
