using System.Text;
using System.Text.Json;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Tokenization;

namespace Eurus.Server;

/// <summary>
/// OpenAI's log probability fields. Requests: chat's <c>logprobs</c> (bool) and <c>top_logprobs</c> (0 to 20, needs
/// <c>logprobs</c>); completions' <c>logprobs</c> (the number of alternatives, 0 to 20; absent or null: off). Answers: the
/// model's distribution (log-softmax of the raw logits, before temperature and the filters), per token, in chat's
/// <c>{"content": [{token, logprob, bytes, top_logprobs}]}</c> or completions' <c>{tokens, token_logprobs, top_logprobs,
/// text_offset}</c> shape.
/// </summary>
internal static class LogprobFields
{
    public const int MaxTop = 20;

    /// <summary>Whether the request asks for log probabilities, and how many alternatives per token.</summary>
    public static (bool On, int Top) Read(SamplingFields r, bool chat)
    {
        var lp = r.Logprobs;
        if (chat)
        {
            bool on = lp.ValueKind switch
            {
                JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.False => false,
                JsonValueKind.True => true,
                _ => throw ApiException.BadRequest("'logprobs' must be a boolean.", "logprobs"),
            };
            if (r.TopLogprobs is int top)
            {
                if (top < 0 || top > MaxTop) throw ApiException.BadRequest($"'top_logprobs' must be from 0 to {MaxTop}, not {top}.", "top_logprobs");
                if (!on && top > 0) throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true.", "top_logprobs");
                return (on, top);
            }
            return (on, 0);
        }
        if (r.TopLogprobs is not null) throw ApiException.BadRequest("'top_logprobs' is a chat field; completions take the count in 'logprobs'.", "top_logprobs");
        switch (lp.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null: return (false, 0);
            case JsonValueKind.Number when lp.TryGetInt32(out int n) && n >= 0 && n <= MaxTop: return (true, n);
            default: throw ApiException.BadRequest($"'logprobs' must be a number of alternatives from 0 to {MaxTop}.", "logprobs");
        }
    }
}

/// <summary>The log probabilities of one choice's tokens, given out in pieces (a stream's chunks) or whole.</summary>
internal sealed class LogprobCollector(Tokenizer tokenizer, bool chat)
{
    private readonly List<object> _content = [];
    private readonly List<string> _tokens = [];
    private readonly List<float> _logprobs = [];
    private readonly List<Dictionary<string, float>?> _top = [];
    private readonly List<int> _offsets = [];
    private int _offset;

    /// <summary>Takes one streamed token (its log probabilities, and its text for the offsets).</summary>
    public void Add(GeneratedToken t)
    {
        if (t.Id >= 0 && t.Logprob is float lp)
        {
            string text = Text(t.Id);
            if (chat)
                _content.Add(new
                {
                    token = text, logprob = lp, bytes = Bytes(t.Id),
                    top_logprobs = (t.TopLogprobs ?? []).Select(a => new { token = Text(a.Id), logprob = a.Logprob, bytes = Bytes(a.Id) }).ToArray(),
                });
            else
            {
                _tokens.Add(text);
                _logprobs.Add(lp);
                _top.Add(t.TopLogprobs is { } top ? Top(top) : null);
                _offsets.Add(_offset);
            }
        }
        _offset += t.Text.Length;
    }

    /// <summary>The tokens added since the last call, in the endpoint's shape; null when none (<paramref name="always"/>: an empty list instead).</summary>
    public object? Take(bool always = false)
    {
        if (!always && _content.Count == 0 && _tokens.Count == 0) return null;
        object result = chat
            ? new { content = _content.ToArray() }
            : new { tokens = _tokens.ToArray(), token_logprobs = _logprobs.ToArray(), top_logprobs = _top.ToArray(), text_offset = _offsets.ToArray() };
        _content.Clear();
        _tokens.Clear();
        _logprobs.Clear();
        _top.Clear();
        _offsets.Clear();
        return result;
    }

    private Dictionary<string, float> Top(IReadOnlyList<TokenLogprob> top)
    {
        // Completions' legacy map (text → logprob): two ids with the same text keep the more likely one.
        var map = new Dictionary<string, float>(top.Count);
        foreach (var a in top) map.TryAdd(Text(a.Id), a.Logprob);
        return map;
    }

    /// <summary>The token's own text (its bytes as UTF-8; a lone byte of a multi-byte character becomes U+FFFD: see <c>bytes</c>).</summary>
    private string Text(int id) => Encoding.UTF8.GetString(tokenizer.GetPieceBytes(id));

    private int[] Bytes(int id)
    {
        var b = tokenizer.GetPieceBytes(id);
        var result = new int[b.Length];
        for (int i = 0; i < b.Length; i++) result[i] = b[i];
        return result;
    }
}
