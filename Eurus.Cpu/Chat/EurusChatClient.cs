using System.Runtime.CompilerServices;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Chat;

/// <summary>
/// <see cref="IChatClient"/> (Microsoft.Extensions.AI) over a loaded model, in the Mistral-Instruct chat format.
/// <see cref="ChatOptions"/> map onto <see cref="SamplingSettings"/> (temperature, top-p, top-k, max output tokens,
/// stop sequences, seed, frequency and presence penalties); responses carry usage (input and output token counts)
/// and the finish reason. <see cref="ChatOptions.ResponseFormat"/> constrains the answer: <see cref="ChatResponseFormat.Json"/>
/// to a JSON object, a JSON Schema format (<see cref="ChatResponseFormat.ForJsonSchema(System.Text.Json.JsonElement, string?, string?)"/>,
/// which <c>GetResponseAsync&lt;T&gt;</c> uses) to JSON valid against the schema (see <see cref="Grammar"/>).
/// <para>
/// <b>Function calling.</b> <see cref="ChatOptions.Tools"/> (function declarations, e.g. <see cref="AIFunction"/>s) and
/// <see cref="ChatOptions.ToolMode"/> are honoured, so <c>FunctionInvokingChatClient</c> (<c>UseFunctionInvocation()</c>)
/// works. Mistral-7B-v0.1 and Eurus-7B-KTO were not trained on any tool format, so the format is Eurus.Cpu's own:
/// the tools are listed, each with its description and the JSON Schema of its arguments, in a preamble in front of the
/// first user message (after any system text); a call is a reply that is exactly
/// <c>{"name": "NAME", "arguments": {…}}</c>; a function's result is a user turn <c>Function result (NAME): RESULT</c>
/// (a failure: <c>Function NAME failed: MESSAGE</c>); an earlier call stays in its assistant turn as that JSON. With
/// <see cref="ChatOptions.AllowMultipleToolCalls"/> true a reply may hold several calls (parallel calls), one such object
/// a line, at most <see cref="EurusToolCalling.MaxCallsPerReply"/>, and the preamble says so; the results of several
/// calls are one a line, in order. False or null (this client's default: the models were not trained on any tool
/// format, and one call is its plain form) allows one call per reply, and the preamble is the one-call text. A grammar
/// built from the tools' schemas constrains the reply: with <see cref="ChatToolMode.Auto"/> (or no mode) to a call of
/// one of the tools, arguments valid against that tool's schema, or else an answer (plain text that does not start
/// with <c>{</c>, or JSON of the <see cref="ChatOptions.ResponseFormat"/>); with <see cref="ChatToolMode.RequireAny"/>
/// to a call; with <see cref="ChatToolMode.RequireSpecific"/> to a call of that function; with
/// <see cref="ChatToolMode.None"/> the tools are described but the reply is not constrained to calls. A reply that is
/// whole calls comes back as <see cref="FunctionCallContent"/>s (one per call, each with a generated id of its own) with
/// <see cref="ChatFinishReason.ToolCalls"/>. The grammar guarantees the shape of a call, not that the model chooses
/// well: how useful the calls are depends on the model. A tool whose schema the converter does not support is a
/// <see cref="JsonSchemaGrammarException"/> naming the tool; a non-function tool is a <see cref="NotSupportedException"/>.
/// </para>
/// <para>
/// <b>Log probabilities.</b> Microsoft.Extensions.AI has no option for them, so a request asks with OpenAI's field names
/// in <see cref="ChatOptions.AdditionalProperties"/>: <c>"logprobs"</c> (<see cref="LogprobsKey"/>) <c>true</c>, and
/// <c>"top_logprobs"</c> (<see cref="TopLogprobsKey"/>) for 0 to 20 alternatives per token (more than 0 implies
/// <c>logprobs</c>). The answer's tokens then come, as the <see cref="GeneratedToken"/>s the session generated (id,
/// text, <see cref="GeneratedToken.Logprob"/>, <see cref="GeneratedToken.TopLogprobs"/>: the model's distribution
/// before sampling settings), in <see cref="ChatResponse.AdditionalProperties"/>[<see cref="LogprobsKey"/>] as an
/// <c>IReadOnlyList&lt;GeneratedToken&gt;</c>, every generated token in order; each streamed update carries its own
/// tokens' in <see cref="ChatResponseUpdate.AdditionalProperties"/> under the same key (a token that completes no
/// character yet goes with the next update's; a held-back call's with the last, which has the key whenever log
/// probabilities were asked for, perhaps with an empty list). Microsoft.Extensions.AI's <c>ToChatResponse</c> keeps
/// only the last update's value of a key (on the message), so join the updates' lists to have them all.
/// </para>
/// The client keeps one <see cref="InferenceSession"/>: when the next request's prompt starts
/// with the tokens already in its cache (a conversation that grew by appending turns) only the new tokens are
/// evaluated. Calls are serialised; use one client per concurrent conversation (they may share the model).
/// </summary>
/// <example>
/// <code>
/// using var model = EurusModel.Load("eurus-7b-kto.Q4_0.gguf");
/// IChatClient chat = new EurusChatClient(model);
/// var answer = await chat.GetResponseAsync("What is 17 * 23?", new ChatOptions { Temperature = 0, MaxOutputTokens = 64 });
/// Console.WriteLine(answer.Text);
/// </code>
/// </example>
public sealed class EurusChatClient : IChatClient
{
    private readonly EurusModel _model;
    private readonly InferenceSession _session;
    private readonly SamplingSettings _defaults;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ChatClientMetadata _metadata;
    private readonly Dictionary<string, Grammar> _schemaGrammars = new(StringComparer.Ordinal); // by schema text: their caches are reused
    private bool _disposed;

    /// <summary>
    /// Creates a client over <paramref name="model"/> (which must outlive it). <paramref name="defaults"/> are the
    /// sampling settings used where a request's <see cref="ChatOptions"/> says nothing (default: 512 tokens at most,
    /// otherwise <see cref="SamplingSettings"/>' defaults).
    /// </summary>
    public EurusChatClient(EurusModel model, SamplingSettings? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _defaults = defaults ?? new SamplingSettings { MaxTokens = 512 };
        _defaults.Validate();
        _session = model.CreateSession();
        _metadata = new ChatClientMetadata("Eurus.Cpu", defaultModelId: ModelId);
    }

    /// <summary>
    /// The <see cref="ChatOptions.AdditionalProperties"/> key (OpenAI's <c>logprobs</c>) that asks for log probabilities
    /// with <c>true</c>, and the <see cref="ChatResponse.AdditionalProperties"/> and
    /// <see cref="ChatResponseUpdate.AdditionalProperties"/> key under which the tokens come back, an
    /// <c>IReadOnlyList&lt;</c><see cref="GeneratedToken"/><c>&gt;</c> (see the class remarks).
    /// </summary>
    public const string LogprobsKey = "logprobs";

    /// <summary>
    /// The <see cref="ChatOptions.AdditionalProperties"/> key (OpenAI's <c>top_logprobs</c>) of the number of most
    /// likely alternatives to report per token, an integer 0 to 20 (<see cref="GeneratedToken.TopLogprobs"/>); more
    /// than 0 implies <see cref="LogprobsKey"/>.
    /// </summary>
    public const string TopLogprobsKey = "top_logprobs";

    /// <summary>The model id reported in responses: the model file's name without its extension.</summary>
    public string ModelId => Path.GetFileNameWithoutExtension(_model.FilePath);

    /// <summary>Prompt tokens the last request found already evaluated in the cache (for monitoring KV reuse).</summary>
    public int LastReusedTokens { get; private set; }

    /// <summary>
    /// The prompt tokens (Mistral-Instruct v0.1 format: <c>&lt;s&gt;[INST] u1 [/INST]a1&lt;/s&gt;[INST] u2 [/INST]</c>, BOS and
    /// EOS as ids) for <paramref name="messages"/>. System text goes in front of the first user message; a conversation
    /// ending with an assistant message leaves it open. Function calls and results in the messages are rendered as the
    /// class remarks say (a tool message is a user turn); the tool preamble is not included (a request with tools adds
    /// it). Throws <see cref="ArgumentException"/> for other roles, or a conversation that does not start with a user message.
    /// </summary>
    public static IReadOnlyList<int> EncodePrompt(Tokenization.Tokenizer tokenizer, IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return MistralChatPrompt.Encode(tokenizer, messages);
    }

    /// <summary>
    /// The sampling settings a request with <paramref name="options"/> runs with. Throws <see cref="JsonSchemaGrammarException"/>
    /// for a response format or a tool whose schema cannot be turned into a grammar, <see cref="NotSupportedException"/>
    /// for a tool that is not a function, <see cref="ArgumentException"/> for tools of one name, a required function
    /// that is not among them, or a <see cref="LogprobsKey"/> or <see cref="TopLogprobsKey"/> value of the wrong type or range.
    /// </summary>
    public SamplingSettings ToSamplingSettings(ChatOptions? options) => Plan(options).Settings;

    private (SamplingSettings Settings, ToolPlan? Tools) Plan(ChatOptions? options)
    {
        if (options is null) return (_defaults, null);
        if (options.MaxOutputTokens is < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxOutputTokens, "MaxOutputTokens must be ≥ 0.");
        var tools = ToolPlan.For(options);
        var grammar = tools is { Callable.Count: > 0 }
            ? Cached("gbnf:" + tools.Gbnf(AnswerSchema(options.ResponseFormat)), static key => Grammar.Parse(key[5..]))
            : GrammarFor(options.ResponseFormat);
        var (logprobs, top) = ChatLogprobOptions.Read(options) ?? (_defaults.Logprobs, _defaults.TopLogprobs);
        var s = _defaults with
        {
            Temperature = options.Temperature ?? _defaults.Temperature,
            TopP = options.TopP ?? _defaults.TopP,
            TopK = options.TopK ?? _defaults.TopK,
            MaxTokens = options.MaxOutputTokens ?? _defaults.MaxTokens,
            StopStrings = options.StopSequences is { Count: > 0 } stops ? [.. stops] : _defaults.StopStrings,
            Seed = options.Seed is long seed ? unchecked((ulong)seed) : _defaults.Seed,
            FrequencyPenalty = options.FrequencyPenalty ?? _defaults.FrequencyPenalty,
            PresencePenalty = options.PresencePenalty ?? _defaults.PresencePenalty,
            Grammar = grammar ?? _defaults.Grammar,
            Logprobs = logprobs,
            TopLogprobs = top,
        };
        s.Validate();
        return (s, tools);
    }

    /// <summary>The JSON Schema text a response format asks for (any object for plain JSON), or null for text.</summary>
    private static string? AnswerSchema(ChatResponseFormat? format) =>
        format is ChatResponseFormatJson json ? json.Schema is { } schema ? schema.GetRawText() : """{"type":"object"}""" : null;

    private Grammar? GrammarFor(ChatResponseFormat? format)
    {
        if (format is not ChatResponseFormatJson json) return null;
        if (json.Schema is not { } schema) return Grammar.JsonObject;
        return Cached(schema.GetRawText(), Grammar.FromJsonSchema);
    }

    /// <summary>The grammar made from <paramref name="key"/> (a schema, or "gbnf:" and GBNF text), reused across requests.</summary>
    private Grammar Cached(string key, Func<string, Grammar> make)
    {
        lock (_schemaGrammars)
        {
            if (_schemaGrammars.TryGetValue(key, out var cached)) return cached;
            if (_schemaGrammars.Count >= 32) _schemaGrammars.Clear();
            return _schemaGrammars[key] = make(key);
        }
    }

    /// <inheritdoc />
    /// <remarks>Function calls come back as <see cref="FunctionCallContent"/>s in the message (several where
    /// <see cref="ChatOptions.AllowMultipleToolCalls"/> allows them), with <see cref="ChatFinishReason.ToolCalls"/>. Asked
    /// for, the tokens' log probabilities are in <see cref="ChatResponse.AdditionalProperties"/>[<see cref="LogprobsKey"/>].</remarks>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        var calls = new List<AIContent>();
        List<GeneratedToken>? tokens = null;
        ChatResponseUpdate? last = null;
        string? id = null;
        await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            id ??= u.ResponseId;
            text.Append(u.Text);
            calls.AddRange(u.Contents.OfType<FunctionCallContent>());
            if (u.AdditionalProperties?.TryGetValue(LogprobsKey, out object? lp) == true) (tokens ??= []).AddRange((IReadOnlyList<GeneratedToken>)lp!);
            last = u;
        }
        var usage = last?.Contents.OfType<UsageContent>().FirstOrDefault()?.Details;
        var message = new ChatMessage(ChatRole.Assistant, text.ToString()) { MessageId = id };
        if (calls.Count > 0) message.Contents = text.Length > 0 ? [new TextContent(text.ToString()), .. calls] : calls;
        var response = new ChatResponse(message)
        {
            ResponseId = id,
            ModelId = ModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = last?.FinishReason,
            Usage = usage,
        };
        if (tokens is not null) response.AdditionalProperties = new() { [LogprobsKey] = tokens };
        return response;
    }

    /// <inheritdoc />
    /// <remarks>With tools that may be called, a reply that starts with <c>{</c> is held back until it ends, then comes
    /// as one update with its <see cref="FunctionCallContent"/>s (or as text, when cut short before the calls were whole).
    /// Asked for, each update's tokens' log probabilities are in its <see cref="ChatResponseUpdate.AdditionalProperties"/>[<see cref="LogprobsKey"/>].</remarks>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (settings, tools) = Plan(options);
        var prompt = MistralChatPrompt.Encode(_model.Tokenizer, messages, tools?.Preamble);
        if (prompt.Count > _session.ContextLength)
            throw _model.ContextFull("The conversation", prompt.Count);
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        bool mayCall = tools is { Callable.Count: > 0 };
        // The log probabilities of the tokens not yet given out with an update's text.
        var logprobs = settings.Logprobs || settings.TopLogprobs > 0 ? new List<GeneratedToken>() : null;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Reuse the cached prefix; at least the last prompt token is evaluated again, for fresh logits.
            var have = _session.Tokens;
            int common = 0, limit = Math.Min(have.Count, prompt.Count - 1);
            while (common < limit && have[common] == prompt[common]) common++;
            _session.Rewind(common);
            LastReusedTokens = common;
            var rest = prompt.Skip(common).ToArray();
            // A reply that may be a call is held back while it is empty or starts with '{'.
            var held = mayCall ? new System.Text.StringBuilder() : null;
            await foreach (var t in _session.GenerateTokensAsync(rest, settings, cancellationToken).ConfigureAwait(false))
            {
                if (t.Id >= 0) logprobs?.Add(t); // not the text a stop string held back, given out at the end (id -1)
                if (t.Text.Length == 0) continue;
                if (held is not null)
                {
                    held.Append(t.Text);
                    if (held[0] == '{') continue;
                    string first = held.ToString();
                    held = null;
                    yield return Update(id, first, logprobs);
                }
                else yield return Update(id, t.Text, logprobs);
            }
            var timings = _session.LastTimings!;
            var finish = timings.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull ? ChatFinishReason.Length : ChatFinishReason.Stop;
            var contents = new List<AIContent>();
            if (held is { Length: > 0 })
            {
                string reply = held.ToString();
                if (finish == ChatFinishReason.Stop && ToolCallFormat.TryParseCalls(reply, tools!.Callable, tools.Several) is { } calls)
                {
                    contents.AddRange(calls);
                    finish = ChatFinishReason.ToolCalls;
                }
                else yield return Update(id, reply, logprobs);
            }
            contents.Add(new UsageContent(new UsageDetails
            {
                InputTokenCount = prompt.Count,
                OutputTokenCount = timings.GeneratedTokens,
                TotalTokenCount = prompt.Count + timings.GeneratedTokens,
            }));
            var end = new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                ResponseId = id,
                MessageId = id,
                ModelId = ModelId,
                FinishReason = finish,
                Contents = contents,
            };
            // Asked for, the last update always has the key (an empty list when every token went before), so a whole
            // response has it even without tokens.
            if (logprobs is not null) end.AdditionalProperties = new() { [LogprobsKey] = Take(logprobs) };
            yield return end;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>An update of <paramref name="text"/>, with the log probabilities of the tokens not given out yet.</summary>
    private ChatResponseUpdate Update(string id, string text, List<GeneratedToken>? logprobs)
    {
        var update = new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = id, MessageId = id, ModelId = ModelId };
        if (logprobs is { Count: > 0 }) update.AdditionalProperties = new() { [LogprobsKey] = Take(logprobs) };
        return update;
    }

    /// <summary>The tokens in <paramref name="pending"/>, as a list of their own; <paramref name="pending"/> is emptied.</summary>
    private static IReadOnlyList<GeneratedToken> Take(List<GeneratedToken> pending)
    {
        GeneratedToken[] taken = [.. pending];
        pending.Clear();
        return taken;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType == typeof(EurusModel)) return _model;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>
    /// Frees the client's session (not the model). A response being generated on another thread finishes its current
    /// step and then ends with <see cref="ObjectDisposedException"/>; no memory is freed under it.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
        // _gate (a SemaphoreSlim whose wait handle is never created) is not disposed: a running response releases it.
    }
}
