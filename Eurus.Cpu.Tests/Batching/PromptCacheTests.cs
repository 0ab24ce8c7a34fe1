using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Batching;

/// <summary>
/// The batched generator's prompt cache: a conversation's next turn evaluates only its new tokens, a prefix held by a
/// busy slot is copied, idle slots are reused least recently used first, and the output is the same bit for bit with
/// or without the cache (and equal to a fresh <see cref="InferenceSession"/>).
/// </summary>
public class PromptCacheTests
{
    private static async Task<List<int>> Ids(BatchedGeneration g)
    {
        var ids = new List<int>();
        await foreach (var t in g) if (t.Id >= 0) ids.Add(t.Id);
        return ids;
    }

    private static async Task<List<int>> SessionIds(EurusModel model, IReadOnlyList<int> prompt, SamplingSettings settings)
    {
        using var session = model.CreateSession();
        var ids = new List<int>();
        await foreach (var t in session.GenerateTokensAsync(prompt, settings)) if (t.Id >= 0) ids.Add(t.Id);
        return ids;
    }

    /// <summary>Three turns: each next prompt is the previous prompt, its answer and a new user text.</summary>
    private static async Task<List<(List<int> Prompt, List<int> Answer, GenerationTimings Timings)>> Conversation(
        EurusModel model, BatchedGenerator gen, SamplingSettings settings, bool reuse = true)
    {
        string[] turns = ["And God said", " Then Jesus answered", " Behold, the LORD"];
        var history = new List<int>();
        var result = new List<(List<int>, List<int>, GenerationTimings)>();
        foreach (var text in turns)
        {
            var prompt = new List<int>(history);
            prompt.AddRange(model.Tokenizer.Encode(text, addBos: history.Count == 0));
            var g = gen.Submit(prompt, settings, reuse);
            var answer = await Ids(g);
            result.Add((prompt, answer, await g.Completion));
            history = [.. prompt, .. answer];
        }
        return result;
    }

    [Theory]
    [InlineData(null)]
    [InlineData(24)]
    public async Task TheNextTurnEvaluatesOnlyItsNewTokensAndAnswersAsWithoutTheCache(int? window)
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 160, BatchSize = 16, SlidingWindow = window });
        foreach (var settings in new[] { SamplingSettings.Greedy with { MaxTokens = 20, StopAtEos = false }, new SamplingSettings { Seed = 5, Temperature = 0.8f, MaxTokens = 20, StopAtEos = false } })
        {
            using var cached = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2 });
            using var uncached = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2, PromptCache = false });
            var with = await Conversation(model, cached, settings);
            var without = await Conversation(model, uncached, settings);
            for (int turn = 0; turn < with.Count; turn++)
            {
                var (prompt, answer, timings) = with[turn];
                Assert.Equal(without[turn].Prompt, prompt);
                Assert.Equal(without[turn].Answer, answer);
                Assert.Equal(await SessionIds(model, prompt, settings), answer);
                Assert.Equal(0, without[turn].Timings.CachedPromptTokens);
                Assert.Equal(prompt.Count, without[turn].Timings.PromptTokens);
                // Turn 1 has nothing cached. Later turns reuse every token the slot evaluated: the previous prompt
                // and its answer but the last token (sampled, never evaluated: the generation ended at max_tokens).
                int expectedCached = turn == 0 ? 0 : with[turn - 1].Prompt.Count + with[turn - 1].Answer.Count - 1;
                Assert.Equal(expectedCached, timings.CachedPromptTokens);
                Assert.Equal(prompt.Count - expectedCached, timings.PromptTokens);
            }
            Assert.True(with[2].Timings.PromptTokens < 10, $"turn 3 evaluated {with[2].Timings.PromptTokens} of {with[2].Prompt.Count} prompt tokens");
            // Every token of the uncached run's prompts was evaluated: more step tokens than the cached run's.
            Assert.True(cached.StepTokens < uncached.StepTokens, $"{cached.StepTokens} vs {uncached.StepTokens} tokens evaluated");
        }
    }

    [Fact]
    public async Task ARequestCanOptOutAndAnIdenticalPromptStillEvaluatesItsLastToken()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 1 });
        var settings = SamplingSettings.Greedy with { MaxTokens = 8, StopAtEos = false };
        var prompt = model.Tokenizer.Encode("In the beginning God created");
        var expected = await SessionIds(model, prompt, settings);
        var a = gen.Submit(prompt, settings);
        Assert.Equal(expected, await Ids(a));
        // The same prompt again: all but its last token come from the cache (the last one's logits are needed).
        var b = gen.Submit(prompt, settings);
        Assert.Equal(expected, await Ids(b));
        Assert.Equal(prompt.Length - 1, (await b.Completion).CachedPromptTokens);
        Assert.Equal(1, (await b.Completion).PromptTokens);
        var c = gen.Submit(prompt, settings, reuseCachedPrompt: false);
        Assert.Equal(expected, await Ids(c));
        Assert.Equal(0, (await c.Completion).CachedPromptTokens);
        Assert.Equal(prompt.Length, (await c.Completion).PromptTokens);
        var slot = Assert.Single(gen.GetSlots());
        Assert.False(slot.IsProcessing);
        Assert.Equal(prompt.Length + settings.MaxTokens - 1, slot.CachedTokens);
    }

    [Fact]
    public async Task APrefixHeldByABusySlotIsCopiedIntoTheNewRequestsSlot()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 16 });
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2 });
        var prompt = model.Tokenizer.Encode("And it came to pass in those days, that there went out a decree");
        var longRun = gen.Submit(prompt, SamplingSettings.Greedy with { MaxTokens = 200, StopAtEos = false });
        var reader = longRun.GetAsyncEnumerator();
        Assert.True(await reader.MoveNextAsync()); // its prompt is evaluated: the slot holds it
        var branch = prompt.Concat(model.Tokenizer.Encode(" Behold", addBos: false)).ToArray();
        var settings = SamplingSettings.Greedy with { MaxTokens = 10, StopAtEos = false };
        var g = gen.Submit(branch, settings);
        var ids = await Ids(g);
        var slots = gen.GetSlots();
        await reader.DisposeAsync(); // stops the long run
        Assert.Equal(FinishReason.Cancelled, (await longRun.Completion).FinishReason);
        Assert.Equal(await SessionIds(model, branch, settings), ids);
        Assert.Equal(prompt.Length, (await g.Completion).CachedPromptTokens);
        Assert.Single(slots, s => s.IsProcessing);
    }

    [Fact]
    public async Task IdleSlotsGoToNewPrefixesLeastRecentlyUsedFirst()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16 });
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2 });
        var settings = SamplingSettings.Greedy with { MaxTokens = 4, StopAtEos = false };
        int[] P(string text) => model.Tokenizer.Encode(text);
        async Task<int> Cached(int[] prompt)
        {
            var g = gen.Submit(prompt, settings);
            await Ids(g);
            return (await g.Completion).CachedPromptTokens;
        }
        var a = P("And God said, Let there be light");
        var b = P("The LORD is my shepherd; I shall not want");
        var c = P("Blessed are the meek: for they shall inherit");
        // Every prompt starts with BOS: a new conversation reuses that one token (copied into its slot).
        Assert.Equal(0, await Cached(a));
        Assert.Equal(1, await Cached(b));   // the never-used slot, not A's
        Assert.Equal(1, await Cached(c));   // evicts A (least recently used), keeps B
        Assert.Equal(b.Length - 1, await Cached(b));
        Assert.Equal(1, await Cached(a));   // A was evicted; it now evicts C, the least recently used
        Assert.Equal(b.Length - 1, await Cached(b));   // B, used after C, is still there
        Assert.Equal(1, await Cached(c));
        Assert.Equal(b.Length - 1, await Cached(b)); // C took A's slot (least recently used), not B's
        Assert.Equal(c.Length - 1, await Cached(c));
        Assert.Equal(2, gen.GetSlots().Count(x => x.CachedTokens > 0 && !x.IsProcessing));
    }
}
