using Eurus.Cpu.Grammars;
using Eurus.Cpu.Tokenization;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Chat;

/// <summary>
/// Eurus.Cpu's function-calling format — the one <see cref="EurusChatClient"/> uses (see its remarks) — for a host that
/// builds its own generations, e.g. a server that speaks OpenAI's <c>tools</c> over a batched generator. One instance
/// is the tools and mode of one request: the prompt with the tool preamble, the GBNF its reply is sampled under, and the
/// calls parsed from a finished reply — one call, or, where several are allowed (OpenAI's <c>parallel_tool_calls</c>),
/// one or more, one a line. Mistral-7B-v0.1 and Eurus-7B-KTO were not trained on any tool format: the format is ours,
/// and the grammar guarantees the shape of a call, not that the model chooses well.
/// </summary>
public sealed class EurusToolCalling
{
    private readonly ToolPlan _plan;

    /// <summary>
    /// The most calls one reply may hold where several are allowed: the grammar ends the reply after this many (a model
    /// that was not trained on the format may otherwise go on writing calls until its token budget cuts the reply short,
    /// and a reply cut short is no calls at all).
    /// </summary>
    public const int MaxCallsPerReply = 8;

    private EurusToolCalling(ToolPlan plan, string? gbnf)
    {
        _plan = plan;
        ReplyGbnf = gbnf;
    }

    /// <summary>
    /// The format for <paramref name="tools"/> under <paramref name="mode"/> (null: auto), or null when there are no tools.
    /// Throws <see cref="NotSupportedException"/> for a tool that is not a function declaration, <see cref="ArgumentException"/>
    /// for two tools of one name or a required function that is not among them, <see cref="JsonSchemaGrammarException"/>
    /// naming the tool whose schema the grammar converter does not support.
    /// </summary>
    public static EurusToolCalling? Create(IList<AITool>? tools, ChatToolMode? mode) => Create(tools, mode, allowMultipleCalls: false);

    /// <summary>
    /// The format for <paramref name="tools"/> under <paramref name="mode"/> (null: auto), a reply holding one call or,
    /// with <paramref name="allowMultipleCalls"/>, 1 to <see cref="MaxCallsPerReply"/> (one a line; the preamble says so,
    /// as <see cref="ChatOptions.AllowMultipleToolCalls"/> true does for <see cref="EurusChatClient"/>), or null when
    /// there are no tools. Throws as <see cref="Create(IList{AITool}, ChatToolMode)"/> does.
    /// </summary>
    public static EurusToolCalling? Create(IList<AITool>? tools, ChatToolMode? mode, bool allowMultipleCalls)
    {
        if (ToolPlan.For(new ChatOptions { Tools = tools, ToolMode = mode, AllowMultipleToolCalls = allowMultipleCalls }) is not { } plan) return null;
        return new EurusToolCalling(plan, plan.Callable.Count > 0 ? plan.Gbnf(answerSchema: null) : null);
    }

    /// <summary>Whether a reply may hold several calls (one a line), as <see cref="Create(IList{AITool}, ChatToolMode, bool)"/> was asked.</summary>
    public bool AllowsMultipleCalls => _plan.Several;

    /// <summary>
    /// The GBNF the reply must follow (<see cref="Grammar.Parse"/> it): a call of one of the callable tools, arguments
    /// valid against its schema (with <see cref="AllowsMultipleCalls"/>: 1 to <see cref="MaxCallsPerReply"/> such calls,
    /// one a line), or — unless a call is required — plain text that does not start with <c>{</c>. Null when no tool may
    /// be called (<see cref="ChatToolMode.None"/>): the tools are described, the reply is free.
    /// </summary>
    public string? ReplyGbnf { get; }

    /// <summary>
    /// The prompt tokens of <paramref name="messages"/> with the tool preamble in front of the first user message, as
    /// <see cref="EurusChatClient.EncodePrompt"/> renders them otherwise (calls and results included). Throws
    /// <see cref="ArgumentException"/> as that method does.
    /// </summary>
    public IReadOnlyList<int> EncodePrompt(Tokenizer tokenizer, IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return MistralChatPrompt.Encode(tokenizer, messages, _plan.Preamble);
    }

    /// <summary>
    /// The call a whole reply makes, or null: the reply must be exactly one call, <c>{"name": "NAME", "arguments": {…}}</c>
    /// naming a callable tool (a reply cut short is not a call; a reply of several calls is null here: see
    /// <see cref="ParseCalls"/>). The arguments are <see cref="System.Text.Json.JsonElement"/>s; the call id is
    /// generated (<c>call_…</c>).
    /// </summary>
    public FunctionCallContent? ParseCall(string reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return ReplyGbnf is null ? null : ToolCallFormat.TryParseCall(reply, _plan.Callable);
    }

    /// <summary>
    /// The calls a whole reply makes, in order, or an empty list when it is not calls: one call as
    /// <see cref="ParseCall"/> takes it or, with <see cref="AllowsMultipleCalls"/>, up to <see cref="MaxCallsPerReply"/>
    /// separated by one <c>\n</c> (text that stops inside a call, or after a separator, is not calls). Each call has an
    /// id of its own (<c>call_…</c>).
    /// </summary>
    public IReadOnlyList<FunctionCallContent> ParseCalls(string reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return ReplyGbnf is null ? [] : ToolCallFormat.TryParseCalls(reply, _plan.Callable, _plan.Several) ?? [];
    }
}
