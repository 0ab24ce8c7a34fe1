using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>
/// A Hugging Face–compatible hub on 127.0.0.1 for tests: the model-info API (<c>?blobs=true</c> with LFS SHA-256s) and
/// <c>resolve</c> downloads with HTTP range support. It can break off the first transfer of a file half-way, serve a
/// corrupted copy of a file, and require a bearer token. Every request is logged.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, Dictionary<string, byte[]>> _repos = new(StringComparer.Ordinal);
    private readonly HashSet<string> _interruptOnce = [];
    private readonly Task _loop;

    public FakeHub()
    {
        // A free port: bind port 0, read it, release it (HttpListener cannot bind port 0 itself).
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Endpoint { get; }

    /// <summary>"METHOD path Range=… Auth=…" of every request, in order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>When set, requests without "Authorization: Bearer TOKEN" get 401.</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Files (repo-relative) served with one byte flipped, though listed with the true SHA-256.</summary>
    public HashSet<string> Corrupt { get; } = [];

    public void AddRepo(string repo, Dictionary<string, byte[]> files) => _repos[repo] = files;

    /// <summary>The next download of <paramref name="file"/> sends half its bytes, then drops the connection.</summary>
    public void InterruptOnce(string file)
    {
        lock (_interruptOnce) _interruptOnce.Add(file);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() => Handle(ctx));
        }
    }

    private void Handle(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        string raw = req.Url!.AbsolutePath; // escaped: a revision such as refs%2Fpr%2F1 stays one segment
        string path = Uri.UnescapeDataString(raw);
        Requests.Enqueue($"{req.HttpMethod} {path} Range={req.Headers["Range"]} Auth={req.Headers["Authorization"]}");
        try
        {
            if (RequiredToken is { } token && req.Headers["Authorization"] != $"Bearer {token}")
            {
                res.StatusCode = 401;
                res.Close();
                return;
            }
            if (path.StartsWith("/api/models/", StringComparison.Ordinal))
            {
                int at = path.IndexOf("/revision/", StringComparison.Ordinal);
                string repo = path["/api/models/".Length..at];
                if (!_repos.TryGetValue(repo, out var files) || req.QueryString["blobs"] != "true") { NotFound(res); return; }
                var siblings = files.Select(f => f.Key.EndsWith(".json", StringComparison.Ordinal)
                    ? (object)new { rfilename = f.Key, size = f.Value.Length }
                    : new { rfilename = f.Key, size = f.Value.Length, lfs = new { sha256 = Convert.ToHexStringLower(SHA256.HashData(f.Value)), size = f.Value.Length, pointerSize = 134 } });
                var body = JsonSerializer.SerializeToUtf8Bytes(new { id = repo, sha = "0123abcd", siblings });
                res.ContentType = "application/json";
                res.ContentLength64 = body.Length;
                res.OutputStream.Write(body);
                res.Close();
                return;
            }
            int resolve = raw.IndexOf("/resolve/", StringComparison.Ordinal);
            if (resolve < 0) { NotFound(res); return; }
            string repoName = Uri.UnescapeDataString(raw[1..resolve]);
            string rest = raw[(resolve + "/resolve/".Length)..];
            string file = Uri.UnescapeDataString(rest[(rest.IndexOf('/') + 1)..]);
            if (!_repos.TryGetValue(repoName, out var repoFiles) || !repoFiles.TryGetValue(file, out var data)) { NotFound(res); return; }
            if (Corrupt.Contains(file))
            {
                data = (byte[])data.Clone();
                data[data.Length / 2] ^= 0x5A;
            }
            long from = 0;
            if (req.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
            {
                from = long.Parse(range[6..^1], System.Globalization.CultureInfo.InvariantCulture);
                if (from >= data.Length)
                {
                    res.StatusCode = 416;
                    res.Close();
                    return;
                }
                res.StatusCode = 206;
                res.Headers["Content-Range"] = $"bytes {from}-{data.Length - 1}/{data.Length}";
            }
            res.ContentLength64 = data.Length - from;
            bool interrupt;
            lock (_interruptOnce) interrupt = _interruptOnce.Remove(file);
            if (interrupt)
            {
                res.OutputStream.Write(data, (int)from, (int)((data.Length - from) / 2));
                res.OutputStream.Flush();
                res.Abort(); // drop the connection mid-body
                return;
            }
            res.OutputStream.Write(data, (int)from, (int)(data.Length - from));
            res.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away; nothing to do.
        }
    }

    private static void NotFound(HttpListenerResponse res)
    {
        res.StatusCode = 404;
        res.Close();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
