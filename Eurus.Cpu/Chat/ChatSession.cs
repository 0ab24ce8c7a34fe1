using System.Runtime.CompilerServices;
using System.Text;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Chat;

/// <summary>
/// A multi-turn Mistral-Instruct conversation on one <see cref="InferenceSession"/>: each
/// <see cref="SendAsync"/> evaluates only the new turn's tokens, the earlier ones stay in the KV cache.
/// </summary>
/// <remarks>
/// The context holds <c>BOS, [INST] u1 [/INST], reply 1, EOS, [INST] u2 [/INST], reply 2, …</c>, where each reply is the
/// model's own tokens (not re-tokenized text), so the cache is reused exactly. A reply that ended at a stop string
/// keeps only the tokens of the text that was returned (the stop string is taken out of the context).
/// When a turn does not fit, <see cref="ChatSessionOptions.OnContextFull"/> decides: throw, or drop the oldest
/// exchanges and re-evaluate. Not thread-safe.
/// </remarks>
public sealed class ChatSession : IChatResponder, IDisposable
{
    private sealed class Turn(string user)
    {
        public string User { get; } = user;
        public int[] Prompt = [];
        public string? Reply;
        public int[] ReplyTokens = [];
    }

    private readonly EurusModel _model;
    private readonly InferenceSession _session;
    private readonly ChatSessionOptions _options;
    private readonly List<Turn> _turns = [];
    private bool _rebuild;
    private bool _busy;

    /// <summary>Starts an empty conversation with its own KV cache on <paramref name="model"/>.</summary>
    public ChatSession(EurusModel model, ChatSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _options = options ?? new ChatSessionOptions();
        _session = model.CreateSession();
    }

    /// <summary>The conversation still in the context (dropped turns are gone), user and assistant alternating.</summary>
    public IReadOnlyList<ChatTurn> History
    {
        get
        {
            var list = new List<ChatTurn>(_turns.Count * 2);
            foreach (var t in _turns)
            {
                list.Add(ChatTurn.User(t.User));
                if (t.Reply is not null) list.Add(ChatTurn.Assistant(t.Reply));
            }
            return list;
        }
    }

    /// <summary>The token ids in the context, in order.</summary>
    public IReadOnlyList<int> Tokens => _session.Tokens;

    /// <summary>How many exchanges <see cref="ContextFullPolicy.DropOldestTurns"/> has dropped so far.</summary>
    public int DroppedTurns { get; private set; }

    /// <summary>Counts and timings of the last reply (its prompt count is the tokens evaluated for that turn).</summary>
    public GenerationTimings? LastTimings => _session.LastTimings;

    /// <summary>The underlying session (tests compare its logits with a from-scratch evaluation).</summary>
    internal InferenceSession Session => _session;

    /// <summary>Forgets the conversation.</summary>
    public void Reset()
    {
        _turns.Clear();
        _session.Reset();
        _rebuild = false;
    }

    /// <inheritdoc />
    /// <exception cref="ContextFullException">The turn does not fit (with <see cref="ContextFullPolicy.Throw"/>, or
    /// even alone); the conversation is unchanged.</exception>
    public async IAsyncEnumerable<string> SendAsync(string userMessage, SamplingSettings? settings = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        settings ??= new SamplingSettings();
        settings.Validate();
        if (_busy) throw new InvalidOperationException("This chat is already replying; finish or abandon that reply first.");
        int ctx = _session.ContextLength;

        // Plan the turn: how many old exchanges to drop so that it (and, when dropping, its reply budget) fits.
        int drop = 0;
        int[] prompt;
        if (_options.OnContextFull == ContextFullPolicy.Throw)
        {
            int needed = Needed(0, userMessage);
            if (needed > ctx)
                throw _model.ContextFull("This turn", needed, "Start a new chat, or use ContextFullPolicy.DropOldestTurns. ");
        }
        else
        {
            // Keep room for the reply too, else the next turn would have to drop again right away.
            int reserve = Math.Min(settings.MaxTokens, ctx);
            while (drop < _turns.Count && Needed(drop, userMessage) + reserve > ctx) drop++;
            int alone = Needed(_turns.Count, userMessage);
            if (alone > ctx)
                throw _model.ContextFull("This message alone", alone);
        }

        List<int> toSend;
        if (drop > 0 || _rebuild)
        {
            _turns.RemoveRange(0, drop);
            DroppedTurns += drop;
            if (_turns.Count > 0) _turns[0].Prompt = EncodeUser(_turns[0].User, first: true); // the system prompt moves along
            _session.Reset();
            _rebuild = false;
            toSend = Layout();
        }
        else toSend = [];
        prompt = EncodeUser(userMessage, first: _turns.Count == 0);
        toSend.Add(_turns.Count == 0 ? _model.Tokenizer.BosId : _model.Tokenizer.EosId);
        toSend.AddRange(prompt);

        var turn = new Turn(userMessage) { Prompt = prompt };
        _turns.Add(turn);
        _busy = true;
        int start = _session.Tokens.Count + toSend.Count;
        var text = new StringBuilder();
        try
        {
            await foreach (var t in _session.GenerateTokensAsync(toSend, settings, cancellationToken).ConfigureAwait(false))
            {
                if (t.Text.Length == 0) continue;
                text.Append(t.Text);
                yield return t.Text;
            }
        }
        finally
        {
            await _session.LeaveContext(); // Finish may evaluate the tail of a reply cut at a stop string
            try { Finish(turn, start, text.ToString()); }
            finally { _busy = false; }
        }
    }

    /// <summary>Records the reply; keeps in the context exactly the tokens of the text that was returned.</summary>
    private void Finish(Turn turn, int start, string reply)
    {
        var tokens = _session.Tokens;
        if (tokens.Count < start)
        {
            // The prompt never went in (the session refused it): forget the turn and rebuild the cache next time.
            _turns.Remove(turn);
            _rebuild = true;
            return;
        }
        var tk = _model.Tokenizer;
        var generated = tokens.Skip(start).ToArray();
        int keep = generated.Length;
        string decoded = tk.Decode(generated);
        if (decoded != reply)
        {
            // Cut at a stop string: drop the tokens that reach past the returned text, re-append the missing tail.
            while (keep > 0 && !reply.StartsWith(decoded = tk.Decode(generated.Take(keep)), StringComparison.Ordinal)) keep--;
            if (keep == 0) decoded = "";
            _session.Rewind(start + keep);
            string tail = reply[decoded.Length..];
            if (tail.Length > 0)
            {
                var tailIds = new List<int>();
                tk.EncodeContinuation(tail, tailIds);
                try { _session.Evaluate(tailIds.ToArray()); }
                catch (ContextFullException) { reply = decoded; }
            }
        }
        turn.Reply = reply;
        turn.ReplyTokens = _session.Tokens.Skip(start).ToArray();
    }

    private int[] EncodeUser(string user, bool first)
    {
        string content = first && _options.SystemPrompt is { } system ? MistralChatFormat.FoldSystem(system, user) : user;
        return _model.Tokenizer.Encode(MistralChatFormat.UserTurn(content), addBos: false);
    }

    /// <summary>Length of the context after dropping <paramref name="drop"/> exchanges and adding the new message.</summary>
    private int Needed(int drop, string user)
    {
        int n = 1; // BOS
        for (int i = drop; i < _turns.Count; i++)
        {
            int p = i == drop && drop > 0 ? EncodeUser(_turns[i].User, first: true).Length : _turns[i].Prompt.Length;
            n += p + _turns[i].ReplyTokens.Length + 1; // + EOS
        }
        return n + EncodeUser(user, first: drop == _turns.Count).Length;
    }

    /// <summary>BOS, then each kept exchange's prompt and reply tokens (EOS between exchanges, none after the last).</summary>
    private List<int> Layout()
    {
        var ids = new List<int>();
        for (int i = 0; i < _turns.Count; i++)
        {
            ids.Add(i == 0 ? _model.Tokenizer.BosId : _model.Tokenizer.EosId);
            ids.AddRange(_turns[i].Prompt);
            ids.AddRange(_turns[i].ReplyTokens);
        }
        return ids;
    }

    /// <summary>Frees the session's memory.</summary>
    public void Dispose() => _session.Dispose();
}
