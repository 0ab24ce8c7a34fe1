using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Chat;

/// <summary>
/// The log probabilities a <see cref="ChatOptions"/> asks <see cref="EurusChatClient"/> for. Microsoft.Extensions.AI
/// has no option of its own for them, so they are OpenAI's request fields in <see cref="ChatOptions.AdditionalProperties"/>:
/// <c>"logprobs"</c> (<see cref="EurusChatClient.LogprobsKey"/>, a bool) and <c>"top_logprobs"</c>
/// (<see cref="EurusChatClient.TopLogprobsKey"/>, an integer 0 to 20; more than 0 implies <c>logprobs</c>, as
/// <see cref="Sampling.SamplingSettings.TopLogprobs"/> does). A <see cref="JsonElement"/> of the right kind is taken too
/// (options that came through JSON).
/// </summary>
internal static class ChatLogprobOptions
{
    /// <summary>
    /// Whether log probabilities are asked for, and how many alternatives per token; null when the options have neither
    /// key (the client's defaults apply). <see cref="ArgumentException"/> for a value of the wrong type.
    /// </summary>
    public static (bool On, int Top)? Read(ChatOptions options)
    {
        if (options.AdditionalProperties is not { Count: > 0 } properties) return null;
        bool hasOn = properties.TryGetValue(EurusChatClient.LogprobsKey, out object? logprobs);
        bool hasTop = properties.TryGetValue(EurusChatClient.TopLogprobsKey, out object? value);
        if (!hasOn && !hasTop) return null;
        bool on = logprobs switch
        {
            null => false,
            bool b => b,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            JsonElement { ValueKind: JsonValueKind.False or JsonValueKind.Null } => false,
            _ => throw new ArgumentException(
                $"ChatOptions.AdditionalProperties[\"{EurusChatClient.LogprobsKey}\"] must be a bool, not {Describe(logprobs)}.", nameof(options)),
        };
        int top = 0;
        if (hasTop)
        {
            top = value switch
            {
                null => 0,
                int i => i,
                long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
                short s => s,
                byte b => b,
                JsonElement { ValueKind: JsonValueKind.Null } => 0,
                JsonElement { ValueKind: JsonValueKind.Number } e when e.TryGetInt32(out int n) => n,
                _ => throw new ArgumentException(
                    $"ChatOptions.AdditionalProperties[\"{EurusChatClient.TopLogprobsKey}\"] must be an integer, not {Describe(value)}.", nameof(options)),
            };
        }
        return (on || top > 0, top);
    }

    private static string Describe(object? value) => value is JsonElement e ? $"JSON {e.ValueKind}" : value?.GetType().Name ?? "null";
}
