using System.Text.Json.Nodes;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// <c>eurus eval</c> end to end, as a user runs it: the built CLI in a child process on the bundled demo model and the
/// shipped sample items. The demo model knows only the King James Bible, so its answers are wrong; what is checked is
/// the protocol: one transcript per item with the card's prompt, the final accuracy line, and the opt-in for code.
/// </summary>
public class EvalCommandTests
{
    private static string RepoRoot() => TestPaths.RepoRoot();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliProcess.Run(args);

    [Fact]
    public void MathCotWritesATranscriptPerItemAndTheAccuracyLine()
    {
        using var temp = TestPaths.Temp();
        string transcripts = Path.Combine(temp.Path, "math.jsonl");
        string data = Path.Combine(RepoRoot(), "samples", "data", "math-sample.jsonl");
        var (code, stdout, stderr) = Run("eval", "--task", "math", "--mode", "cot", "--data", data, "--limit", "2", "-n", "12", "-t", "1", "--out", transcripts);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Matches(@"accuracy: [0-2]/2 = \d+\.\d\d%\s*$", stdout);
        var lines = File.ReadAllLines(transcripts);
        Assert.Equal(2, lines.Length);
        var questions = File.ReadLines(data).Take(2).Select(l => (string)JsonNode.Parse(l)!["question"]!).ToArray();
        for (int i = 0; i < 2; i++)
        {
            var o = JsonNode.Parse(lines[i])!;
            Assert.Equal(questions[i], (string)o["question"]!);
            Assert.StartsWith("<s>[INST] ", (string)o["prompt"]!);
            Assert.Contains(questions[i], (string)o["prompt"]!);
            Assert.EndsWith(" [/INST]", (string)o["prompt"]!);
            Assert.InRange((int)o["generated_tokens"]!, 1, 12);
            Assert.NotNull(o["correct"]);
        }
    }

    [Fact]
    public void CodeTasksRefuseToRunModelCodeWithoutTheOptIn()
    {
        string data = Path.Combine(RepoRoot(), "samples", "data", "code-sample.jsonl");
        var (code, stdout, stderr) = Run("eval", "--task", "code", "--data", data, "--limit", "1", "-n", "4");
        Assert.Equal(1, code);
        Assert.Contains("--allow-code-execution", stderr);
        Assert.DoesNotContain("accuracy:", stdout);
    }
}
