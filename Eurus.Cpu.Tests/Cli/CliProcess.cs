using System.Diagnostics;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>Runs the built <c>eurus</c> CLI in a child process, as a user would (built with the tests, same configuration).</summary>
internal static class CliProcess
{
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Eurus.Cpu.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Eurus.Cpu.sln not found above the test directory.");
    }

    // The CLI is built with the tests (a project reference without the assembly); same configuration as this test run.
    public static string CliDll()
    {
        string config = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<config>/net10.0
        string dll = Path.Combine(RepoRoot(), "samples", "Eurus.Cli", "bin", config, "net10.0", "eurus.dll");
        Assert.True(File.Exists(dll), $"the CLI was not built at {dll}");
        return dll;
    }

    /// <summary>Runs <c>eurus <paramref name="args"/></c>; fails the test if it takes more than two minutes.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), $"eurus {string.Join(' ', args)} did not finish in 2 minutes");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
