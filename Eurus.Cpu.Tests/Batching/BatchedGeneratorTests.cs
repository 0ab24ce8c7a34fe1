using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Batching;

public class BatchedGeneratorTests
{
    private static readonly string[] Prompts =
    [
        "And God said", "In the beginning", "The LORD is my shepherd", "Blessed are the meek", "And it came to pass",
        "Thou shalt not",
    ];

    private static async Task<(List<int> Ids, string Text)> Collect(IAsyncEnumerable<GeneratedToken> stream)
    {
        var ids = new List<int>();
        var text = new System.Text.StringBuilder();
        await foreach (var t in stream)
        {
            if (t.Id >= 0) ids.Add(t.Id);
            text.Append(t.Text);
        }
        return (ids, text.ToString());
    }

    [Fact]
    public async Task ConcurrentRequestsEqualSessionsAloneForTheSameSeed()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        var settings = Prompts.Select((p, i) => new SamplingSettings
        {
            Seed = (ulong)(100 + i), Temperature = 0.9f, MaxTokens = 24 + 4 * i, StopAtEos = i % 2 == 0,
            StopStrings = i == 3 ? ["the"] : [],
        }).ToArray();
        var expected = new List<(List<int>, string, FinishReason)>();
        for (int i = 0; i < Prompts.Length; i++)
        {
            using var session = model.CreateSession();
            var r = await Collect(session.GenerateTokensAsync(model.Tokenizer.Encode(Prompts[i]), settings[i]));
            expected.Add((r.Ids, r.Text, session.LastTimings!.FinishReason));
        }

        // Three slots for six requests: three wait in the queue and join as others finish.
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 3 });
        var handles = Prompts.Select((p, i) => gen.Submit(model.Tokenizer.Encode(p), settings[i])).ToArray();
        var results = await Task.WhenAll(handles.Select(h => Collect(h)));
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(expected[i].Item1, results[i].Ids);
            Assert.Equal(expected[i].Item2, results[i].Text);
            var timings = await handles[i].Completion;
            Assert.Equal(expected[i].Item3, timings.FinishReason);
            Assert.Equal(results[i].Ids.Count, timings.GeneratedTokens);
        }
        Assert.Equal(0, gen.ActiveSequences);
        // Sequences shared steps: fewer weight passes than generated tokens.
        Assert.True(gen.Steps < results.Sum(r => r.Ids.Count), $"{gen.Steps} steps, {gen.StepTokens} tokens");
    }

    [Fact]
    public async Task FullQueueIsRefusedAndCancellationFreesTheSlot()
    {
        // A long context: on the demo model (256 positions) a consumer starved by a busy machine could see the running
        // stream end with ContextFull before its cancellation arrived.
        using var model = EurusModel.Load(Forward.TestModels.SyntheticLongContext, new ModelOptions { Threads = 1 });
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 1, QueueCapacity = 1 });
        var endless = new SamplingSettings { Seed = 1, MaxTokens = 100_000, StopAtEos = false };
        var prompt = model.Tokenizer.Encode("And God said");
        using var cts = new CancellationTokenSource();
        var first = gen.Submit(prompt, endless, cts.Token);
        var second = gen.Submit(prompt, endless);
        Assert.Throws<QueueFullException>(() => gen.Submit(prompt, endless));

        // Cancel the running one: its stream ends with OperationCanceledException and the waiting one gets the slot.
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in first)
                if (++seen == 3) cts.Cancel();
        });
        Assert.Equal(FinishReason.Cancelled, (await first.Completion).FinishReason);

        // Stopping the enumeration early cancels too.
        await foreach (var _ in second) break;
        Assert.Equal(FinishReason.Cancelled, (await second.Completion).FinishReason);
        Assert.Equal(0, gen.ActiveSequences);
        var third = await Collect(gen.Submit(prompt, SamplingSettings.Greedy with { MaxTokens = 5 }));
        Assert.Equal(5, third.Ids.Count);
    }

    [Fact]
    public void BadRequestsAreRefusedAtSubmission()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 32 });
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 1 });
        Assert.Throws<ArgumentException>(() => gen.Submit([]));
        Assert.Throws<ContextFullException>(() => gen.Submit(Enumerable.Repeat(5, 33).ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.Submit([1, model.Config.Vocab]));
        Assert.Throws<ArgumentException>(() => gen.Submit([1], new SamplingSettings { TopP = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 0 }));
    }
}
