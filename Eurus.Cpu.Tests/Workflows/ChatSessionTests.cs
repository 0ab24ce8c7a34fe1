using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Workflows;

public class ChatSessionTests
{
    private static EurusModel Load(int ctx = 256) => EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = ctx, BatchSize = 16 });

    private static async Task<string> Send(ChatSession chat, string message, SamplingSettings settings)
    {
        var sb = new System.Text.StringBuilder();
        await foreach (var p in chat.SendAsync(message, settings)) sb.Append(p);
        return sb.ToString();
    }

    private static void AssertMatchesFromScratch(EurusModel model, ChatSession chat)
    {
        // Flush the last generated token, then compare with evaluating every token of the conversation at once.
        var cached = chat.Session.Evaluate([]).ToArray();
        int vocab = model.Config.Vocab, n = chat.Tokens.Count;
        using var scratch = model.CreateSession();
        var all = new float[n * vocab];
        scratch.EvaluateAll(chat.Tokens.ToArray(), all);
        var last = all.AsSpan((n - 1) * vocab, vocab);
        for (int i = 0; i < vocab; i++)
            Assert.True(MathF.Abs(last[i] - cached[i]) <= 1e-4f * (1 + MathF.Abs(last[i])), $"logit {i}: {last[i]} vs {cached[i]}");
    }

    [Fact]
    public async Task SecondTurnEvaluatesOnlyItsTokensAndMatchesFromScratch()
    {
        using var model = Load();
        using var chat = new ChatSession(model);
        var greedy = SamplingSettings.Greedy with { MaxTokens = 12 };
        string r1 = await Send(chat, "Who made the light?", greedy);
        int afterFirst = chat.Tokens.Count;
        string r2 = await Send(chat, "And the dark?", greedy);

        var tk = model.Tokenizer;
        int[] p1 = tk.Encode("[INST] Who made the light? [/INST]", addBos: false);
        int[] p2 = tk.Encode("[INST] And the dark? [/INST]", addBos: false);
        var tokens = chat.Tokens.ToArray();
        Assert.Equal([tk.BosId, .. p1], tokens[..(1 + p1.Length)]);
        Assert.Equal([tk.EosId, .. p2], tokens[afterFirst..(afterFirst + 1 + p2.Length)]);
        Assert.Equal(r1, tk.Decode(tokens[(1 + p1.Length)..afterFirst]));
        // Only the new turn (and the first reply's last token, sampled but not yet evaluated) went through the model.
        Assert.Equal(1 + 1 + p2.Length, chat.LastTimings!.PromptTokens);
        Assert.Equal([ChatTurn.User("Who made the light?"), ChatTurn.Assistant(r1), ChatTurn.User("And the dark?"), ChatTurn.Assistant(r2)], chat.History);
        AssertMatchesFromScratch(model, chat);
    }

    [Fact]
    public async Task StopStringIsTakenOutOfTheContext()
    {
        using var model = Load();
        var greedy = SamplingSettings.Greedy with { MaxTokens = 24 };
        string free;
        using (var a = new ChatSession(model)) free = await Send(a, "Tell me of Moses.", greedy);
        Assert.True(free.Length > 12, $"reply too short to pick a stop string: '{free}'");
        // A stop string that starts mid-token is the hard case: the token that crosses it must be cut.
        string stop = free.Substring(7, 4);
        int cut = free.IndexOf(stop, StringComparison.Ordinal);
        using var b = new ChatSession(model);
        string stopped = await Send(b, "Tell me of Moses.", greedy with { StopStrings = [stop] });
        Assert.Equal(free[..cut], stopped);
        Assert.Equal(FinishReason.StopString, b.LastTimings!.FinishReason);
        int promptEnd = 1 + model.Tokenizer.Encode("[INST] Tell me of Moses. [/INST]", addBos: false).Length;
        Assert.Equal(stopped, model.Tokenizer.Decode(b.Tokens.Skip(promptEnd)));
        await Send(b, "More.", greedy with { MaxTokens = 4 });
        AssertMatchesFromScratch(model, b);
    }

    [Fact]
    public async Task ThrowPolicyRefusesATurnThatDoesNotFitAndChangesNothing()
    {
        using var model = Load(ctx: 48);
        using var chat = new ChatSession(model);
        var greedy = SamplingSettings.Greedy with { MaxTokens = 8 };
        await Send(chat, "hi", greedy);
        var before = chat.Tokens.ToArray();
        var history = chat.History.ToArray();
        var e = await Assert.ThrowsAsync<ContextFullException>(() => Send(chat, string.Join(' ', Enumerable.Repeat("and the earth", 12)), greedy));
        Assert.Contains("DropOldestTurns", e.Message);
        Assert.Equal(before, chat.Tokens);
        Assert.Equal(history, chat.History);
    }

    [Fact]
    public async Task DropOldestTurnsKeepsTheContextConsistent()
    {
        using var model = Load(ctx: 64);
        using var chat = new ChatSession(model, new ChatSessionOptions { OnContextFull = ContextFullPolicy.DropOldestTurns, SystemPrompt = "Speak plainly." });
        var greedy = SamplingSettings.Greedy with { MaxTokens = 6 };
        for (int i = 0; i < 5; i++) await Send(chat, $"Tell me verse {i}.", greedy);
        Assert.True(chat.DroppedTurns > 0);
        Assert.True(chat.Tokens.Count <= 64);
        var history = chat.History;
        Assert.Equal("Tell me verse 4.", history[^2].Content);
        // The context is exactly: BOS, first kept turn with the system prompt folded in, replies, EOS separators.
        var tk = model.Tokenizer;
        var expected = new List<int> { tk.BosId };
        tk.Encode(MistralChatFormat.UserTurn("Speak plainly.\n\n" + history[0].Content), expected, addBos: false);
        Assert.Equal(expected, chat.Tokens.Take(expected.Count));
        Assert.Equal(history.Count / 2 - 1, chat.Tokens.Count(t => t == tk.EosId));
        AssertMatchesFromScratch(model, chat);
        // A message that cannot fit even alone is refused.
        await Assert.ThrowsAsync<ContextFullException>(() => Send(chat, string.Join(' ', Enumerable.Repeat("and the earth", 40)), greedy));
    }

    [Fact]
    public async Task AnAbandonedOrCancelledReplyStaysConsistent()
    {
        using var model = Load();
        using var chat = new ChatSession(model);
        var greedy = SamplingSettings.Greedy with { MaxTokens = 30 };
        string partial = "";
        await foreach (var p in chat.SendAsync("Who made the light?", greedy))
        {
            partial += p;
            if (partial.Length > 10) break; // the caller stops reading
        }
        Assert.Equal(partial, chat.History[^1].Content);
        using var cts = new CancellationTokenSource();
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var p in chat.SendAsync("And the dark?", greedy, cts.Token)) cts.Cancel();
        });
        Assert.Equal(4, chat.History.Count);
        await Send(chat, "Speak.", greedy with { MaxTokens = 3 });
        AssertMatchesFromScratch(model, chat);
        var tk = model.Tokenizer;
        Assert.Equal(MistralChatFormat.Encode(tk, [ChatTurn.User("Who made the light?")]), chat.Tokens.Take(1 + tk.Encode("[INST] Who made the light? [/INST]", false).Length));
        Assert.Equal(partial, tk.Decode(chat.Tokens.Skip(1 + tk.Encode("[INST] Who made the light? [/INST]", false).Length).TakeWhile(t => t != tk.EosId)));
    }
}
