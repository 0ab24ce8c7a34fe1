using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Tests.Api;

/// <summary>
/// Generation consumed from a UI thread (a single-threaded synchronization context) never runs a forward pass on that
/// thread, while the consumer's own code does run there (the context is used, as a UI expects), and the stream gives the
/// same text as off any context.
/// </summary>
public sealed class ComputeOffContextTests
{
    private static readonly SamplingSettings Greedy = SamplingSettings.Greedy with { MaxTokens = 24, StopAtEos = false };

    /// <summary>Watches every forward pass of <paramref name="model"/>: how many, and how many on the context's thread.</summary>
    private sealed class PassWatch
    {
        public int Passes, OnContext;
        public int ContextThread;

        public PassWatch(EurusModel model) => model.Compute.OnForward = () =>
        {
            Interlocked.Increment(ref Passes);
            if (Environment.CurrentManagedThreadId == Volatile.Read(ref ContextThread) || SynchronizationContext.Current is SingleThreadContext)
                Interlocked.Increment(ref OnContext);
        };
    }

    private static EurusModel Load() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128 });

    [Fact]
    public async Task SessionGenerationOnAUiContextComputesElsewhere()
    {
        using var model = Load();
        string expected;
        using (var reference = model.CreateSession())
            expected = string.Concat(await reference.GenerateAsync("And God said", Greedy).ToListAsync());

        var watch = new PassWatch(model);
        var (text, bodyOffContext, posted) = SingleThreadContext.Run(async ctx =>
        {
            watch.ContextThread = ctx.ThreadId;
            using var session = model.CreateSession();
            var sb = new System.Text.StringBuilder();
            int offContext = 0;
            await foreach (var piece in session.GenerateAsync("And God said", Greedy)) // no ConfigureAwait: as UI code is written
            {
                if (Environment.CurrentManagedThreadId != ctx.ThreadId) offContext++;
                sb.Append(piece);
            }
            return (sb.ToString(), offContext, ctx.Posted);
        });
        Assert.Equal(expected, text);
        Assert.True(watch.Passes > 1, "no forward pass ran");
        Assert.Equal(0, watch.OnContext);
        Assert.Equal(0, bodyOffContext);    // the consumer's loop body stayed on its UI thread
        Assert.True(posted > 0, "the context was never used: the test did not test a captured context");
    }

    [Fact]
    public async Task ChatSessionAndChatClientStreamsOnAUiContextComputeElsewhere()
    {
        using var model = Load();
        string chatExpected, clientExpected;
        using (var chat = new ChatSession(model)) chatExpected = string.Concat(await chat.SendAsync("Who made the earth?", Greedy).ToListAsync());
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 24 };
        ChatMessage[] messages = [new(ChatRole.User, "Who made the earth?")];
        using (var client = new EurusChatClient(model))
            clientExpected = string.Concat(await client.GetStreamingResponseAsync(messages, options).Select(u => u.Text).ToListAsync());

        var watch = new PassWatch(model);
        var (chatText, clientText) = SingleThreadContext.Run(async ctx =>
        {
            watch.ContextThread = ctx.ThreadId;
            using var chat = new ChatSession(model);
            var a = new System.Text.StringBuilder();
            await foreach (var piece in chat.SendAsync("Who made the earth?", Greedy)) a.Append(piece);
            using IChatClient client = new EurusChatClient(model);
            var b = new System.Text.StringBuilder();
            await foreach (var u in client.GetStreamingResponseAsync(messages, options)) b.Append(u.Text);
            return (a.ToString(), b.ToString());
        });
        Assert.Equal(chatExpected, chatText);
        Assert.Equal(clientExpected, clientText);
        Assert.True(watch.Passes > 2, "no forward pass ran");
        Assert.Equal(0, watch.OnContext);
    }

    [Fact]
    public async Task CancellationStopsBeforeTheNextToken()
    {
        using var model = Load();
        using var session = model.CreateSession();
        using var cts = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in session.GenerateTokensAsync(model.Tokenizer.Encode("And God said"), Greedy with { MaxTokens = 100 }, cts.Token))
                if (++received == 3) cts.Cancel();
        });
        Assert.Equal(3, received);
        Assert.Equal(FinishReason.Cancelled, session.LastTimings!.FinishReason);
        Assert.Equal(3, session.LastTimings.GeneratedTokens);
    }
}
