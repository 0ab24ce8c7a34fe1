using System.Text.RegularExpressions;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// The <c>eurus</c> command line as a llama.cpp user types it: --help for every command, --version, --opt=value,
/// repeated options, exit code 1 with a message on stderr for a bad option. The built CLI runs in a child process.
/// </summary>
public class CommandLineTests
{
    [Theory]
    [InlineData("generate", "-p, --prompt", "-f, --file", "-m, --model", "-n, --n-predict", "-c, --ctx-size", "-t, --threads", "-b, --batch-size", "-s, --seed",
        "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--stop", "--ignore-eos", "--grammar-file", "-j, --json-schema")]
    [InlineData("chat", "-sys, --system-prompt", "--template", "-m, --model", "-n, --n-predict", "--temp", "--stop")]
    [InlineData("tokenize", "-p, --prompt", "-m, --model")]
    [InlineData("perplexity", "-f, --file", "-c, --ctx-size", "-m, --model", "-t, --threads")]
    [InlineData("info", "-m, --model")]
    [InlineData("bench", "-p, --n-prompt", "-n, --n-gen", "-r, --repetitions", "-m, --model")]
    [InlineData("synth", "-o, --output", "--preset", "--type", "--weights", "--seed", "--vocab-from")]
    [InlineData("eval", "--task", "--mode", "--data", "--limit", "--out", "--allow-code-execution", "--samples", "--vote", "--separate-runs")]
    [InlineData("convert", "FOLDER", "-o, --output", "--type", "-t, --threads")]
    [InlineData("pull", "ORG/NAME", "--revision", "--dir", "--endpoint")]
    public void EveryCommandHasHelp(string command, params string[] options)
    {
        foreach (var help in new[] { "--help", "-h" })
        {
            var (code, stdout, stderr) = CliProcess.Run(command, help);
            Assert.True(code == 0, $"eurus {command} {help}: exit {code}: {stderr}");
            Assert.Contains($"eurus {command}", stdout);
            foreach (var o in options) Assert.Contains(o, stdout);
        }
    }

    [Fact]
    public void RootHelpListsTheCommandsAndTheExitCodes()
    {
        var (code, stdout, _) = CliProcess.Run("--help");
        Assert.Equal(0, code);
        foreach (var c in new[] { "generate", "chat", "tokenize", "perplexity", "info", "bench", "synth", "eval", "convert", "pull" })
            Assert.Matches($@"(?m)^\s+{c}\b", stdout);
        Assert.Contains("0 ok, 1 usage or input error", stdout);
        Assert.Contains("130 interrupted by Ctrl-C", stdout);
    }

    [Fact]
    public void VersionPrintsTheVersion()
    {
        var (code, stdout, _) = CliProcess.Run("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout.Trim());
    }

    [Fact]
    public void OptEqualsValueIsTheSameAsOptSpaceValue()
    {
        var spaced = CliProcess.Run("generate", "-p", "And God said", "-n", "10", "--temp", "0", "-t", "1");
        var equals = CliProcess.Run("generate", "--prompt=And God said", "-n=10", "--temp=0", "--threads=1");
        Assert.True(spaced.Code == 0, spaced.Err);
        Assert.True(equals.Code == 0, equals.Err);
        Assert.True(spaced.Out.Trim().Length > 0);
        Assert.Equal(spaced.Out, equals.Out);
        Assert.Matches(@"eval\s*\|\s*10\s*\|", equals.Err); // the timings table: 10 tokens generated
    }

    [Fact]
    public void RepeatedStopOptionsAreAllUsed()
    {
        // Greedy text without stops; then three stops where the one given in the middle occurs first: keeping only the
        // first or only the last option would stop later.
        var baseline = CliProcess.Run("generate", "-p", "And God said", "-n", "48", "--temp", "0", "-t", "1");
        Assert.True(baseline.Code == 0, baseline.Err);
        string text = baseline.Out[..^1]; // the CLI ends the text with one newline
        var firsts = Enumerable.Range(1, text.Length - 6).Where(i => text.IndexOf(text.Substring(i, 6), StringComparison.Ordinal) == i).ToList();
        Assert.True(firsts.Count >= 3, $"not enough distinct pieces in '{text}'");
        int early = firsts[firsts.Count / 3], late1 = firsts[2 * firsts.Count / 3], late2 = firsts[^1];
        Assert.True(early < late1 && late1 < late2);
        var (code, stdout, stderr) = CliProcess.Run("generate", "-p", "And God said", "-n", "48", "--temp", "0", "-t", "1",
            "--stop", text.Substring(late1, 6), "--stop", text.Substring(early, 6), "--stop=" + text.Substring(late2, 6));
        Assert.True(code == 0, stderr);
        Assert.Equal(text[..early] + "\n", stdout);
        Assert.Contains("finish: StopString", stderr);
    }

    [Theory]
    [InlineData("generate", "-p", "x", "--no-such-option")]
    [InlineData("generate", "-p", "x", "--temp", "warm")]
    [InlineData("generate", "-p", "x", "--temp", "NaN")]
    [InlineData("generate", "-p", "x", "--top-p", "2")]
    [InlineData("generate")]
    [InlineData("chat", "--template", "poetry")]
    [InlineData("perplexity")]
    [InlineData("no-such-command")]
    [InlineData("generate", "-p", "x", "-m", "/no/such/model.gguf")]
    [InlineData("synth", "-o", "/no/such/dir/induction.gguf", "--weights", "induction")] // the tiny shape is too small for the circuit
    [InlineData("synth", "-o", "/no/such/dir/x.gguf", "--weights", "trained")]
    public void BadUsageExitsWithOneAndAMessageOnStderr(params string[] args)
    {
        var (code, stdout, stderr) = CliProcess.Run(args);
        Assert.Equal(1, code);
        Assert.StartsWith("eurus: ", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
        Assert.DoesNotContain("   at ", stderr); // no stack trace without --verbose
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("--json-schema", "{\"type\":\"strin\"}", "eurus: --json-schema: JSON Schema at '#': unknown type 'strin'")]
    [InlineData("--json-schema", "{\"type\":\"string\",\"pattern\":\"a\"}", "eurus: --json-schema: JSON Schema at '#': the keyword 'pattern' is not supported")]
    [InlineData("--grammar-file", "/no/such/file.gbnf", "eurus: --grammar-file: cannot read '/no/such/file.gbnf'")]
    public void BadGrammarOptionsFailClearly(string option, string value, string message)
    {
        var (code, stdout, stderr) = CliProcess.Run("generate", "-p", "x", option, value);
        Assert.Equal(1, code);
        Assert.StartsWith(message, stderr.Trim());
        Assert.Equal("", stdout);
    }

    [Fact]
    public void ABadGrammarFileNamesTheLineAndColumn()
    {
        using var dir = TestPaths.Temp();
        File.WriteAllText(dir.File("g.gbnf"), "root ::= answer\nanswer ::= \"yes\" | nope\n");
        var (code, stdout, stderr) = CliProcess.Run("generate", "-p", "x", "--grammar-file", dir.File("g.gbnf"));
        Assert.Equal(1, code);
        Assert.Equal($"eurus: --grammar-file {dir.File("g.gbnf")}: line 2, column 20: rule 'nope' is used but not defined", stderr.Trim());
        Assert.Equal("", stdout);
    }

    [Fact]
    public void GrammarAndSchemaConstrainTheGeneratedText()
    {
        using var dir = TestPaths.Temp();
        File.WriteAllText(dir.File("g.gbnf"), "root ::= \"Verily, \" (\"yea\" | \"nay\") \".\"\n");
        var (code, stdout, stderr) = CliProcess.Run("generate", "-p", "And God said", "-m", TestPaths.Q8, "--seed", "3", "--grammar-file", dir.File("g.gbnf"));
        Assert.True(code == 0, stderr);
        Assert.Matches("^Verily, (yea|nay)\\.\\s*$", stdout);

        File.WriteAllText(dir.File("s.json"), "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"]}");
        (code, stdout, stderr) = CliProcess.Run("generate", "-p", "And God said", "-m", TestPaths.Q8, "--seed", "3", "--json-schema", "@" + dir.File("s.json"));
        Assert.True(code == 0, stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, doc.RootElement.GetProperty("n").ValueKind);
    }
}
