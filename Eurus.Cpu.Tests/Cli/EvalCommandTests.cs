using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// <c>eurus eval</c> end to end, as a user runs it: the built CLI in a child process on the bundled demo model and the
/// shipped sample items. The demo model knows only the King James Bible, so its answers are wrong; what is checked is
/// the protocol: one transcript per item with the card's prompt, the final accuracy line, and the opt-in for code.
/// </summary>
public class EvalCommandTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Eurus.Cpu.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Eurus.Cpu.sln not found above the test directory.");
    }

    // The CLI is built with the tests (a project reference without the assembly); same configuration as this test run.
    private static string CliDll()
    {
        string config = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<config>/net10.0
        string dll = Path.Combine(RepoRoot(), "samples", "Eurus.Cli", "bin", config, "net10.0", "eurus.dll");
        Assert.True(File.Exists(dll), $"the CLI was not built at {dll}");
        return dll;
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "eurus eval did not finish in 2 minutes");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

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
