using System.Diagnostics;
using Eurus.Cpu.Tests.Cli;

namespace Eurus.Cpu.Tests.Samples;

/// <summary>A built sample (a project reference of the tests, same configuration) run as a child process.</summary>
internal sealed class SampleProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _out = new(), _err = new();

    public SampleProcess(string project, string assembly, params string[] args)
    {
        string config = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<config>/net10.0
        string dll = Path.Combine(TestPaths.RepoRoot(), "samples", project, "bin", config, "net10.0", assembly + ".dll");
        Assert.True(File.Exists(dll), $"the sample was not built at {dll}");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is { } d) lock (_out) _out.AppendLine(d); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is { } d) lock (_err) _err.AppendLine(d); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Out { get { lock (_out) return _out.ToString(); } }
    public string Err { get { lock (_err) return _err.ToString(); } }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    public void Write(string line) => _process.StandardInput.WriteLine(line);

    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for the exit (two minutes at most) and returns the exit code.</summary>
    public int Exit()
    {
        Assert.True(_process.WaitForExit(120_000), $"the sample did not exit within two minutes; stderr: {Err}");
        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>Waits until <paramref name="condition"/> holds (up to a minute).</summary>
    public bool WaitFor(Func<bool> condition, int ms = 60_000)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > ms || _process.HasExited) return condition();
            Thread.Sleep(2);
        }
        return true;
    }

    /// <summary>Sends SIGINT, as Ctrl-C in a terminal does.</summary>
    public void Interrupt()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-INT {_process.Id}") { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
