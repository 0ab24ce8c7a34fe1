using System.Diagnostics;
using System.Net;

namespace Eurus.Server.Tests;

/// <summary>
/// The container recipe of docs/serving.md, run where a container engine answers (docker or podman): the image is
/// built with <c>dotnet publish /t:PublishContainer</c>, runs as a non-root user, loads the model from a read-only
/// volume, listens on 8080 on all interfaces and answers. Skipped, with the reason, where no engine answers.
/// </summary>
public class ContainerTests
{
    [ContainerFact]
    public async Task TheImageBuildsRunsAsNonRootWithTheModelFromAVolumeAndAnswers()
    {
        string engine = ContainerFactAttribute.Engine!;
        string repo = FindRepoRoot();
        string tag = "test-" + Guid.NewGuid().ToString("N")[..8];
        var (code, output) = Run("dotnet", $"publish \"{Path.Combine(repo, "samples", "Server")}\" -c Release /t:PublishContainer -p:ContainerImageTag={tag}"
            + (engine == "podman" ? " -p:LocalRegistry=podman" : ""), 600);
        Assert.True(code == 0, "publish failed:\n" + output);
        string image = $"eurus-server:{tag}";
        string name = "eurus-test-" + tag;
        try
        {
            Assert.Equal("app", Run(engine, $"image inspect --format {{{{.Config.User}}}} {image}", 60).Output.Trim());
            int port = FreePort();
            string models = Path.GetDirectoryName(TestServer.ModelPath)!;
            (code, output) = Run(engine, $"run -d --name {name} -p 127.0.0.1:{port}:8080 -v \"{models}:/models:ro\" -e Eurus__ModelPath=/models/kjv-tiny-Q8_0.gguf -e Eurus__ApiKey=k {image}", 120);
            Assert.True(code == 0, output);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            HttpStatusCode? status = null;
            for (int i = 0; i < 120 && status != HttpStatusCode.OK; i++)
            {
                try { status = (await http.GetAsync("/health/ready")).StatusCode; } catch (HttpRequestException) { await Task.Delay(500); }
            }
            Assert.True(status == HttpStatusCode.OK, "not ready: " + Run(engine, $"logs {name}", 30).Output);
            var req = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent("""{"prompt": "And God said", "max_tokens": 4}""", System.Text.Encoding.UTF8, "application/json") };
            req.Headers.Authorization = new("Bearer", "k");
            using var resp = await http.SendAsync(req);
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        }
        finally
        {
            Run(engine, $"rm -f {name}", 60);
            Run(engine, $"rmi -f {image}", 60);
        }
    }

    internal static (int ExitCode, string Output) Run(string file, string args, int seconds)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"{file} {args}: timed out after {seconds} s");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Eurus.Cpu.sln"))) return d.FullName;
        throw new InvalidOperationException("Eurus.Cpu.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact that runs only where docker or podman answers (<c>info</c> succeeds); otherwise skipped with the reason.</summary>
public sealed class ContainerFactAttribute : FactAttribute
{
    public static readonly string? Engine;
    private static readonly string? Reason;

    static ContainerFactAttribute()
    {
        var tried = new List<string>();
        foreach (var engine in new[] { "docker", "podman" })
        {
            try
            {
                var (code, output) = ContainerTests.Run(engine, "info --format {{.ServerVersion}}", 20);
                if (code == 0) { Engine = engine; return; }
                tried.Add($"{engine}: {output.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim()}");
            }
            catch (System.ComponentModel.Win32Exception) { tried.Add($"{engine}: not installed"); }
        }
        Reason = "No container engine answers (" + string.Join("; ", tried) + ")";
    }

    public ContainerFactAttribute()
    {
        if (Engine is null) Skip = Reason;
    }
}
