using System.Text.Json;
using System.Text.Json.Serialization;

namespace Eurus.Server;

// Request bodies of the OpenAI API, as far as this server understands them. Unknown fields are ignored (clients send
// many); known fields of the wrong JSON type fail deserialisation and become a 400. Fields that are a string or an
// array in OpenAI's schema are read as JsonElement and checked by hand.

public sealed class ChatMessageDto
{
    public string? Role { get; set; }
    /// <summary>A string, or an array of parts of which the "text" ones are used.</summary>
    public JsonElement Content { get; set; }
    /// <summary>An assistant message's function calls (see <see cref="ToolFields"/>).</summary>
    public JsonElement ToolCalls { get; set; }
    /// <summary>A tool message's call id.</summary>
    public string? ToolCallId { get; set; }
}

public class SamplingFields
{
    public string? Model { get; set; }
    public bool Stream { get; set; }
    public StreamOptionsDto? StreamOptions { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public float? RepeatPenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public float? PresencePenalty { get; set; }
    public int? MaxTokens { get; set; }
    public int? MaxCompletionTokens { get; set; }
    public long? Seed { get; set; }
    public int? N { get; set; }
    /// <summary>Chat: a boolean; completions: the number of alternatives per token (see <see cref="LogprobFields"/>).</summary>
    public JsonElement Logprobs { get; set; }
    /// <summary>Chat: alternatives per token, 0 to 20.</summary>
    public int? TopLogprobs { get; set; }
    /// <summary>llama-server's: keep generating past the end-of-sequence token.</summary>
    public bool IgnoreEos { get; set; }
    /// <summary>A string or an array of strings.</summary>
    public JsonElement Stop { get; set; }
    /// <summary>Token id → bias; checked (count, ids, range) but not applied: the sampler has no logit bias.</summary>
    public JsonElement LogitBias { get; set; }
    /// <summary>llama-server's: reuse a slot's cached prompt prefix (null: the server's default, on).</summary>
    public bool? CachePrompt { get; set; }
    /// <summary>OpenAI's response format (text, json_object, json_schema); see <see cref="GrammarFields"/>.</summary>
    public JsonElement ResponseFormat { get; set; }
    /// <summary>llama-server's: a GBNF grammar the answer must follow.</summary>
    public string? Grammar { get; set; }
    /// <summary>llama-server's: a JSON Schema the answer must follow.</summary>
    public JsonElement JsonSchema { get; set; }
    /// <summary>llama-server's <c>speculative.n_max</c>: most prompt-lookup draft tokens per step (0: off); see <see cref="SpeculativeFields"/>.</summary>
    [JsonPropertyName("speculative.n_max")]
    public int? SpeculativeNMax { get; set; }
}

public sealed class StreamOptionsDto
{
    public bool IncludeUsage { get; set; }
}

public sealed class ChatRequest : SamplingFields
{
    public List<ChatMessageDto>? Messages { get; set; }
    /// <summary>Function tools, in Eurus.Cpu's own tool format (see <see cref="ToolFields"/>).</summary>
    public JsonElement Tools { get; set; }
    /// <summary>"none", "auto", "required" or {"type": "function", "function": {"name": …}}.</summary>
    public JsonElement ToolChoice { get; set; }
    /// <summary>Whether a reply may hold several calls (null: yes, as OpenAI's default); see <see cref="ToolFields"/>.</summary>
    public bool? ParallelToolCalls { get; set; }
}

public sealed class CompletionRequest : SamplingFields
{
    /// <summary>A string, an array of one string, or an array of token ids.</summary>
    public JsonElement Prompt { get; set; }
}

public sealed class TokenizeRequest
{
    public string? Content { get; set; }
    public bool AddSpecial { get; set; }
}

public sealed class DetokenizeRequest
{
    public List<int>? Tokens { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.Strict,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ChatRequest))]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(TokenizeRequest))]
[JsonSerializable(typeof(DetokenizeRequest))]
internal sealed partial class RequestJson : JsonSerializerContext;
