using System.Diagnostics;
using Eurus.Cpu.Tests.Cli;

namespace Eurus.Cpu.Tests.Arm64;

/// <summary>
/// A self-contained linux-arm64 publish of this test assembly, run under qemu-user (Debian's <c>qemu-user</c>,
/// <c>libc6-arm64-cross</c> and <c>libstdc++6-arm64-cross</c>; <c>.ci/run</c> installs them). The publish is made once per test run from a copy of the
/// sources in a temp folder, so it never touches the build that is running the tests.
/// </summary>
internal static class Arm64Emulator
{
    public const string Qemu = "/usr/bin/qemu-aarch64";
    public const string Sysroot = "/usr/aarch64-linux-gnu";

    /// <summary>True where qemu-aarch64 and the ARM64 C library are installed (Linux x64 only).</summary>
    public static bool Available =>
        OperatingSystem.IsLinux() && File.Exists(Qemu) && File.Exists(Path.Combine(Sysroot, "lib", "libstdc++.so.6"));

    private static readonly Lazy<Task<string>> Published = new(PublishAsync);

    /// <summary>The folder of the published arm64 program (built on first use).</summary>
    public static Task<string> PublishedAsync() => Published.Value;

    private static async Task<string> PublishAsync()
    {
        string root = TestPaths.RepoRoot();
        string work = Path.Combine(Path.GetTempPath(), "eurus-arm64-" + Guid.NewGuid().ToString("N"));
        // The copy and the publish (~200 MB) go when the test run ends.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { } };
        foreach (var file in new[] { "Directory.Build.props", "global.json" })
            if (File.Exists(Path.Combine(root, file))) File.Copy(Path.Combine(root, file), Path.Combine(work, file).EnsureParent());
        foreach (var dir in new[] { "Eurus.Cpu", "Eurus.Cpu.Tests", "Eurus.Cpu.Bench", "models", "fuzz/Eurus.Cpu.Fuzz/Harnesses", "fuzz/corpus", "fuzz/regressions" })
            CopyTree(Path.Combine(root, dir), Path.Combine(work, dir));
        string output = Path.Combine(work, "out");
        var (code, log) = await RunAsync("dotnet", ["publish", Path.Combine(work, "Eurus.Cpu.Tests", "Eurus.Cpu.Tests.csproj"), "-c", "Release",
            "-r", "linux-arm64", "--self-contained", "-o", output, "-p:ErrorOnDuplicatePublishOutputFiles=false", "-p:UseAppHost=true", "-nologo"], null, TimeSpan.FromMinutes(10));
        if (code != 0) throw new InvalidOperationException($"The linux-arm64 publish failed ({code}):\n{log}");
        return output;
    }

    /// <summary>Runs the published program under qemu with <paramref name="environment"/> added.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string[] args, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        string dir = await PublishedAsync();
        var env = new Dictionary<string, string>
        {
            // .NET maps JIT-ed code twice (write view, execute view); qemu-user does not see writes through the other view and
            // runs stale translations (seen: "Illegal instruction" in reflection stubs). One mapping avoids that.
            ["DOTNET_EnableWriteXorExecute"] = "0",
            // No ARM64 libicu in the cross sysroot; the kernels need no culture data.
            ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1",
        };
        if (environment is not null) foreach (var (k, v) in environment) env[k] = v;
        return await RunAsync(Qemu, ["-L", Sysroot, Path.Combine(dir, "Eurus.Cpu.Tests"), .. args], env, timeout);
    }

    private static async Task<(int Code, string Output)> RunAsync(string program, string[] args, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The child must not inherit this process's ISA switches or test-host variables.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("DOTNET_Enable", StringComparison.Ordinal)).ToList()) psi.Environment.Remove(key);
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} ran past {timeout}.");
        }
        return (p.ExitCode, await stdout + await stderr);
    }

    private static void CopyTree(string from, string to)
    {
        if (!Directory.Exists(from)) return;
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(from, file);
            var parts = rel.Split(Path.DirectorySeparatorChar);
            if (parts.Any(p => p is "bin" or "obj")) continue;
            File.Copy(file, Path.Combine(to, rel).EnsureParent());
        }
    }

    private static string EnsureParent(this string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }
}

/// <summary>A test that needs qemu-aarch64: reported as skipped, with the reason, where it is missing — except under CI, where it fails.</summary>
public sealed class Arm64EmulatorFactAttribute : FactAttribute
{
    public Arm64EmulatorFactAttribute()
    {
        if (!Arm64Emulator.Available && Environment.GetEnvironmentVariable("CI") is null)
            Skip = "needs qemu-aarch64 and the ARM64 C library: apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross (.ci/run installs them)";
    }
}

/// <summary>The theory form of <see cref="Arm64EmulatorFactAttribute"/>.</summary>
public sealed class Arm64EmulatorTheoryAttribute : TheoryAttribute
{
    public Arm64EmulatorTheoryAttribute()
    {
        if (!Arm64Emulator.Available && Environment.GetEnvironmentVariable("CI") is null)
            Skip = "needs qemu-aarch64 and the ARM64 C library: apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross (.ci/run installs them)";
    }
}
