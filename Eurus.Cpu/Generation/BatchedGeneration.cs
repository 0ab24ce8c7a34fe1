using System.Threading.Channels;

namespace Eurus.Cpu.Generation;

/// <summary>
/// One request submitted to a <see cref="BatchedGenerator"/>: enumerate it (once) for the generated tokens as they are
/// decoded. Cancelling the token given at submission, or disposing the enumerator early, stops the generation and frees
/// its slot. <see cref="Completion"/> gives the counts and the finish reason when it ends.
/// </summary>
public sealed class BatchedGeneration : IAsyncEnumerable<GeneratedToken>
{
    private readonly Channel<GeneratedToken> _channel = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<GenerationTimings> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _cts;
    private int _enumerated;

    internal BatchedGeneration(int promptTokens, CancellationToken cancellationToken)
    {
        PromptTokens = promptTokens;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Tokens of the prompt.</summary>
    public int PromptTokens { get; }

    /// <summary>Completes when the generation ends, however it ends (a cancelled one reports <see cref="FinishReason.Cancelled"/>).</summary>
    public Task<GenerationTimings> Completion => _done.Task;

    internal CancellationToken Cancellation => _cts.Token;

    internal ChannelWriter<GeneratedToken> Writer => _channel.Writer;

    /// <summary>Stops the generation (as cancelling its token does); tokens already decoded stay readable.</summary>
    public void Cancel()
    {
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
    }

    internal void Finish(GenerationTimings timings, Exception? error = null)
    {
        _channel.Writer.TryComplete(error);
        _done.TrySetResult(timings);
    }

    /// <inheritdoc />
    public async IAsyncEnumerator<GeneratedToken> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _enumerated, 1) != 0) throw new InvalidOperationException("A batched generation can be enumerated once.");
        using var link = cancellationToken.Register(Cancel);
        bool completed = false;
        try
        {
            while (await _channel.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                while (_channel.Reader.TryRead(out var token))
                    yield return token;
            completed = true;
        }
        finally
        {
            // A consumer that stops early gives its slot back.
            if (!completed) Cancel();
        }
    }
}
