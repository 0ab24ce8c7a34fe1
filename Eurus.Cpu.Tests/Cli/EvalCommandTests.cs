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
    public void SelfConsistencySamplesSharingThePromptEqualSeparateRunsAndReportMajAndPassAtK()
    {
        using var temp = TestPaths.Temp();
        string data = Path.Combine(RepoRoot(), "samples", "data", "gsm-sample.jsonl");
        string shared = Path.Combine(temp.Path, "shared.jsonl"), separate = Path.Combine(temp.Path, "separate.jsonl");
        string[] args = ["eval", "--task", "gsm", "--data", data, "--limit", "2", "-n", "10", "-t", "1", "--samples", "3", "--vote", "--temp", "1.0", "--seed", "5"];
        var (code, stdout, stderr) = Run([.. args, "--out", shared]);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Matches(@"pass@3: [0-2]/2 = \d+\.\d\d%", stdout);
        Assert.Matches(@"maj@3: [0-2]/2 = \d+\.\d\d%", stdout);
        Assert.Matches(@"accuracy: [0-2]/2 = \d+\.\d\d%\s*$", stdout);
        Assert.Contains("shared prompt", stderr);
        var (code2, _, stderr2) = Run([.. args, "--out", separate, "--separate-runs"]);
        Assert.True(code2 == 0, $"exit {code2}: {stderr2}");
        Assert.Contains("separate runs", stderr2);

        // The same samples either way (sample i: seed + i), and they differ from each other (they are sampled).
        var a = File.ReadAllLines(shared).Select(l => JsonNode.Parse(l)!).ToArray();
        var b = File.ReadAllLines(separate).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(2, a.Length);
        for (int i = 0; i < 2; i++)
        {
            var sa = a[i]["samples"]!.AsArray().Select(x => (string)x!["completion"]!).ToArray();
            var sb = b[i]["samples"]!.AsArray().Select(x => (string)x!["completion"]!).ToArray();
            Assert.Equal(3, sa.Length);
            Assert.Equal(sb, sa);
            Assert.True(sa.Distinct().Count() > 1);
            Assert.Equal((bool)a[i]["pass"]!, a[i]["samples"]!.AsArray().Any(x => (bool)x!["correct"]!));
        }
        // --vote needs samples; code has no answer to vote on.
        Assert.Equal(1, Run("eval", "--task", "gsm", "--data", data, "--vote").Code);
        Assert.Equal(1, Run("eval", "--task", "code", "--data", Path.Combine(RepoRoot(), "samples", "data", "code-sample.jsonl"), "--samples", "2", "--allow-code-execution").Code);
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
