using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Sampling;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Tests.Generation;

/// <summary>
/// Disposing a model, a session, a chat client or a worker pool while another thread generates: the generation either
/// finishes or ends with <see cref="ObjectDisposedException"/>; memory is never freed under a running kernel (which
/// would be an AccessViolation and kill the test process) and nothing hangs.
/// </summary>
public sealed class DisposalTests
{
    private static readonly SamplingSettings Long = SamplingSettings.Greedy with { MaxTokens = 400, StopAtEos = false };

    /// <summary>Consumes a generation; returns how it ended (null: it finished).</summary>
    private static async Task<Exception?> Consume(IAsyncEnumerable<string> stream)
    {
        try
        {
            await foreach (var _ in stream) { }
            return null;
        }
        catch (ObjectDisposedException e) { return e; }
    }

    private static async Task Within(Task task, string what)
    {
        var done = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(done == task, $"{what} did not end within a minute");
        await task;
    }

    [Fact]
    public async Task DisposingTheModelDuringGenerationEndsItCleanly()
    {
        var rng = new Random(5);
        int disposedMidway = 0;
        for (int i = 0; i < 25; i++)
        {
            var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 512 });
            var session = model.CreateSession();
            var started = new TaskCompletionSource();
            var run = Task.Run(() => Consume(Signal(session.GenerateAsync("And God said", Long), started)));
            await started.Task;
            await Task.Delay(rng.Next(0, 15));
            model.Dispose();
            await Within(run, "a generation whose model was disposed");
            if (await run is not null) disposedMidway++;
            session.Dispose();
            Assert.Throws<ObjectDisposedException>(() => session.Evaluate([1, 2]));
        }
        Assert.True(disposedMidway > 0, "no disposal landed during a generation: the test did not test anything");
    }

    [Fact]
    public async Task DisposingTheSessionDuringGenerationEndsItCleanly()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 512 });
        var rng = new Random(6);
        int disposedMidway = 0;
        for (int i = 0; i < 25; i++)
        {
            var session = model.CreateSession();
            var started = new TaskCompletionSource();
            var run = Task.Run(() => Consume(Signal(session.GenerateAsync("In the beginning", Long), started)));
            await started.Task;
            await Task.Delay(rng.Next(0, 15));
            session.Dispose();
            await Within(run, "a generation whose session was disposed");
            if (await run is not null) disposedMidway++;
        }
        Assert.True(disposedMidway > 0, "no disposal landed during a generation");
        // The model is unharmed: a new session still generates.
        using var fresh = model.CreateSession();
        Assert.NotEmpty(await fresh.GenerateAsync("And God said", SamplingSettings.Greedy with { MaxTokens = 4 }).ToListAsync());
    }

    [Fact]
    public async Task DisposingTheChatClientDuringAResponseEndsItCleanly()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 512 });
        var options = new ChatOptions { MaxOutputTokens = 400, Temperature = 0 };
        int disposedMidway = 0;
        for (int i = 0; i < 15; i++)
        {
            var client = new EurusChatClient(model);
            var started = new TaskCompletionSource();
            async IAsyncEnumerable<string> Texts()
            {
                await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hello")], options))
                    yield return u.Text;
            }
            var run = Task.Run(() => Consume(Signal(Texts(), started)));
            await started.Task;
            await Task.Delay(i % 5);
            client.Dispose();
            await Within(run, "a response whose chat client was disposed");
            if (await run is not null) disposedMidway++;
        }
        Assert.True(disposedMidway > 0, "no disposal landed during a response");
    }

    [Fact]
    public async Task DisposingTheModelUnderABatchedGeneratorFailsItsRequestsAndKeepsItStoppable()
    {
        var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 512 });
        var generator = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2 });
        var prompt = model.Tokenizer.Encode("And God said");
        var a = generator.Submit(prompt, Long);
        var b = generator.Submit(prompt, Long);
        await foreach (var _ in a) break; // it runs
        model.Dispose();
        var ended = Task.WhenAll(a.Completion.ContinueWith(_ => { }), b.Completion.ContinueWith(_ => { }));
        await Within(ended, "batched requests whose model was disposed");
        Assert.True(a.Completion.IsFaulted || (await a.Completion).FinishReason != FinishReason.None);
        generator.Dispose();
    }

    [Fact]
    public async Task DisposingAWorkerPoolDuringARunNeverLeavesTheRunWaiting()
    {
        for (int i = 0; i < 300; i++)
        {
            var pool = new WorkerPool(2);
            if (i % 2 == 0) Thread.Sleep(1); // let the worker fall asleep sometimes: Dispose then races its wake-up
            var work = new SlowWork();
            var run = Task.Run(() => pool.Run(work, 16));
            work.Started.Wait();
            pool.Dispose();
            Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))) == run, $"iteration {i}: Run still waits for its workers after Dispose");
            Assert.Equal(16, work.Done);
            Assert.Throws<ObjectDisposedException>(() => pool.Run(work, 1));
        }
    }

    private sealed class SlowWork : IParallelWork
    {
        public readonly ManualResetEventSlim Started = new();
        public int Done;

        public void Execute(int index)
        {
            Started.Set();
            Thread.SpinWait(2000);
            Interlocked.Increment(ref Done);
        }
    }

    private static async IAsyncEnumerable<string> Signal(IAsyncEnumerable<string> stream, TaskCompletionSource started)
    {
        await foreach (var s in stream)
        {
            started.TrySetResult();
            yield return s;
        }
        started.TrySetResult();
    }
}
