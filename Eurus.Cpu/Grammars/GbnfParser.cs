using System.Globalization;

namespace Eurus.Cpu.Grammars;

/// <summary>
/// Parses llama.cpp's GBNF: <c>name ::= alternatives</c> rules, one per line (a rule continues on the next line after
/// <c>::=</c>, after <c>|</c> and inside parentheses); sequences, <c>|</c>, <c>( )</c>, <c>* + ?</c>, <c>{m}</c>,
/// <c>{m,}</c>, <c>{m,n}</c>; <c>"literals"</c>, <c>[classes]</c>, <c>[^negated]</c>, <c>.</c> (any character); the
/// escapes <c>\n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH</c>; <c># comments</c>. Errors carry the line and column.
/// </summary>
internal sealed class GbnfParser
{
    /// <summary>The most copies one <c>{m,n}</c> may produce (it is expanded into rules).</summary>
    public const int MaxRepetition = 10_000;
    /// <summary>The most nested parentheses (the parser recurses on them).</summary>
    public const int MaxNesting = 256;
    /// <summary>The most grammar elements a grammar may expand to (repetitions included).</summary>
    public const int MaxElements = 2_000_000;

    private int _depth, _elements;

    private readonly string _s;
    private int _p;
    private readonly GrammarRules _rules = new();

    private readonly List<int> _lineStarts = [0];

    private GbnfParser(string text)
    {
        _s = text;
        for (int i = 0; i < text.Length; i++)
            if (text[i] == '\n') _lineStarts.Add(i + 1);
    }

    public static GrammarRules Parse(string text)
    {
        var parser = new GbnfParser(text);
        parser.ParseAll();
        return parser._rules;
    }

    private void ParseAll()
    {
        SkipSpace(newlines: true);
        while (_p < _s.Length)
        {
            ParseRule();
            SkipSpace(newlines: true);
        }
    }

    private void ParseRule()
    {
        int start = _p;
        string name = ParseName("a rule name");
        var (line, col) = Where(start);
        SkipSpace(newlines: false);
        if (!Take("::=")) throw Error("expected '::=' after the rule name '" + name + "'");
        SkipSpace(newlines: true);
        int id = _rules.Id(name, line, col);
        if (_rules.Alternatives[id] is not null) throw Error($"rule '{name}' is defined twice", start);
        _rules.Locations[id] = (line, col);
        _rules.Alternatives[id] = []; // defined (so that a self-reference is not "undefined")
        _rules.Alternatives[id] = ParseAlternatives(name, nested: false);
        SkipSpace(newlines: false);
        if (_p < _s.Length && _s[_p] is not ('\n' or '\r'))
            throw Error($"unexpected '{_s[_p]}' (expected a newline or the end of the rule)");
    }

    private List<GrammarElement[]> ParseAlternatives(string ruleName, bool nested)
    {
        var alts = new List<GrammarElement[]> { ParseSequence(ruleName, nested) };
        while (_p < _s.Length && _s[_p] == '|')
        {
            _p++;
            SkipSpace(newlines: true);
            alts.Add(ParseSequence(ruleName, nested));
        }
        return alts;
    }

    private GrammarElement[] ParseSequence(string ruleName, bool nested)
    {
        var seq = new List<GrammarElement>();
        int lastStart = -1; // index in seq of the last item's first element, for a postfix operator
        while (_p < _s.Length)
        {
            char c = _s[_p];
            int itemPos = _p;
            if (c == '"')
            {
                lastStart = seq.Count;
                _p++;
                var chars = new List<GrammarElement>();
                while (true)
                {
                    if (_p >= _s.Length || _s[_p] is '\n' or '\r') throw Error("unterminated string literal", itemPos);
                    if (_s[_p] == '"') { _p++; break; }
                    int cp = ParseChar();
                    chars.Add(GrammarElement.Chars(_rules.AddClass(new CharClass([cp, cp], false))));
                }
                // A literal of several characters is one item for a postfix operator: make it a rule when one follows.
                if (chars.Count != 1 && PostfixFollows())
                {
                    var (l, k) = Where(itemPos);
                    seq.Add(GrammarElement.Rule(_rules.Generated(ruleName, [[.. chars]], l, k)));
                }
                else seq.AddRange(chars);
            }
            else if (c == '[')
            {
                lastStart = seq.Count;
                _p++;
                bool negated = _p < _s.Length && _s[_p] == '^';
                if (negated) _p++;
                var ranges = new List<(int, int)>();
                while (true)
                {
                    if (_p >= _s.Length || _s[_p] is '\n' or '\r') throw Error("unterminated character class", itemPos);
                    if (_s[_p] == ']') { _p++; break; }
                    int lo = ParseChar(), hi = lo;
                    if (_p + 1 < _s.Length && _s[_p] == '-' && _s[_p + 1] != ']')
                    {
                        _p++;
                        int at = _p;
                        hi = ParseChar();
                        if (hi < lo) throw Error($"character range is backwards (U+{lo:X4}-U+{hi:X4})", at);
                    }
                    ranges.Add((lo, hi));
                }
                seq.Add(GrammarElement.Chars(_rules.AddClass(CharClass.Create(ranges, negated))));
            }
            else if (c == '.')
            {
                lastStart = seq.Count;
                _p++;
                seq.Add(GrammarElement.Chars(_rules.AddClass(new CharClass([], negated: true))));
            }
            else if (IsNameChar(c))
            {
                lastStart = seq.Count;
                string name = ParseName("a rule name");
                var (l, k) = Where(itemPos);
                seq.Add(GrammarElement.Rule(_rules.Id(name, l, k)));
            }
            else if (c == '(')
            {
                lastStart = seq.Count;
                _p++;
                if (++_depth > MaxNesting) throw Error($"parentheses nested deeper than {MaxNesting}", itemPos);
                SkipSpace(newlines: true);
                var alts = ParseAlternatives(ruleName, nested: true);
                _depth--;
                if (_p >= _s.Length || _s[_p] != ')') throw Error("expected ')'", _p);
                _p++;
                var (l, k) = Where(itemPos);
                if (alts.Count == 1 && !PostfixFollows()) seq.AddRange(alts[0]);
                else seq.Add(GrammarElement.Rule(_rules.Generated(ruleName, alts, l, k)));
            }
            else if (c is '*' or '+' or '?' or '{')
            {
                if (lastStart < 0) throw Error($"'{c}' must follow an item");
                if (seq.Count - lastStart != 1) throw new InvalidOperationException("postfix over several elements"); // made one above
                var item = seq[lastStart];
                seq.RemoveAt(lastStart);
                var (l, k) = Where(itemPos);
                int min, max; // max -1: unbounded
                _p++;
                if (c == '*') (min, max) = (0, -1);
                else if (c == '+') (min, max) = (1, -1);
                else if (c == '?') (min, max) = (0, 1);
                else (min, max) = ParseBraces(itemPos);
                seq.AddRange(Repeat(ruleName, item, min, max, l, k));
                // A second postfix applies to the whole repetition: treat the result as one item.
                if (PostfixFollows() && seq.Count - lastStart != 1)
                {
                    var whole = seq.GetRange(lastStart, seq.Count - lastStart).ToArray();
                    seq.RemoveRange(lastStart, seq.Count - lastStart);
                    seq.Add(GrammarElement.Rule(_rules.Generated(ruleName, [whole], l, k)));
                }
            }
            else break; // '|', ')', a newline, or something the caller reports
            SkipSpace(newlines: nested);
        }
        return [.. seq];
    }

    private bool PostfixFollows()
    {
        int q = _p;
        while (q < _s.Length && _s[q] is ' ' or '\t') q++;
        return q < _s.Length && _s[q] is '*' or '+' or '?' or '{';
    }

    private (int Min, int Max) ParseBraces(int itemPos)
    {
        SkipSpace(newlines: false);
        int min = ParseInt();
        SkipSpace(newlines: false);
        int max = min;
        if (_p < _s.Length && _s[_p] == ',')
        {
            _p++;
            SkipSpace(newlines: false);
            max = _p < _s.Length && char.IsAsciiDigit(_s[_p]) ? ParseInt() : -1;
            SkipSpace(newlines: false);
        }
        if (_p >= _s.Length || _s[_p] != '}') throw Error("expected '}' to close the repetition");
        _p++;
        if (max >= 0 && max < min) throw Error($"repetition {{{min},{max}}} has its maximum below its minimum", itemPos);
        if (Math.Max(min, max) > MaxRepetition) throw Error($"repetition count above {MaxRepetition}", itemPos);
        return (min, max);
    }

    private int ParseInt()
    {
        int start = _p;
        while (_p < _s.Length && char.IsAsciiDigit(_s[_p])) _p++;
        if (_p == start) throw Error("expected a number");
        if (!int.TryParse(_s.AsSpan(start, _p - start), NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v > MaxRepetition)
            throw Error($"repetition count above {MaxRepetition}", start);
        return v;
    }

    /// <summary><paramref name="item"/> repeated min..max times (max -1: unbounded), as elements and generated rules.</summary>
    private List<GrammarElement> Repeat(string ruleName, GrammarElement item, int min, int max, int line, int col)
    {
        _elements += min + 2 * Math.Max(0, max - min) + 2;
        if (_elements > MaxElements) throw new GrammarException($"the grammar expands to more than {MaxElements} elements (repetition counts too large)", line, col);
        var result = new List<GrammarElement>();
        for (int i = 0; i < min; i++) result.Add(item);
        if (max < 0)
        {
            // star ::= item star | ε  (the recursion is a tail call: the matcher's stacks do not grow)
            int star = _rules.Generated(ruleName, [], line, col);
            _rules.Alternatives[star]!.Add([item, GrammarElement.Rule(star)]);
            _rules.Alternatives[star]!.Add([]);
            result.Add(GrammarElement.Rule(star));
        }
        else if (max > min)
        {
            // opt1 ::= item | ε ; optK ::= item opt(K-1) | ε
            int prev = _rules.Generated(ruleName, [[item], []], line, col);
            for (int k = 2; k <= max - min; k++)
                prev = _rules.Generated(ruleName, [[item, GrammarElement.Rule(prev)], []], line, col);
            result.Add(GrammarElement.Rule(prev));
        }
        return result;
    }

    private int ParseChar()
    {
        int at = _p;
        char c = _s[_p];
        if (c != '\\')
        {
            if (char.IsHighSurrogate(c) && _p + 1 < _s.Length && char.IsLowSurrogate(_s[_p + 1]))
            {
                _p += 2;
                return char.ConvertToUtf32(c, _s[_p - 1]);
            }
            _p++;
            return c;
        }
        if (_p + 1 >= _s.Length) throw Error("unfinished escape", at);
        char e = _s[_p + 1];
        _p += 2;
        switch (e)
        {
            case 'n': return '\n';
            case 'r': return '\r';
            case 't': return '\t';
            case '\\' or '"' or '[' or ']' or '-' or '^' or '/' or '\'': return e;
            case 'x': return Hex(2, at);
            case 'u': return Hex(4, at);
            case 'U': return Hex(8, at);
            default: throw Error($"unknown escape '\\{e}'", at);
        }
    }

    private int Hex(int digits, int at)
    {
        if (_p + digits > _s.Length || !int.TryParse(_s.AsSpan(_p, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
            throw Error($"expected {digits} hex digits", at);
        if (v is < 0 or > 0x10FFFF) throw Error("code point above U+10FFFF", at);
        _p += digits;
        return v;
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';

    private string ParseName(string what)
    {
        int start = _p;
        while (_p < _s.Length && IsNameChar(_s[_p])) _p++;
        if (_p == start) throw Error(_p < _s.Length ? $"expected {what}, found '{_s[_p]}'" : $"expected {what}");
        return _s[start.._p];
    }

    private bool Take(string token)
    {
        if (string.CompareOrdinal(_s, _p, token, 0, token.Length) != 0) return false;
        _p += token.Length;
        return true;
    }

    private void SkipSpace(bool newlines)
    {
        while (_p < _s.Length)
        {
            char c = _s[_p];
            if (c is ' ' or '\t') _p++;
            else if (c == '#') { while (_p < _s.Length && _s[_p] is not ('\n' or '\r')) _p++; }
            else if (newlines && c is '\n' or '\r') _p++;
            else break;
        }
    }

    private (int Line, int Column) Where(int pos)
    {
        int i = _lineStarts.BinarySearch(pos);
        int line = i >= 0 ? i : ~i - 1; // the last line start at or before pos
        return (line + 1, pos - _lineStarts[line] + 1);
    }

    private GrammarException Error(string message, int? pos = null)
    {
        var (l, c) = Where(pos ?? _p);
        return new GrammarException(message, l, c);
    }
}
