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
/// which <c>GetResponseAsync&lt;T&gt;</c> uses) to JSON valid against the schema (see <see cref="Grammar"/>). The client keeps one <see cref="InferenceSession"/>: when the next request's prompt starts
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

    /// <summary>The model id reported in responses: the model file's name without its extension.</summary>
    public string ModelId => Path.GetFileNameWithoutExtension(_model.FilePath);

    /// <summary>Prompt tokens the last request found already evaluated in the cache (for monitoring KV reuse).</summary>
    public int LastReusedTokens { get; private set; }

    /// <summary>
    /// The prompt tokens (Mistral-Instruct v0.1 format: <c>&lt;s&gt;[INST] u1 [/INST]a1&lt;/s&gt;[INST] u2 [/INST]</c>, BOS and
    /// EOS as ids) for <paramref name="messages"/>. System text goes in front of the first user message; a conversation
    /// ending with an assistant message leaves it open. Throws <see cref="ArgumentException"/> for other roles, or a
    /// conversation that does not start with a user message.
    /// </summary>
    public static IReadOnlyList<int> EncodePrompt(Tokenization.Tokenizer tokenizer, IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return MistralChatPrompt.Encode(tokenizer, messages);
    }

    /// <summary>
    /// The sampling settings a request with <paramref name="options"/> runs with. Throws <see cref="JsonSchemaGrammarException"/>
    /// for a response format whose schema cannot be turned into a grammar.
    /// </summary>
    public SamplingSettings ToSamplingSettings(ChatOptions? options)
    {
        if (options is null) return _defaults;
        if (options.Tools is { Count: > 0 }) throw new NotSupportedException("Eurus.Cpu's chat client does not support tools.");
        if (options.MaxOutputTokens is < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxOutputTokens, "MaxOutputTokens must be ≥ 0.");
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
            Grammar = GrammarFor(options.ResponseFormat) ?? _defaults.Grammar,
        };
        s.Validate();
        return s;
    }

    private Grammar? GrammarFor(ChatResponseFormat? format)
    {
        if (format is not ChatResponseFormatJson json) return null;
        if (json.Schema is not { } schema) return Grammar.JsonObject;
        string text = schema.GetRawText();
        lock (_schemaGrammars)
        {
            if (_schemaGrammars.TryGetValue(text, out var cached)) return cached;
            if (_schemaGrammars.Count >= 32) _schemaGrammars.Clear();
            return _schemaGrammars[text] = Grammar.FromJsonSchema(text);
        }
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        ChatResponseUpdate? last = null;
        string? id = null;
        await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            id ??= u.ResponseId;
            text.Append(u.Text);
            last = u;
        }
        var usage = last?.Contents.OfType<UsageContent>().FirstOrDefault()?.Details;
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()) { MessageId = id })
        {
            ResponseId = id,
            ModelId = ModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = last?.FinishReason,
            Usage = usage,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var settings = ToSamplingSettings(options);
        var prompt = EncodePrompt(_model.Tokenizer, messages);
        if (prompt.Count > _session.ContextLength)
            throw _model.ContextFull("The conversation", prompt.Count);
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
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
            await foreach (var t in _session.GenerateTokensAsync(rest, settings, cancellationToken).ConfigureAwait(false))
                if (t.Text.Length > 0)
                    yield return new ChatResponseUpdate(ChatRole.Assistant, t.Text) { ResponseId = id, MessageId = id, ModelId = ModelId };
            var timings = _session.LastTimings!;
            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                ResponseId = id,
                MessageId = id,
                ModelId = ModelId,
                FinishReason = timings.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull ? ChatFinishReason.Length : ChatFinishReason.Stop,
                Contents = [new UsageContent(new UsageDetails
                {
                    InputTokenCount = prompt.Count,
                    OutputTokenCount = timings.GeneratedTokens,
                    TotalTokenCount = prompt.Count + timings.GeneratedTokens,
                })],
            };
        }
        finally
        {
            _gate.Release();
        }
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
