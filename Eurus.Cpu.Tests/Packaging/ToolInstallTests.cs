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
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public void PackedToolInstallsAndRunsWithTheBundledModel()
    {
        using var tmp = TestPaths.Temp();
        string root = TestPaths.RepoRoot();
        string dotnet = ChildProcess.Dotnet;
        string packages = tmp.File("packages"), feed = tmp.File("feed"), tools = tmp.File("tools");
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = packages }; // the tool's own packages folder
        // The configuration this test run built the CLI in (bin/<config>/net10.0).
        string config = new DirectoryInfo(Path.GetDirectoryName(CliProcess.CliDll())!).Parent!.Name;
        // A version of its own, so no cached package of the same id and version can stand in for this one.
        string version = "0.0.0-test." + Guid.NewGuid().ToString("N")[..12];

        var pack = ChildProcess.Run(dotnet, root, Limit, env, "pack", Path.Combine(root, "samples", "Eurus.Cli", "Eurus.Cli.csproj"), "-c", config, "--no-build",
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

        var install = ChildProcess.Run(dotnet, tmp.Path, Limit, env, "tool", "install", "--tool-path", tools, "--add-source", feed, "Eurus.Cli", "--version", version);
        Assert.True(install.Code == 0, $"dotnet tool install failed:\n{install.Out}{install.Err}");
        string eurus = Path.Combine(tools, OperatingSystem.IsWindows() ? "eurus.exe" : "eurus");
        Assert.True(File.Exists(eurus), $"no {eurus} after the install");

        // The installed tool is this build: same --version as the CLI the tests run.
        var installed = ChildProcess.Run(eurus, tmp.Path, Limit, env, "--version");
        var built = CliProcess.Run("--version");
        Assert.Equal(0, installed.Code);
        Assert.Equal(built.Out, installed.Out);
        Assert.Matches(@"^\d+\.\d+\.\d+", installed.Out);

        // It finds the demo model it bundles, from any working directory, and generates what the built CLI generates.
        var generated = ChildProcess.Run(eurus, tmp.Path, Limit, env, "generate", "-p", "And God said", "-n", "8", "--temp", "0", "-t", "1");
        Assert.True(generated.Code == 0, generated.Err);
        Assert.Equal(CliProcess.Run("generate", "-p", "And God said", "-n", "8", "--temp", "0", "-t", "1").Out, generated.Out);
        Assert.True(generated.Out.Trim().Length > 0);
    }
}
