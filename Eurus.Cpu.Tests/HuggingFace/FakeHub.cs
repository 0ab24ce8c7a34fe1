using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>How <see cref="FakeHub"/> misbehaves when it serves a file (or, under <see cref="FakeHub.Listing"/>, the listing).</summary>
public enum Misbehaviour
{
    /// <summary>Accepts the request and never sends the status line or headers.</summary>
    NoHeaders,

    /// <summary>Sends the headers and half of the body, then nothing more (the connection stays open).</summary>
    StallHalfway,

    /// <summary>Sends the body, then junk without end (chunked, no Content-Length), at a modest rate.</summary>
    EndlessBody,

    /// <summary>Announces a Content-Length far beyond the body and sends the body, then junk, as <see cref="EndlessBody"/>.</summary>
    HugeContentLength,

    /// <summary>Sends the correct body in 10 pieces 100 ms apart: slow (a second in all), but never silent for long.</summary>
    Trickle,
}

/// <summary>
/// A Hugging Face–compatible hub on 127.0.0.1 for tests: the model-info API (<c>?blobs=true</c> with the commit sha and LFS
/// SHA-256s) and <c>resolve</c> downloads with HTTP range support, by branch name or by commit. Each repository has a
/// head commit (every revision that is not a commit sha resolves to it) and keeps its earlier commits, so the head can be
/// moved between a listing and the downloads. It can break off the first transfer of a file half-way, serve a corrupted
/// copy of a file, leave sizes or the commit sha out of the listing, misbehave (<see cref="Misbehaviour"/>) on the listing
/// or a file, and require a bearer token. Every request is logged, and the body bytes it sent are counted per path.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    /// <summary>The key of <see cref="Misbehave"/> that stands for the listing (model-info) request.</summary>
    public const string Listing = "(listing)";

    /// <summary>Junk after the body in <see cref="Misbehaviour.EndlessBody"/>/<see cref="Misbehaviour.HugeContentLength"/>: 1 GiB, sent 32 KiB at a time with a 2 ms pause, so about 16 MB/s at most: a minute's worth.</summary>
    private const long JunkBytes = 1L << 30;
    private const int JunkChunk = 32 << 10;

    private sealed class RepoState
    {
        public Dictionary<string, Dictionary<string, byte[]>> Commits { get; } = new(StringComparer.Ordinal);
        public string Head { get; set; } = "";
    }

    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, RepoState> _repos = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, byte[]>> _moveAfterListing = new(StringComparer.Ordinal);
    private readonly HashSet<string> _interruptOnce = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _commits;

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

    /// <summary>Body bytes handed to the network per request path (unescaped, without the query), all requests summed.</summary>
    public ConcurrentDictionary<string, long> BytesSent { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, requests without "Authorization: Bearer TOKEN" get 401.</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Files (repo-relative) served with one byte flipped, though listed with the true SHA-256.</summary>
    public HashSet<string> Corrupt { get; } = [];

    /// <summary>Files listed with neither a size nor an LFS size (their SHA-256 is still listed for non-JSON files).</summary>
    public HashSet<string> Unsized { get; } = [];

    /// <summary>When set, the listing has no <c>sha</c> (commit) field.</summary>
    public bool OmitCommitSha { get; set; }

    /// <summary>Misbehaviour per file name, or for the listing under <see cref="Listing"/>; applies to every request for it.</summary>
    public ConcurrentDictionary<string, Misbehaviour> Misbehave { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a repository whose head commit holds <paramref name="files"/> (kept by reference); returns the commit sha.</summary>
    public string AddRepo(string repo, Dictionary<string, byte[]> files)
    {
        lock (_repos)
        {
            if (!_repos.TryGetValue(repo, out var state)) _repos[repo] = state = new RepoState();
            string sha = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{repo}#{++_commits}")));
            state.Commits[sha] = files;
            state.Head = sha;
            return sha;
        }
    }

    /// <summary>The commit the repository's branches point to now.</summary>
    public string HeadOf(string repo)
    {
        lock (_repos) return _repos[repo].Head;
    }

    /// <summary>Once the next listing of <paramref name="repo"/> has been made (before it is sent), a new head commit with <paramref name="files"/> replaces the old one.</summary>
    public void MoveHeadAfterNextListing(string repo, Dictionary<string, byte[]> files)
    {
        lock (_repos) _moveAfterListing[repo] = files;
    }

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
            _ = Task.Run(() => HandleAsync(ctx));
        }
    }

    /// <summary>The files of <paramref name="revision"/> (a commit sha of the repository, else its head) and that commit.</summary>
    private bool TryResolve(string repo, string revision, out string commit, out Dictionary<string, byte[]> files)
    {
        lock (_repos)
        {
            commit = "";
            files = null!;
            if (!_repos.TryGetValue(repo, out var state)) return false;
            commit = state.Commits.ContainsKey(revision) ? revision : state.Head;
            files = state.Commits[commit];
            return true;
        }
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        string raw = req.Url!.AbsolutePath; // escaped: a revision such as refs%2Fpr%2F1 stays one segment
        string path = Uri.UnescapeDataString(raw);
        Requests.Enqueue($"{req.HttpMethod} {path} Range={req.Headers["Range"]} Auth={req.Headers["Authorization"]}");
        var ct = _stop.Token;
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
                string revision = path[(at + "/revision/".Length)..];
                if (!TryResolve(repo, revision, out string commit, out var files) || req.QueryString["blobs"] != "true") { NotFound(res); return; }
                var siblings = files.Select(f => (f.Key.EndsWith(".json", StringComparison.Ordinal), Unsized.Contains(f.Key)) switch
                {
                    (true, false) => (object)new { rfilename = f.Key, size = f.Value.Length },
                    (true, true) => new { rfilename = f.Key },
                    (false, false) => new { rfilename = f.Key, size = f.Value.Length, lfs = new { sha256 = Sha256(f.Value), size = f.Value.Length, pointerSize = 134 } },
                    (false, true) => new { rfilename = f.Key, lfs = new { sha256 = Sha256(f.Value), pointerSize = 134 } },
                }).ToList();
                var body = OmitCommitSha
                    ? JsonSerializer.SerializeToUtf8Bytes(new { id = repo, siblings })
                    : JsonSerializer.SerializeToUtf8Bytes(new { id = repo, sha = commit, siblings });
                // The branch moves before the listing is sent, so every download that follows sees the new head.
                lock (_repos)
                    if (_moveAfterListing.Remove(repo, out var next)) AddRepo(repo, next);
                res.ContentType = "application/json";
                if (Misbehave.TryGetValue(Listing, out var listingMode))
                    await MisbehaveAsync(res, path, body, 0, listingMode, ct);
                else
                    await SendAsync(res, path, body, 0, body.Length, ct);
                res.Close();
                return;
            }
            int resolve = raw.IndexOf("/resolve/", StringComparison.Ordinal);
            if (resolve < 0) { NotFound(res); return; }
            string repoName = Uri.UnescapeDataString(raw[1..resolve]);
            string rest = raw[(resolve + "/resolve/".Length)..];
            string rev = Uri.UnescapeDataString(rest[..rest.IndexOf('/')]);
            string file = Uri.UnescapeDataString(rest[(rest.IndexOf('/') + 1)..]);
            if (!TryResolve(repoName, rev, out _, out var repoFiles) || !repoFiles.TryGetValue(file, out var data)) { NotFound(res); return; }
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
            if (Misbehave.TryGetValue(file, out var mode))
            {
                await MisbehaveAsync(res, path, data, (int)from, mode, ct);
                res.Close();
                return;
            }
            res.ContentLength64 = data.Length - from;
            bool interrupt;
            lock (_interruptOnce) interrupt = _interruptOnce.Remove(file);
            if (interrupt)
            {
                await SendAsync(res, path, data, (int)from, (int)((data.Length - from) / 2), ct);
                await res.OutputStream.FlushAsync(ct);
                res.Abort(); // drop the connection mid-body
                return;
            }
            await SendAsync(res, path, data, (int)from, (int)(data.Length - from), ct);
            res.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away, or the hub is shutting down.
            try { res.Abort(); } catch (ObjectDisposedException) { }
        }
    }

    private async Task MisbehaveAsync(HttpListenerResponse res, string path, byte[] data, int from, Misbehaviour mode, CancellationToken ct)
    {
        int length = data.Length - from;
        switch (mode)
        {
            case Misbehaviour.NoHeaders:
                await Task.Delay(Timeout.Infinite, ct); // HttpListener sends the headers with the first body byte
                break;
            case Misbehaviour.StallHalfway:
                res.ContentLength64 = length;
                await SendAsync(res, path, data, from, length / 2, ct);
                await res.OutputStream.FlushAsync(ct);
                await Task.Delay(Timeout.Infinite, ct);
                break;
            case Misbehaviour.Trickle:
                res.ContentLength64 = length;
                for (int i = 0; i < 10; i++)
                {
                    int start = from + (int)((long)length * i / 10), end = from + (int)((long)length * (i + 1) / 10);
                    await SendAsync(res, path, data, start, end - start, ct);
                    await res.OutputStream.FlushAsync(ct);
                    if (i < 9) await Task.Delay(100, ct);
                }
                break;
            case Misbehaviour.EndlessBody or Misbehaviour.HugeContentLength:
                if (mode == Misbehaviour.EndlessBody) res.SendChunked = true;
                else res.ContentLength64 = length + JunkBytes;
                await SendAsync(res, path, data, from, length, ct);
                var junk = new byte[JunkChunk];
                junk.AsSpan().Fill((byte)' '); // whitespace: a listing padded with it is still valid JSON
                for (long sent = 0; sent < JunkBytes; sent += JunkChunk)
                {
                    await SendAsync(res, path, junk, 0, JunkChunk, ct);
                    await Task.Delay(2, ct);
                }
                break;
        }
    }

    private async Task SendAsync(HttpListenerResponse res, string path, byte[] data, int offset, int count, CancellationToken ct)
    {
        await res.OutputStream.WriteAsync(data.AsMemory(offset, count), ct);
        BytesSent.AddOrUpdate(path, count, (_, v) => v + count);
    }

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private static void NotFound(HttpListenerResponse res)
    {
        res.StatusCode = 404;
        res.Close();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
