using System.Runtime.CompilerServices;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Workflows;

/// <summary>A fake model: replies with a fixed script (or a function of the message), recording what it was sent.</summary>
internal sealed class ScriptedResponder(Func<int, string, string> reply) : IChatResponder
{
    public ScriptedResponder(params string[] replies) : this((i, _) => i < replies.Length ? replies[i] : throw new InvalidOperationException("script exhausted")) { }

    public List<string> Received { get; } = [];
    public List<SamplingSettings?> Settings { get; } = [];

    public async IAsyncEnumerable<string> SendAsync(string userMessage, SamplingSettings? settings = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Received.Add(userMessage);
        Settings.Add(settings);
        await Task.Yield();
        string text = reply(Received.Count - 1, userMessage);
        // Stream in small pieces, as a model would.
        for (int i = 0; i < text.Length; i += 5) yield return text.Substring(i, Math.Min(5, text.Length - i));
    }
}
