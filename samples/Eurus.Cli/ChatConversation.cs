using System.Runtime.CompilerServices;
using System.Text;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;

namespace Eurus.Cli;

/// <summary>
/// The conversation behind <c>eurus chat</c>: a transcript of turns (what <c>/save</c> writes and <c>/load</c> reads)
/// and one session whose KV cache holds its tokens in the Mistral-Instruct format. Each reply evaluates only the tokens
/// that differ from the cache (the new turn, and the tail of the last reply where its re-tokenization differs). When a
/// turn and its reply budget do not fit, the oldest exchanges are dropped (<see cref="Dropped"/>) and the rest is
/// re-evaluated — the policy of the library's <c>ContextFullPolicy.DropOldestTurns</c>, here over a transcript that can
/// be loaded, which <c>ChatSession</c> cannot start from yet.
/// </summary>
internal sealed class ChatConversation(EurusModel model, string? systemPrompt) : IDisposable
{
    private readonly InferenceSession _session = model.CreateSession();
    private readonly List<ChatTurn> _turns = [];

    /// <summary>The system prompt, folded into the first user message still in the context.</summary>
    public string? SystemPrompt { get; private set; } = systemPrompt;

    /// <summary>User and assistant turns still in the context, alternating, each user turn answered.</summary>
    public IReadOnlyList<ChatTurn> Turns => _turns;

    /// <summary>Counts and timings of the last reply.</summary>
    public GenerationTimings? LastTimings => _session.LastTimings;

    public int ContextLength => _session.ContextLength;

    /// <summary>Forgets every turn (the system prompt stays).</summary>
    public void Reset()
    {
        _turns.Clear();
        _session.Reset();
    }

    /// <summary>
    /// Replaces the conversation with <paramref name="turns"/> (answered exchanges) and evaluates it, so the next reply
    /// continues it. Returns how many of the oldest exchanges were dropped to fit the context.
    /// </summary>
    public int Load(string? systemPrompt, IReadOnlyList<ChatTurn> turns)
    {
        if (turns.Count % 2 != 0 || turns.Where((t, i) => t.Role != (i % 2 == 0 ? TurnRole.User : TurnRole.Assistant)).Any())
            throw new FormatException("a conversation must alternate user and assistant turns, starting with the user and ending with the assistant.");
        _turns.Clear();
        _turns.AddRange(turns);
        SystemPrompt = systemPrompt;
        int dropped = 0;
        // Half the context stays free for the next turns.
        while (_turns.Count > 0 && Encode(_turns).Length > ContextLength / 2) { _turns.RemoveRange(0, 2); dropped++; }
        _session.Reset();
        if (_turns.Count > 0) _session.Evaluate(Encode(_turns));
        return dropped;
    }

    /// <summary>
    /// Streams the reply to <paramref name="user"/>. The turn is recorded with whatever reply was produced when the
    /// stream ends — also when it is cancelled. <paramref name="dropped"/> receives how many exchanges were dropped first.
    /// </summary>
    public async IAsyncEnumerable<string> SendAsync(string user, SamplingSettings settings, Action<int> dropped,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var turns = new List<ChatTurn>(_turns) { ChatTurn.User(user) };
        int reserve = Math.Min(settings.MaxTokens, ContextLength);
        int drop = 0;
        int[] prompt = Encode(turns);
        while (turns.Count > 1 && prompt.Length + reserve > ContextLength)
        {
            turns.RemoveRange(0, 2);
            drop++;
            prompt = Encode(turns);
        }
        if (prompt.Length > ContextLength)
            throw new ContextFullException($"this message alone needs {prompt.Length} positions but the context holds {ContextLength}.");
        if (drop > 0)
        {
            _turns.RemoveRange(0, 2 * drop);
            dropped(drop);
        }

        // Reuse the cached prefix; at least the last prompt token is evaluated again, for fresh logits.
        var have = _session.Tokens;
        int common = 0, limit = Math.Min(have.Count, prompt.Length - 1);
        while (common < limit && have[common] == prompt[common]) common++;
        _session.Rewind(common);

        var reply = new StringBuilder();
        try
        {
            await foreach (var t in _session.GenerateTokensAsync(prompt[common..], settings, cancellationToken))
            {
                if (t.Text.Length == 0) continue;
                reply.Append(t.Text);
                yield return t.Text;
            }
        }
        finally
        {
            // Recorded once the prompt went in; a reply cut short (Ctrl-C) stays as far as it went, as llama-cli keeps it.
            if (_session.Tokens.Count >= prompt.Length)
            {
                _turns.Add(ChatTurn.User(user));
                _turns.Add(ChatTurn.Assistant(reply.ToString()));
            }
        }
    }

    private int[] Encode(IReadOnlyList<ChatTurn> turns) => SystemPrompt is { } system
        ? MistralChatFormat.Encode(model.Tokenizer, [ChatTurn.System(system), .. turns], new MistralChatOptions { FoldSystemIntoFirstUser = true })
        : MistralChatFormat.Encode(model.Tokenizer, turns);

    public void Dispose() => _session.Dispose();
}
