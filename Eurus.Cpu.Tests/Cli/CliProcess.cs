using System.Diagnostics;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>Runs the built <c>eurus</c> CLI in a child process, as a user would (built with the tests, same configuration).</summary>
internal static class CliProcess
{
    // The CLI is built with the tests (a project reference without the assembly); same configuration as this test run.
    public static string CliDll()
    {
        string config = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<config>/net10.0
        string dll = Path.Combine(TestPaths.RepoRoot(), "samples", "Eurus.Cli", "bin", config, "net10.0", "eurus.dll");
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

/// <summary>
/// The built CLI running in a child process with its standard streams piped, for interactive commands (chat) and
/// Ctrl-C: write to its stdin, wait for text on its stdout/stderr, send it SIGINT.
/// </summary>
internal sealed class CliSession : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _out = new(), _err = new();
    private readonly object _gate = new();

    public CliSession(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(CliProcess.CliDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        // Read characters as they come: a prompt or a streamed reply has no newline to wait for.
        _readers = [Pump(_process.StandardOutput, _out), Pump(_process.StandardError, _err)];
    }

    private readonly Task[] _readers;

    private Task Pump(StreamReader reader, System.Text.StringBuilder into) => Task.Run(async () =>
    {
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer)) > 0)
            lock (_gate) into.Append(buffer, 0, n);
    });

    public int Id => _process.Id;

    public string Out { get { lock (_gate) return _out.ToString(); } }

    public string Err { get { lock (_gate) return _err.ToString(); } }

    public void Write(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits until <paramref name="ready"/> holds for (stdout, stderr); fails the test after <paramref name="seconds"/>.</summary>
    public void WaitUntil(Func<string, string, bool> ready, string what, int seconds = 60)
    {
        var sw = Stopwatch.StartNew();
        while (!ready(Out, Err))
        {
            if (_process.HasExited && !ready(Out, Err)) Assert.Fail($"the CLI exited ({_process.ExitCode}) before {what}.\nstdout: {Out}\nstderr: {Err}");
            if (sw.Elapsed.TotalSeconds > seconds) Assert.Fail($"no {what} after {seconds} s.\nstdout: {Out}\nstderr: {Err}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Sends SIGINT, as Ctrl-C in a terminal does (Unix only).</summary>
    public void Interrupt()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-INT", Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits for the exit; fails the test after <paramref name="seconds"/>.</summary>
    public int WaitForExit(int seconds = 60)
    {
        if (!_process.WaitForExit(seconds * 1000))
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"the CLI did not exit within {seconds} s.\nstdout: {Out}\nstderr: {Err}");
        }
        Task.WaitAll(_readers, TimeSpan.FromSeconds(10));
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
