namespace Eurus.Cpu.Grammars;

/// <summary>
/// A grammar (GBNF text or JSON Schema) that cannot be used: a syntax error, an undefined rule, left recursion, a
/// grammar that can never complete, or an unsupported schema keyword. <see cref="Line"/> and <see cref="Column"/>
/// (1-based) locate the problem in GBNF text; both are 0 where there is no text position (a schema, or a vocabulary
/// that cannot continue the grammar during generation).
/// </summary>
public class GrammarException : Exception
{
    /// <summary>Creates the exception; the message is prefixed with the location when <paramref name="line"/> &gt; 0.</summary>
    public GrammarException(string message, int line = 0, int column = 0)
        : base(line > 0 ? $"line {line}, column {column}: {message}" : message)
    {
        Line = line;
        Column = column;
    }

    /// <summary>1-based line of the problem in the grammar text; 0 when not about a text position.</summary>
    public int Line { get; }

    /// <summary>1-based column (in UTF-16 chars) of the problem; 0 when not about a text position.</summary>
    public int Column { get; }
}

/// <summary>
/// A JSON Schema that cannot be turned into a grammar: not valid JSON, a keyword this converter does not support, or
/// a value of the wrong kind. <see cref="SchemaPath"/> is the JSON pointer of the offending schema and
/// <see cref="Keyword"/> the keyword concerned (null when the problem is not one keyword).
/// </summary>
public sealed class JsonSchemaGrammarException(string message, string schemaPath, string? keyword)
    : GrammarException($"JSON Schema at '{(schemaPath.Length == 0 ? "#" : "#" + schemaPath)}': {message}")
{
    /// <summary>JSON pointer of the schema concerned ("" for the root).</summary>
    public string SchemaPath { get; } = schemaPath;

    /// <summary>The keyword concerned, or null.</summary>
    public string? Keyword { get; } = keyword;

    /// <summary>The message without its location prefix.</summary>
    internal string Detail { get; } = message;
}
