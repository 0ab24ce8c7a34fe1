using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tests.Forward;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>
/// Prompt lookup in the batched generator: a speculating slot puts its last token and its draft into the shared step;
/// each request still gets exactly the tokens a plain session gives it (greedy and seeded sampling), beside requests
/// that do not speculate.
/// </summary>
public class SpeculativeBatchedTests
{
    [Theory]
    [InlineData("demo")]
    [InlineData("window")]
    public async Task SpeculatingRequestsEqualPlainSessions(string name)
    {
        string path = name == "window" ? TestModels.SyntheticWindow : TestPaths.Q8;
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 200, BatchSize = 8 });
        var prompts = Ids(model, randomCount: 4);
        var lookup = new SpeculativeDecoding { MinNgramSize = 1, MaxDraftTokens = 6 };
        var settings = prompts.Select((_, i) => new SamplingSettings
        {
            Temperature = i % 3 == 0 ? 0 : 0.9f, Seed = (ulong)(7 + i), MaxTokens = 50 + 5 * (i % 4), StopAtEos = false,
            Speculation = i % 4 == 3 ? null : lookup, // some requests decode plainly beside the speculating ones
        }).ToArray();
        var expected = new List<List<int>>();
        for (int i = 0; i < prompts.Count; i++)
        {
            using var session = model.CreateSession();
            expected.Add(await Collect(session.GenerateTokensAsync(prompts[i], settings[i] with { Speculation = null })));
        }
        using var generator = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 4, QueueCapacity = 64 });
        for (int round = 0; round < 2; round++) // the second round reuses the slots' prompt caches (stale drafts in them)
        {
            var runs = prompts.Select((p, i) => generator.Submit(p, settings[i])).ToArray();
            var got = await Task.WhenAll(runs.Select(r => Collect(r)));
            int drafted = 0, accepted = 0;
            for (int i = 0; i < prompts.Count; i++)
            {
                Assert.Equal(expected[i], got[i]);
                var t = await runs[i].Completion;
                drafted += t.DraftTokens;
                accepted += t.AcceptedDraftTokens;
                if (settings[i].Speculation is null) Assert.Equal(0, t.DraftTokens);
            }
            Assert.True(accepted > 0 && drafted > accepted, $"{accepted} of {drafted} draft tokens accepted");
            Assert.True(generator.StepTokens > generator.Steps);
        }
        Assert.Contains(generator.GetSlots(), slot => slot.CachedTokens > 0);
    }

    [Fact]
    public void DraftModelIsRefusedByTheBatchedGenerator()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 64 });
        using var generator = new BatchedGenerator(model);
        var settings = SamplingSettings.Greedy with { Speculation = new SpeculativeDecoding { DraftModel = model } };
        Assert.Throws<ArgumentException>(() => generator.Submit([1, 5, 6], settings));
    }
}
