using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tests.Forward;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>
/// Prompt lookup in the batched generator: a speculating slot puts its last token and its draft into the shared step;
/// each request still gets exactly the tokens a plain session gives it (greedy and seeded sampling), beside requests
/// that do not speculate.
/// </summary>
public class SpeculativeBatchedTests(Xunit.Abstractions.ITestOutputHelper output)
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

    /// <summary>
    /// A draft model in the batched generator (each slot drafts with its own session of it, kept with the slot): greedy
    /// requests get plain greedy tokens, and seeded sampled ones (drafts sampled and verified by speculative sampling,
    /// also under a grammar) the tokens a session with the same draft model gives them — the same draws in the same
    /// order — beside requests that do not speculate; the second round finds the slots' drafters from the first.
    /// </summary>
    [Theory]
    [InlineData("kjv-tiny-Q4_0.gguf")]
    [InlineData("kjv-tiny-Q8_0.gguf")] // the model drafting for itself: every draft token is kept
    public async Task DraftModelRequestsEqualPlainSessions(string draftFile)
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 160, BatchSize = 16 });
        using var draft = EurusModel.Load(TestPaths.Model(draftFile), new ModelOptions { Threads = 1, ContextLength = 160, BatchSize = 16 });
        var prompts = Ids(model, randomCount: 2).Take(8).ToList();
        var withDraft = new SpeculativeDecoding { DraftModel = draft, MaxDraftTokens = 3 }; // 4 sequences × (1 + 3) fit a step of 16
        var grammar = Eurus.Cpu.Grammars.Grammar.Parse("root ::= word word word? word? \".\"\nword ::= \" \" [a-z]+");
        var settings = prompts.Select((_, i) => new SamplingSettings
        {
            Temperature = i % 3 == 0 ? 0 : 0.9f, Seed = (ulong)(3 + i), MaxTokens = 30 + 4 * (i % 3), StopAtEos = false,
            Grammar = i % 4 == 2 ? grammar : null,
            Speculation = i % 4 == 3 ? null : withDraft,
        }).ToArray();
        var expected = new List<List<int>>();
        using (var session = model.CreateSession())
            for (int i = 0; i < prompts.Count; i++)
            {
                session.Reset();
                // Greedy: plain decoding's tokens. Sampled: the session with the same draft model (the same draws).
                var own = settings[i].Temperature == 0 ? settings[i] with { Speculation = null } : settings[i];
                expected.Add(await Collect(session.GenerateTokensAsync(prompts[i], own)));
            }
        using var generator = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 4, QueueCapacity = 64, StepTokens = 16 });
        int drafted = 0, accepted = 0, selfDrafted = 0, selfAccepted = 0;
        for (int round = 0; round < 2; round++)
        {
            var runs = prompts.Select((p, i) => generator.Submit(p, settings[i])).ToArray();
            var got = await Task.WhenAll(runs.Select(r => Collect(r)));
            for (int i = 0; i < prompts.Count; i++)
            {
                Assert.Equal(expected[i], got[i]);
                var t = await runs[i].Completion;
                drafted += t.DraftTokens;
                accepted += t.AcceptedDraftTokens;
                output.WriteLine($"round {round}, request {i}: {t.AcceptedDraftTokens} of {t.DraftTokens} draft tokens kept, {t.FinishReason}");
                if (settings[i].Speculation is null) Assert.Equal(0, t.DraftTokens);
                // Under a grammar a kept end of sequence ends the generation before it is counted as kept.
                if (settings[i].Grammar is null) { selfDrafted += t.DraftTokens; selfAccepted += t.AcceptedDraftTokens; }
            }
        }
        Assert.True(accepted > 0, $"{accepted} of {drafted} draft tokens accepted");
        if (draftFile == "kjv-tiny-Q8_0.gguf") Assert.Equal(selfDrafted, selfAccepted);
        else Assert.True(drafted > accepted, $"{accepted} of {drafted} draft tokens accepted");
    }

    [Fact]
    public void DraftModelWithAnotherVocabularyIsRefusedByTheBatchedGenerator()
    {
        using var dir = TestPaths.Temp();
        string path = dir.File("vocab-512.gguf");
        SyntheticModel.Write(path, new SyntheticModelOptions { Dim = 64, Layers = 1, Heads = 4, KvHeads = 2, FeedForward = 128, ContextLength = 64, Vocab = 512, Seed = 5 });
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 64 });
        using var other = EurusModel.Load(path, new ModelOptions { Threads = 1, ContextLength = 64 });
        using var generator = new BatchedGenerator(model);
        var settings = SamplingSettings.Greedy with { Speculation = new SpeculativeDecoding { DraftModel = other } };
        Assert.Throws<ArgumentException>(() => generator.Submit([1, 5, 6], settings));
    }
}
