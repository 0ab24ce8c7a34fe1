using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Eurus.LoadTest;

/// <summary>A child process (a replica or the gateway) on a loopback port: started, probed until healthy, killed.</summary>
internal sealed class ManagedProcess(string name, string dll, Func<int, string> arguments, string healthPath) : IDisposable
{
    private Process? _process;
    public string Name { get; } = name;
    public int Port { get; } = FreePort();
    public string Url => $"http://127.0.0.1:{Port}";
    public long PeakWorkingSet { get; private set; }

    public async Task StartAsync(TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in arguments(Port).Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(a);
        psi.Environment["Logging__LogLevel__Default"] = "Warning"; // no per-request lines from the children
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) Console.Error.WriteLine($"[{Name}] {e.Data}"); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} at start.");
            try { if ((await http.GetAsync(Url + healthPath)).IsSuccessStatusCode) return; } catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} was not healthy within {timeout.TotalSeconds} s.");
    }

    public void Sample()
    {
        try { if (_process is { HasExited: false } p) { p.Refresh(); PeakWorkingSet = Math.Max(PeakWorkingSet, p.WorkingSet64); } }
        catch (InvalidOperationException) { }
    }

    public void Kill()
    {
        if (_process is { HasExited: false } p) { p.Kill(entireProcessTree: true); p.WaitForExit(10_000); }
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
