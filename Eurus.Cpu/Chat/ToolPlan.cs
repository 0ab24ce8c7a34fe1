using System.Text;
using Eurus.Cpu.Grammars;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Chat;

/// <summary>
/// What a request's <see cref="ChatOptions.Tools"/> and <see cref="ChatOptions.ToolMode"/> mean for one generation:
/// the functions offered (described in the prompt), those the reply may call, whether it must call one, and whether
/// it may make several calls (<see cref="ChatOptions.AllowMultipleToolCalls"/> true; false or null: one call).
/// </summary>
internal sealed record ToolPlan(IReadOnlyList<AIFunctionDeclaration> Offered, IReadOnlyList<AIFunctionDeclaration> Callable, bool MustCall, bool Several)
{
    /// <summary>The tool preamble of the prompt (<see cref="ToolCallFormat.Preamble"/>): it depends on the tools and on
    /// <see cref="Several"/>, never on the mode.</summary>
    public string Preamble { get; } = ToolCallFormat.Preamble(Offered, Several);

    /// <summary>
    /// The plan for <paramref name="options"/>, or null when it offers no tools. Throws <see cref="NotSupportedException"/>
    /// for a tool that is not a function declaration (hosted tools), <see cref="ArgumentException"/> for two tools of one
    /// name or a required function that is not among the tools.
    /// </summary>
    public static ToolPlan? For(ChatOptions? options)
    {
        if (options?.Tools is not { Count: > 0 } tools) return null;
        var functions = new List<AIFunctionDeclaration>(tools.Count);
        foreach (var tool in tools)
        {
            if (tool is not AIFunctionDeclaration f)
                throw new NotSupportedException($"Eurus.Cpu's chat client supports function tools only, not '{tool?.GetType().Name ?? "null"}'.");
            if (string.IsNullOrEmpty(f.Name)) throw new ArgumentException("A tool has no name.", nameof(options));
            if (functions.Any(g => g.Name == f.Name)) throw new ArgumentException($"Two tools are named '{f.Name}'.", nameof(options));
            functions.Add(f);
        }
        // Null is "the provider's default": one call, the format's plain form (the models were not trained on any
        // tool format, and a reply that may go on to another call gives them one more way to wander).
        bool several = options.AllowMultipleToolCalls == true;
        switch (options.ToolMode)
        {
            case NoneChatToolMode:
                return new ToolPlan(functions, [], MustCall: false, several);
            case RequiredChatToolMode { RequiredFunctionName: { } name }:
                var one = functions.FirstOrDefault(f => f.Name == name)
                    ?? throw new ArgumentException($"The required function '{name}' is not among the tools.", nameof(options));
                return new ToolPlan(functions, [one], MustCall: true, several);
            case RequiredChatToolMode:
                return new ToolPlan(functions, functions, MustCall: true, several);
            default: // null or auto
                return new ToolPlan(functions, functions, MustCall: false, several);
        }
    }

    /// <summary>
    /// The GBNF of the reply: a call — one alternative per callable function, <c>{"name": "NAME", "arguments": ARGS}</c>
    /// with ARGS valid against that function's schema — or, with <see cref="Several"/>, 1 to
    /// <see cref="EurusToolCalling.MaxCallsPerReply"/> calls separated by <c>\n</c>; unless a call is required, also the
    /// answer — valid JSON of <paramref name="answerSchema"/> when the response format asks for JSON, else plain text
    /// that does not start with <c>{</c> (so that a reply starting with <c>{</c> is a call). Throws
    /// <see cref="JsonSchemaGrammarException"/> naming the function whose schema the converter does not support.
    /// </summary>
    public string Gbnf(string? answerSchema)
    {
        var schemas = new List<(string, string, string?)>();
        var root = new List<string> { "calls" };
        var calls = new StringBuilder(Several ? $"calls ::= call ( \"\\n\" call ){{0,{EurusToolCalling.MaxCallsPerReply - 1}}}\n" : "calls ::= call\n");
        var call = new List<string>();
        for (int i = 0; i < Callable.Count; i++)
        {
            var f = Callable[i];
            schemas.Add(($"tool-{i}", ToolCallFormat.SchemaText(f), $"the arguments of tool '{f.Name}'"));
            calls.Append($"call-{i} ::= {JsonSchemaConverter.GbnfLiteral(ToolCallFormat.CallPrefix(f.Name))} tool-{i} \"}}\"\n");
            call.Add($"call-{i}");
        }
        calls.Append($"call ::= {string.Join(" | ", call)}\n");
        if (!MustCall)
        {
            if (answerSchema is not null) schemas.Add(("answer", answerSchema, "the response format"));
            else calls.Append("answer ::= ( [^{] .* )?\n");
            root.Add("answer");
        }
        return JsonSchemaConverter.ConvertMany(schemas, $"root ::= {string.Join(" | ", root)}\n{calls}");
    }
}
