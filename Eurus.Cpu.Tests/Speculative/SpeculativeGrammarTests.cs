using Eurus.Cpu.Generation;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>
/// A draft model under a grammar: with a temperature its drafts are sampled among the tokens the grammar allows after
/// the draft so far (the generation's grammar state is walked through the draft and restored; only kept tokens move
/// it), and verified under the same mask; greedy drafts are the draft model's best allowed token, and greedy output plain greedy's.
/// (The distribution under a grammar: <see cref="SpeculativeExactDistributionTests"/>.)
/// </summary>
public class SpeculativeGrammarTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>A short sentence: two to four words and a full stop, so generations end by the grammar.</summary>
    private static Grammar Sentence() => Grammar.Parse("root ::= word word word? word? \".\"\nword ::= \" \" [a-z]+");

    [Fact]
    public async Task SampledDraftsUnderAGrammarAlwaysParse()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        using var draft = EurusModel.Load(TestPaths.Model("kjv-tiny-Q4_0.gguf"), new ModelOptions { Threads = 1, ContextLength = 128, BatchSize = 16 });
        var grammar = Sentence();
        using var session = model.CreateSession();
        int drafted = 0, accepted = 0;
        for (int seed = 0; seed < 8; seed++)
        {
            session.Reset();
            var settings = new SamplingSettings
            {
                Temperature = seed % 2 == 0 ? 1f : 0.7f, TopK = seed % 3 == 0 ? 0 : 40, Seed = (ulong)seed, MaxTokens = 48, Grammar = grammar,
                // A draft temperature above the target's makes drafts the grammar's rarer tokens too (more rejections).
                Speculation = new SpeculativeDecoding { DraftModel = draft, MaxDraftTokens = 4, DraftTemperature = seed % 4 == 3 ? 2f : 0 },
            };
            var ids = await Collect(session.GenerateTokensAsync(model.Tokenizer.Encode(Texts[seed % Texts.Length]), settings));
            string text = model.Tokenizer.Decode(ids);
            output.WriteLine($"seed {seed}: {text}");
            Assert.Equal(FinishReason.EndOfSequence, session.LastTimings!.FinishReason);
            Assert.True(grammar.Matches(text), $"not a sentence of the grammar: {text}");
            drafted += session.LastTimings.DraftTokens;
            accepted += session.LastTimings.AcceptedDraftTokens;
        }
        output.WriteLine($"{accepted} of {drafted} draft tokens kept");
        Assert.True(accepted > 0 && drafted > accepted, $"{accepted} of {drafted} draft tokens kept");
    }

    [Fact]
    public void SampledDraftsUnderAGrammarStayWithinItsMask()
    {
        // Straight at the drafter: every draft token is allowed after the draft before it, the end of sequence only
        // where the grammar can end (and nothing after it), and the generation's grammar state does not move.
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 128, BatchSize = 16 });
        using var draftModel = EurusModel.Load(TestPaths.Model("kjv-tiny-Q4_0.gguf"), new ModelOptions { Threads = 1, ContextLength = 128, BatchSize = 16 });
        // A few words that end the sentence: every draft long enough reaches the end of sequence (the only token then allowed).
        var grammar = Grammar.Parse("root ::= \" \" (\"kill\" | \"steal\" | \"commit adultery\" | \"bear false witness\" | \"covet\")");
        using var drafter = new Eurus.Cpu.Generation.Speculation.DraftModelDrafter(draftModel, model);
        var constraint = new GrammarConstraint(grammar, model.Tokenizer);
        var prompt = model.Tokenizer.Encode(Texts[5]);
        int vocab = model.Config.Vocab, ends = 0;
        var draft = new int[12];
        var q = new float[draft.Length * vocab];
        for (int seed = 0; seed < 24; seed++)
        {
            var sampler = new Sampler(new SamplingSettings { Temperature = 2f, TopK = 0, TopP = 1, MinP = 0, Seed = (ulong)seed }, vocab);
            constraint.Reset();
            int k = drafter.Draft(prompt, draft, sampler, q, constraint, temperature: 0);
            Assert.Equal(new GrammarConstraint(grammar, model.Tokenizer).State, constraint.State);
            Assert.InRange(k, 1, draft.Length);
            for (int i = 0; i < k; i++)
            {
                Assert.True(constraint.Allows(draft[i]), $"seed {seed}: draft token {i} ({draft[i]}) is not allowed");
                Assert.True(q[i * vocab + draft[i]] > 0);
                var allowed = constraint.Allowed();
                for (int x = 0; x < vocab; x++)
                    if (q[i * vocab + x] > 0 && !allowed.Allows(x)) Assert.Fail($"q gives disallowed token {x}");
                if (draft[i] == model.Tokenizer.EosId) { Assert.Equal(k - 1, i); ends++; break; }
                constraint.Accept(draft[i]);
            }
        }
        output.WriteLine($"{ends} of 24 drafts ended");
        Assert.True(ends >= 12, $"{ends} of 24 drafts ended where the grammar ends");
    }

    [Theory]
    [InlineData("kjv-tiny-Q8_0.gguf")]
    [InlineData("kjv-tiny-Q4_0.gguf")]
    public async Task GreedyDraftsUnderAGrammarGivePlainGreedyTokens(string draftFile)
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        using var draft = EurusModel.Load(TestPaths.Model(draftFile), new ModelOptions { Threads = 1, ContextLength = 128, BatchSize = 16 });
        var grammar = Sentence();
        var plain = SamplingSettings.Greedy with { MaxTokens = 48, Grammar = grammar };
        var spec = plain with { Speculation = new SpeculativeDecoding { DraftModel = draft, MaxDraftTokens = 4 } };
        using var a = model.CreateSession();
        using var b = model.CreateSession();
        int drafted = 0;
        foreach (var text in Texts)
        {
            a.Reset();
            b.Reset();
            var prompt = model.Tokenizer.Encode(text);
            Assert.Equal(await Collect(a.GenerateTokensAsync(prompt, plain)), await Collect(b.GenerateTokensAsync(prompt, spec)));
            Assert.Equal(a.LastTimings!.FinishReason, b.LastTimings!.FinishReason);
            drafted += b.LastTimings.DraftTokens;
        }
        Assert.True(drafted > 0);
    }
}
