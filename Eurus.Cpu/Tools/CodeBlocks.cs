using System.Text.RegularExpressions;

namespace Eurus.Cpu.Tools;

/// <summary>Finds the code a model wants run: closed <c>```python … ```</c> blocks and <c>&lt;execute&gt; … &lt;/execute&gt;</c> blocks.</summary>
public static partial class CodeBlocks
{
    /// <summary>The code of every closed block in <paramref name="text"/>, in order of appearance. Unclosed blocks (a reply cut off) are ignored.</summary>
    public static IReadOnlyList<string> Extract(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var found = new List<(int At, string Code)>();
        foreach (Match m in PythonFence().Matches(text)) found.Add((m.Index, m.Groups[1].Value));
        foreach (Match m in ExecuteTag().Matches(text))
        {
            // An <execute> block may itself wrap a ```python fence; count the code once.
            if (found.Any(f => f.At > m.Index && f.At < m.Index + m.Length)) continue;
            found.Add((m.Index, m.Groups[1].Value));
        }
        return found.OrderBy(f => f.At).Select(f => f.Code.Trim('\n', '\r')).Where(c => c.Trim().Length > 0).ToList();
    }

    /// <summary>The content of the last <c>&lt;solution&gt; … &lt;/solution&gt;</c> (MINT's final answer), or null.</summary>
    public static string? ExtractSolution(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ms = SolutionTag().Matches(text);
        return ms.Count == 0 ? null : ms[^1].Groups[1].Value.Trim();
    }

    /// <summary>
    /// The paper's single-pass PoT rule: when the last line of <paramref name="code"/> has no <c>print(</c>, it is wrapped
    /// in <c>print(…)</c> — applied only when that line is a bare expression (not an assignment or statement), so valid
    /// code stays valid. (The interpreter also echoes a final expression, notebook-style.)
    /// </summary>
    public static string PrintLastLine(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        var lines = code.TrimEnd().Split('\n');
        string last = lines[^1];
        if (last.Contains("print(", StringComparison.Ordinal) || last.Length == 0 || char.IsWhiteSpace(last[0]) || !BareExpression().IsMatch(last))
            return code;
        lines[^1] = $"print({last.TrimEnd()})";
        return string.Join('\n', lines);
    }

    [GeneratedRegex(@"```(?:python|py|Python)[ \t]*\r?\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex PythonFence();
    [GeneratedRegex(@"<execute>(.*?)</execute>", RegexOptions.Singleline)]
    private static partial Regex ExecuteTag();
    [GeneratedRegex(@"<solution>(.*?)</solution>", RegexOptions.Singleline)]
    private static partial Regex SolutionTag();
    // Not a statement keyword, no top-level '=' that is not part of ==, <=, >=, !=.
    [GeneratedRegex(@"^(?!(?:import|from|def|class|return|if|elif|else|for|while|try|except|finally|with|raise|assert|del|pass|break|continue|global|nonlocal|lambda)\b)(?:[^=]|==|<=|>=|!=)*$")]
    private static partial Regex BareExpression();
}
