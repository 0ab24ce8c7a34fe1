using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Chat;

/// <summary>
/// A model that replies to a conversation one user message at a time, remembering the earlier turns.
/// <see cref="ChatSession"/> is the real one; tests substitute scripted replies.
/// </summary>
public interface IChatResponder
{
    /// <summary>
    /// Adds <paramref name="userMessage"/> to the conversation and streams the reply. The reply (as streamed, without
    /// the stop string that ended it) becomes part of the conversation when the stream ends or is abandoned.
    /// </summary>
    IAsyncEnumerable<string> SendAsync(string userMessage, SamplingSettings? settings = null, CancellationToken cancellationToken = default);
}
