using System.Diagnostics;

namespace Eurus.Cpu.Tests.Packaging;

/// <summary>
/// The dotnet CLI (or a program it built) in a child process, started clean: the test host's MSBuild variables would
/// point the child at the test run's build, so they are removed; no telemetry or logo. Fails the test on a timeout.
/// </summary>
internal static class ChildProcess
{
    /// <summary>The dotnet host this test run uses (DOTNET_HOST_PATH), else <c>dotnet</c> on the PATH.</summary>
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    public static (int Code, string Out, string Err) Run(string file, string workDir, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment,
        params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} timed out");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary><see cref="Run"/> that must succeed; returns its standard output.</summary>
    public static string RunOk(string file, string workDir, TimeSpan timeout, params string[] args)
    {
        var (code, output, error) = Run(file, workDir, timeout, null, args);
        Assert.True(code == 0, $"{file} {string.Join(' ', args)} failed ({code}):\n{output}{error}");
        return output;
    }
}
