using System.Text;

namespace Eurus.Cpu.Grammars;

/// <summary>
/// A parsed, checked grammar in llama.cpp's GBNF, for grammar-constrained sampling
/// (<see cref="Sampling.SamplingSettings.Grammar"/>): every generated text is a prefix of a sentence of the grammar, and
/// the end of sequence is allowed only where the text is a whole sentence. Build one with <see cref="Parse"/>,
/// <see cref="FromJsonSchema(string)"/> or <see cref="JsonObject"/>. Immutable for its users and thread-safe: one
/// instance can serve many generations at once, which share its caches (so reusing an instance is faster).
/// </summary>
/// <example>
/// <code>
/// var grammar = Grammar.Parse("""
///     root   ::= answer "."
///     answer ::= "yes" | "no"
///     """);
/// var settings = new SamplingSettings { Grammar = grammar };
/// </code>
/// </example>
public sealed class Grammar
{
    internal const byte End = 0, RuleRef = 1, Chars = 2;

    // The rules flattened: each alternative is a run of elements ending with End. A position is an index here.
    internal readonly byte[] Kind;
    internal readonly int[] Arg;         // RuleRef: the rule; Chars: the class
    internal readonly int[][] RuleStarts; // rule → the positions where its alternatives start
    internal readonly CharClass[] Classes;
    internal readonly int Root;
    private GrammarAutomaton? _automaton;

    private Grammar(string text, GrammarRules rules, int root)
    {
        Text = text;
        Root = root;
        Classes = [.. rules.Classes];
        var kind = new List<byte>();
        var arg = new List<int>();
        RuleStarts = new int[rules.Count][];
        for (int r = 0; r < rules.Count; r++)
        {
            var alts = rules.Alternatives[r]!;
            RuleStarts[r] = new int[alts.Count];
            for (int a = 0; a < alts.Count; a++)
            {
                RuleStarts[r][a] = kind.Count;
                foreach (var e in alts[a])
                {
                    kind.Add((byte)(e.IsRule ? RuleRef : Chars));
                    arg.Add(e.Value);
                }
                kind.Add(End);
                arg.Add(0);
            }
        }
        Kind = [.. kind];
        Arg = [.. arg];
        RuleNames = [.. rules.Names];
    }

    /// <summary>The GBNF text of the grammar (for a grammar made from a JSON Schema, the generated GBNF).</summary>
    public string Text { get; }

    internal string[] RuleNames { get; }

    /// <summary>
    /// Parses GBNF text (llama.cpp's grammar format). The start rule is <c>root</c>. Throws
    /// <see cref="GrammarException"/> with the line and column for a syntax error, an undefined rule, left recursion,
    /// or a root that can never complete.
    /// </summary>
    public static Grammar Parse(string gbnf)
    {
        ArgumentNullException.ThrowIfNull(gbnf);
        var rules = GbnfParser.Parse(gbnf);
        if (!rules.TryGetId("root", out int root) || rules.Alternatives[root] is null)
            throw new GrammarException("the grammar has no 'root' rule", 1, 1);
        GrammarAnalysis.Check(rules, root);
        return new Grammar(gbnf, rules, root);
    }

    /// <summary>
    /// The grammar of the JSON values that <paramref name="jsonSchema"/> (a JSON Schema document) accepts; see
    /// <see cref="JsonSchemaToGbnf"/> for what is supported. Throws <see cref="JsonSchemaGrammarException"/> naming an
    /// unsupported keyword or a malformed schema.
    /// </summary>
    public static Grammar FromJsonSchema(string jsonSchema) => Parse(JsonSchemaToGbnf(jsonSchema));

    /// <summary>
    /// Translates a JSON Schema into GBNF: <c>type</c> (object, array, string, number, integer, boolean, null, or a list
    /// of them), <c>properties</c>, <c>required</c>, <c>additionalProperties</c> (false, true or a schema),
    /// <c>items</c>, <c>prefixItems</c>, <c>minItems</c>/<c>maxItems</c>, <c>minLength</c>/<c>maxLength</c>, <c>enum</c>,
    /// <c>const</c>, <c>anyOf</c>/<c>oneOf</c>, <c>$ref</c> to <c>#/definitions/…</c> or <c>#/$defs/…</c>, and the
    /// string formats date, time, date-time and uuid. Annotations (title, description, examples, default, $schema, $id,
    /// $comment) are ignored; other keywords throw <see cref="JsonSchemaGrammarException"/>. Properties are generated in
    /// the schema's order; whitespace between tokens is limited (so a model cannot loop on spaces).
    /// </summary>
    public static string JsonSchemaToGbnf(string jsonSchema) => JsonSchemaConverter.Convert(jsonSchema);

    /// <summary>Any JSON object (OpenAI's <c>response_format: {"type": "json_object"}</c>). One shared instance.</summary>
    public static Grammar JsonObject => s_jsonObject.Value;

    private static readonly Lazy<Grammar> s_jsonObject = new(() => Parse(JsonSchemaConverter.Convert("""{"type":"object"}""")));

    /// <summary>Whether <paramref name="text"/> is a whole sentence of the grammar.</summary>
    public bool Matches(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var a = Automaton;
        int state = a.Start;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            state = a.Step(state, b);
            if (state < 0) return false;
        }
        return a.IsAccepting(state);
    }

    /// <summary>The grammar's byte automaton, built lazily and shared by every generation that uses this grammar.</summary>
    internal GrammarAutomaton Automaton
    {
        get
        {
            var a = Volatile.Read(ref _automaton);
            if (a is not null) return a;
            Interlocked.CompareExchange(ref _automaton, new GrammarAutomaton(this), null);
            return _automaton!;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}
