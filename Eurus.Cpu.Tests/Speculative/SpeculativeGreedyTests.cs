using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tests.Forward;
using static Eurus.Cpu.Tests.Speculative.SpeculativeTestPrompts;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>
/// Greedy decoding with speculation (prompt lookup, a draft model) gives exactly the tokens plain greedy decoding gives:
/// the verification pass's logits equal one-token passes' bit for bit, and rejected drafts leave nothing behind.
/// </summary>
public class SpeculativeGreedyTests
{
    [Theory]
    [InlineData("kjv-tiny-Q8_0.gguf", KvCacheType.F32, 8)]
    [InlineData("kjv-tiny-Q4_0.gguf", KvCacheType.F32, 8)]
    [InlineData("kjv-tiny-F32.gguf", KvCacheType.F32, 3)]
    [InlineData("kjv-tiny-Q8_0.gguf", KvCacheType.F16, 5)]
    public async Task PromptLookupGivesPlainGreedyTokens(string file, KvCacheType kv, int maxDraft)
    {
        using var model = EurusModel.Load(TestPaths.Model(file), new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16, KvCacheType = kv });
        var plain = SamplingSettings.Greedy with { MaxTokens = 60, StopAtEos = false };
        var spec = plain with { Speculation = new SpeculativeDecoding { MaxDraftTokens = maxDraft, MinNgramSize = 1 } };
        int drafted = 0, accepted = 0, prompts = 0;
        foreach (var prompt in Ids(model, randomCount: 24))
        {
            using var a = model.CreateSession();
            using var b = model.CreateSession();
            var want = await Collect(a.GenerateTokensAsync(prompt, plain));
            var got = await Collect(b.GenerateTokensAsync(prompt, spec));
            Assert.Equal(want, got);
            Assert.Equal(a.Tokens, b.Tokens);
            drafted += b.LastTimings!.DraftTokens;
            accepted += b.LastTimings.AcceptedDraftTokens;
            prompts++;
        }
        Assert.Equal(32, prompts);
        // Both paths ran: drafts were kept, and drafts were rejected (so rollback happened).
        Assert.True(accepted > 100, $"{accepted} of {drafted} draft tokens accepted");
        Assert.True(drafted - accepted > 20, $"{accepted} of {drafted} draft tokens accepted");
    }

    [Fact]
    public async Task SessionContinuesIdenticallyAfterRejectedDrafts()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        var plain = SamplingSettings.Greedy with { MaxTokens = 40, StopAtEos = false };
        var spec = plain with { Speculation = new SpeculativeDecoding { MinNgramSize = 1 } };
        using var a = model.CreateSession();
        using var b = model.CreateSession();
        var first = model.Tokenizer.Encode(Texts[0]);
        Assert.Equal(await Collect(a.GenerateTokensAsync(first, plain)), await Collect(b.GenerateTokensAsync(first, spec)));
        Assert.True(b.LastTimings!.DraftTokens > b.LastTimings.AcceptedDraftTokens, "no draft was rejected");
        // A follow-up turn without speculation, then the logits of one more token: the caches hold the same entries.
        var next = model.Tokenizer.Encode(" And God said", addBos: false);
        Assert.Equal(await Collect(a.GenerateTokensAsync(next, plain)), await Collect(b.GenerateTokensAsync(next, plain)));
        Assert.True(a.Evaluate([5]).SequenceEqual(b.Evaluate([5])));
        // Rewinding into the speculated stretch and generating again.
        a.Rewind(first.Length + 10);
        b.Rewind(first.Length + 10);
        Assert.Equal(await Collect(a.GenerateTokensAsync([], plain)), await Collect(b.GenerateTokensAsync([], spec)));
    }

    [Theory]
    [InlineData(KvCacheType.F32)]
    [InlineData(KvCacheType.F16)]
    public async Task SlidingWindowRingBufferStaysExact(KvCacheType kv)
    {
        // Window 8, prompt batch 4: the ring holds 12 positions, so drafts overwrite slots of positions that leave the
        // window; generating far past the ring, rewinding and continuing must match plain decoding throughout.
        using var model = EurusModel.Load(TestModels.SyntheticWindow, new ModelOptions { Threads = 2, ContextLength = 200, BatchSize = 4, KvCacheType = kv });
        Assert.Equal(8, model.SlidingWindow);
        var plain = SamplingSettings.Greedy with { MaxTokens = 120, StopAtEos = false };
        var spec = plain with { Speculation = new SpeculativeDecoding { MinNgramSize = 1, NgramSize = 2 } };
        int drafted = 0, accepted = 0;
        foreach (var prompt in Ids(model, randomCount: 6).Skip(4))
        {
            using var a = model.CreateSession();
            using var b = model.CreateSession();
            Assert.Equal(await Collect(a.GenerateTokensAsync(prompt, plain)), await Collect(b.GenerateTokensAsync(prompt, spec)));
            drafted += b.LastTimings!.DraftTokens;
            accepted += b.LastTimings.AcceptedDraftTokens;
            foreach (int back in new[] { 3, 7, 30 })
            {
                a.Rewind(a.Tokens.Count - back);
                b.Rewind(b.Tokens.Count - back);
                var more = plain with { MaxTokens = 12 };
                Assert.Equal(await Collect(a.GenerateTokensAsync([], more)), await Collect(b.GenerateTokensAsync([], more with { Speculation = spec.Speculation })));
                Assert.True(a.Evaluate([7]).SequenceEqual(b.Evaluate([7])));
            }
        }
        Assert.True(accepted > 0 && drafted > accepted, $"{accepted} of {drafted} draft tokens accepted");
    }

    [Theory]
    [InlineData("kjv-tiny-Q8_0.gguf", "kjv-tiny-Q8_0.gguf")]
    [InlineData("kjv-tiny-F32.gguf", "kjv-tiny-Q4_0.gguf")]
    public async Task DraftModelGivesPlainGreedyTokens(string file, string draftFile)
    {
        using var model = EurusModel.Load(TestPaths.Model(file), new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        using var draft = EurusModel.Load(TestPaths.Model(draftFile), new ModelOptions { Threads = 1, ContextLength = 256, BatchSize = 16 });
        var plain = SamplingSettings.Greedy with { MaxTokens = 40, StopAtEos = false };
        var spec = plain with { Speculation = new SpeculativeDecoding { DraftModel = draft, MaxDraftTokens = 4 } };
        int drafted = 0, accepted = 0;
        using var b = model.CreateSession(); // one session across prompts: the drafter rewinds its cache to each new sequence
        foreach (var prompt in Ids(model, randomCount: 4))
        {
            using var a = model.CreateSession();
            b.Reset();
            Assert.Equal(await Collect(a.GenerateTokensAsync(prompt, plain)), await Collect(b.GenerateTokensAsync(prompt, spec)));
            drafted += b.LastTimings!.DraftTokens;
            accepted += b.LastTimings.AcceptedDraftTokens;
        }
        Assert.True(accepted > 0, $"{accepted} of {drafted} draft tokens accepted");
        if (file == draftFile) Assert.Equal(drafted, accepted); // a model drafting for itself is always right
        else Assert.True(drafted > accepted, $"{accepted} of {drafted} draft tokens accepted");
    }

    [Fact]
    public void DraftModelWithAnotherVocabularyIsRefused()
    {
        using var dir = TestPaths.Temp();
        string path = dir.File("vocab-512.gguf");
        SyntheticModel.Write(path, new SyntheticModelOptions { Dim = 64, Layers = 1, Heads = 4, KvHeads = 2, FeedForward = 128, ContextLength = 64, Vocab = 512, Seed = 5 });
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 64 });
        using var other = EurusModel.Load(path, new ModelOptions { Threads = 1, ContextLength = 64 });
        Assert.NotEqual(model.Config.Vocab, other.Config.Vocab);
        using var session = model.CreateSession();
        var spec = SamplingSettings.Greedy with { Speculation = new SpeculativeDecoding { DraftModel = other } };
        Assert.Throws<ArgumentException>(() => session.GenerateTokensAsync([1, 5], spec).GetAsyncEnumerator().MoveNextAsync().AsTask().GetAwaiter().GetResult());
    }

    [Theory]
    [InlineData(0, 3, 8)]
    [InlineData(3, 2, 8)]
    [InlineData(2, 3, 0)]
    [InlineData(2, 3, 33)]
    [InlineData(2, 17, 8)]
    public void BadSettingsAreRefused(int min, int max, int draft)
    {
        var s = SamplingSettings.Greedy with { Speculation = new SpeculativeDecoding { MinNgramSize = min, NgramSize = max, MaxDraftTokens = draft } };
        Assert.Throws<ArgumentException>(s.Validate);
    }
}
