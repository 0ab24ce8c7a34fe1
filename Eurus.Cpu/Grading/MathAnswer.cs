using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Eurus.Cpu.Grading;

/// <summary>
/// Final-answer extraction and comparison for math problems, following the Eurus paper's grader: the text after the
/// last <c>answer:</c>/<c>answer is</c>, else the last brace-balanced <c>\boxed{…}</c>/<c>\fbox{…}</c>; answers are
/// compared after normalisation (LaTeX spacing and <c>\left</c>/<c>\right</c>, <c>$</c>, units and <c>\text{}</c>,
/// <c>\dfrac</c>, <c>a/b</c> = <c>\frac{a}{b}</c>, trailing <c>.0</c>, thousands separators) and numerically within a
/// relative 1e-4 (a percentage also matches its fraction).
/// </summary>
public static partial class MathAnswer
{
    /// <summary>Relative tolerance of numeric comparison.</summary>
    public const double RelativeTolerance = 1e-4;

    /// <summary>
    /// The final answer of <paramref name="completion"/>, or null when it has none. After the last
    /// <c>answer:</c>/<c>answer is</c> (any case) the boxed content is taken if there is one, else the rest of that line.
    /// </summary>
    public static string? Extract(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        int at = -1, len = 0;
        foreach (var marker in (ReadOnlySpan<string>)["answer:", "answer is"])
        {
            int i = completion.LastIndexOf(marker, StringComparison.OrdinalIgnoreCase);
            if (i > at) { at = i; len = marker.Length; }
        }
        if (at >= 0)
        {
            string rest = completion[(at + len)..];
            if (ExtractBoxed(rest) is { } boxed) return boxed;
            string line = rest.TrimStart(' ', '\t', ':', '\r', '\n');
            int nl = line.IndexOf('\n');
            if (nl >= 0) line = line[..nl];
            line = line.Trim().TrimEnd('.').Trim().Trim('$').Trim();
            if (line.Length > 0) return line;
        }
        return ExtractBoxed(completion);
    }

    /// <summary>The content of the last <c>\boxed{…}</c> or <c>\fbox{…}</c> (braces balanced; <c>\boxed 5</c> too), or null.</summary>
    public static string? ExtractBoxed(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int a = text.LastIndexOf("\\boxed", StringComparison.Ordinal), b = text.LastIndexOf("\\fbox", StringComparison.Ordinal);
        int start = Math.Max(a, b);
        if (start < 0) return null;
        int i = start + (start == a ? "\\boxed".Length : "\\fbox".Length);
        if (i < text.Length && text[i] == '{')
        {
            int depth = 0;
            for (int j = i; j < text.Length; j++)
            {
                if (text[j] == '\\' && j + 1 < text.Length) { j++; continue; } // \{ and \} do not count
                if (text[j] == '{') depth++;
                else if (text[j] == '}' && --depth == 0) return text[(i + 1)..j].Trim();
            }
            return null; // unbalanced: the model was cut off
        }
        if (i < text.Length && text[i] == ' ')
        {
            int end = i + 1;
            while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] != '$') end++;
            string s = text[(i + 1)..end];
            return s.Length > 0 ? s : null;
        }
        return null;
    }

    /// <summary>Whether <paramref name="predicted"/> and <paramref name="reference"/> are the same answer.</summary>
    public static bool AreEquivalent(string? predicted, string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (predicted is null) return false;
        string p = Normalize(predicted), r = Normalize(reference);
        if (p.Length == 0) return false;
        if (p == r) return true;
        if (TryNumber(p, out double x) && TryNumber(r, out double y))
        {
            if (Close(x, y)) return true;
            bool percent = HasPercent(predicted) || HasPercent(reference);
            if (percent && (Close(x, y / 100) || Close(x, y * 100))) return true;
        }
        // Tuples / lists compared element by element: "(1, 2)" vs "(1,2.0)".
        if (p.Length > 2 && r.Length > 2 && p[0] == r[0] && p[^1] == r[^1] && p[0] is '(' or '[' && p[^1] is ')' or ']')
        {
            var ps = p[1..^1].Split(','); var rs = r[1..^1].Split(',');
            return ps.Length > 1 && ps.Length == rs.Length && ps.Zip(rs).All(t => AreEquivalent(t.First, t.Second));
        }
        return false;
    }

    /// <summary>Grades a whole completion: <see cref="Extract"/> then <see cref="AreEquivalent"/>.</summary>
    public static bool IsCorrect(string completion, string reference) => AreEquivalent(Extract(completion), reference);

    /// <summary>The canonical form used for comparison (see the class summary).</summary>
    public static string Normalize(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        string s = answer.Trim();
        s = s.Replace("\\$", "").Replace("$", "");
        foreach (var x in (ReadOnlySpan<string>)["\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\displaystyle"]) s = s.Replace(x, "");
        s = s.Replace("\\dfrac", "\\frac").Replace("\\tfrac", "\\frac");
        s = s.Replace("^{\\circ}", "").Replace("^\\circ", "").Replace("°", "");
        s = s.Replace("\\%", "").Replace("%", "");
        s = TextCommand().Replace(s, "$1");                      // \text{cm} -> cm
        s = s.Replace("\\ ", " ").Trim();
        s = UnitSuffix().Replace(s, "$1");                      // "12 cm", "5 dollars" -> number
        s = Assignment().Replace(s, "");                        // "x = 5" -> "5"
        s = Whitespace().Replace(s, "");
        s = s.TrimEnd('.');
        if (Thousands().IsMatch(s)) s = s.Replace(",", "");
        s = FixFracs(s);
        s = SqrtShort().Replace(s, "\\sqrt{$1}");
        if (SimpleSlash().Match(s) is { Success: true } m) s = $"\\frac{{{m.Groups[1].Value}}}{{{m.Groups[2].Value}}}";
        s = TrailingZeros().Replace(s, "$1");
        if (s.StartsWith('.')) s = "0" + s;
        return s;
    }

    private static bool HasPercent(string s) => s.Contains('%');

    private static bool Close(double a, double b) =>
        a == b || Math.Abs(a - b) <= RelativeTolerance * Math.Max(Math.Abs(a), Math.Abs(b));

    /// <summary>A number, <c>\frac{a}{b}</c> or <c>-\frac{a}{b}</c> of numbers (already normalised).</summary>
    internal static bool TryNumber(string s, out double value)
    {
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value)) return true;
        var m = FracNumber().Match(s);
        if (m.Success
            && double.TryParse(m.Groups[2].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double n)
            && double.TryParse(m.Groups[3].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d != 0)
        {
            value = (m.Groups[1].Value == "-" ? -1 : 1) * n / d;
            return true;
        }
        value = 0;
        return false;
    }

    /// <summary><c>\frac12</c> → <c>\frac{1}{2}</c>, <c>\frac1{x}</c> → <c>\frac{1}{x}</c>.</summary>
    private static string FixFracs(string s)
    {
        var parts = s.Split("\\frac");
        if (parts.Length == 1) return s;
        var sb = new StringBuilder(parts[0]);
        for (int k = 1; k < parts.Length; k++)
        {
            string p = parts[k];
            sb.Append("\\frac");
            if (p.Length > 0 && p[0] == '{') { sb.Append(p); continue; }
            if (p.Length < 2) { sb.Append(p); continue; }
            sb.Append('{').Append(p[0]).Append('}');
            string rest = p[1..];
            if (rest[0] == '{') sb.Append(rest);
            else sb.Append('{').Append(rest[0]).Append('}').Append(rest[1..]);
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"\\(?:text|textbf|mbox|mathrm)\{([^{}]*)\}")]
    private static partial Regex TextCommand();
    [GeneratedRegex(@"^(-?[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s+[A-Za-z][A-Za-z ]*|[A-Za-z]{2,}[A-Za-z ]*)$")]
    private static partial Regex UnitSuffix();
    [GeneratedRegex(@"^\s*(?:[A-Za-z]|\\[A-Za-z]+)\s*=\s*")]
    private static partial Regex Assignment();
    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
    [GeneratedRegex(@"^-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$")]
    private static partial Regex Thousands();
    [GeneratedRegex(@"\\sqrt([0-9A-Za-z])")]
    private static partial Regex SqrtShort();
    [GeneratedRegex(@"^(-?[0-9]+)/([0-9]+)$")]
    private static partial Regex SimpleSlash();
    [GeneratedRegex(@"^(-?[0-9]+)\.0+$")]
    private static partial Regex TrailingZeros();
    [GeneratedRegex(@"^(-?)\\frac\{(-?[0-9.]+)\}\{(-?[0-9.]+)\}$")]
    private static partial Regex FracNumber();
}
