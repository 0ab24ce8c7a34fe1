using System.Diagnostics;
using System.IO.Compression;
using Eurus.Cpu.Tests.Cli;

namespace Eurus.Cpu.Tests.Packaging;

/// <summary>
/// <c>eurus</c> as a .NET tool: the built CLI packed into a .nupkg, installed with
/// <c>dotnet tool install --tool-path DIR --add-source FEED Eurus.Cli</c>, and run from there — its version, and a
/// generation with the demo model the package bundles (no -m). All in a temp folder, with its own NuGet packages
/// folder, so the machine's cache is neither used for the tool nor polluted. About 10 s (the CLI is already built).
/// </summary>
public class ToolInstallTests
{
    private static (int Code, string Out, string Err) Run(string file, string workDir, string packages, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The test host's MSBuild variables would point the child at the test run's build; start it clean.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["NUGET_PACKAGES"] = packages;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} timed out");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void PackedToolInstallsAndRunsWithTheBundledModel()
    {
        using var tmp = TestPaths.Temp();
        string root = CliProcess.RepoRoot();
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        string packages = tmp.File("packages"), feed = tmp.File("feed"), tools = tmp.File("tools");
        // The configuration this test run built the CLI in (bin/<config>/net10.0).
        string config = new DirectoryInfo(Path.GetDirectoryName(CliProcess.CliDll())!).Parent!.Name;
        // A version of its own, so no cached package of the same id and version can stand in for this one.
        string version = "0.0.0-test." + Guid.NewGuid().ToString("N")[..12];

        var pack = Run(dotnet, root, packages, "pack", Path.Combine(root, "samples", "Eurus.Cli", "Eurus.Cli.csproj"), "-c", config, "--no-build",
            "-o", feed, "-p:Version=" + version, "--nologo");
        Assert.True(pack.Code == 0, $"dotnet pack failed:\n{pack.Out}{pack.Err}");
        string nupkg = Path.Combine(feed, $"Eurus.Cli.{version}.nupkg");
        using (var zip = ZipFile.OpenRead(nupkg))
        {
            var names = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("tools/net10.0/any/eurus.dll", names);
            Assert.Contains("tools/net10.0/any/models/kjv-tiny-Q8_0.gguf", names);
            Assert.Contains("tools/net10.0/any/DotnetToolSettings.xml", names);
        }

        var install = Run(dotnet, tmp.Path, packages, "tool", "install", "--tool-path", tools, "--add-source", feed, "Eurus.Cli", "--version", version);
        Assert.True(install.Code == 0, $"dotnet tool install failed:\n{install.Out}{install.Err}");
        string eurus = Path.Combine(tools, OperatingSystem.IsWindows() ? "eurus.exe" : "eurus");
        Assert.True(File.Exists(eurus), $"no {eurus} after the install");

        // The installed tool is this build: same --version as the CLI the tests run.
        var installed = Run(eurus, tmp.Path, packages, "--version");
        var built = CliProcess.Run("--version");
        Assert.Equal(0, installed.Code);
        Assert.Equal(built.Out, installed.Out);
        Assert.Matches(@"^\d+\.\d+\.\d+", installed.Out);

        // It finds the demo model it bundles, from any working directory, and generates what the built CLI generates.
        var generated = Run(eurus, tmp.Path, packages, "generate", "-p", "And God said", "-n", "8", "--temp", "0", "-t", "1");
        Assert.True(generated.Code == 0, generated.Err);
        Assert.Equal(CliProcess.Run("generate", "-p", "And God said", "-n", "8", "--temp", "0", "-t", "1").Out, generated.Out);
        Assert.True(generated.Out.Trim().Length > 0);
    }
}
