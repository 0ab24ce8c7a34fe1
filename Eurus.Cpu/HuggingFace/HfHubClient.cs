using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Eurus.Cpu.Safetensors;

namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// Downloads model repositories from a Hugging Face–compatible hub. The file list comes from
/// <c>GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true</c> (sizes, and SHA-256 for LFS files); files
/// from <c>GET {endpoint}/{repo}/resolve/{revision}/{path}</c>. Each file is written to <c>NAME.part</c>, resumed with
/// an HTTP range request when a partial file is there (or the connection breaks), checked against its listed size and
/// SHA-256, and only then renamed into place; a mismatch deletes the partial file and says so.
/// </summary>
public sealed partial class HfHubClient : IDisposable
{
    /// <summary>The public hub.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    private const int MaxAttempts = 4;
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http;
    private readonly string _endpoint;
    private readonly string? _token;

    /// <summary>
    /// Creates a client for <paramref name="endpoint"/> (default: the <c>HF_ENDPOINT</c> environment variable, else the
    /// public hub) sending <paramref name="token"/> as a bearer token (default: <c>HF_TOKEN</c>). A
    /// <paramref name="handler"/> replaces the HTTP stack (proxies, tests); the caller keeps ownership of it.
    /// </summary>
    public HfHubClient(string? endpoint = null, string? token = null, HttpMessageHandler? handler = null)
    {
        endpoint ??= Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } e ? e : DefaultEndpoint;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"The hub endpoint '{endpoint}' is not an http(s) URL.", nameof(endpoint));
        _endpoint = endpoint.TrimEnd('/');
        _token = token ?? (Environment.GetEnvironmentVariable("HF_TOKEN") is { Length: > 0 } t ? t : null);
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = Timeout.InfiniteTimeSpan; // large files take long; stalls are caught per read instead
    }

    /// <summary>The base URL requests go to.</summary>
    public string Endpoint => _endpoint;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")]
    private static partial Regex RepoIdPattern();

    /// <summary>Checks a repository id (<c>NAME</c> or <c>ORG/NAME</c>); throws <see cref="ArgumentException"/> when malformed.</summary>
    public static void ValidateRepoId(string repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        if (!RepoIdPattern().IsMatch(repo) || repo.Contains("..", StringComparison.Ordinal))
            throw new ArgumentException($"'{repo}' is not a repository id of the form ORG/NAME.");
    }

    /// <summary>Lists a repository's files at <paramref name="revision"/>.</summary>
    public async Task<IReadOnlyList<HfRepoFile>> ListFilesAsync(string repo, string revision = "main", CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repo);
        ArgumentException.ThrowIfNullOrEmpty(revision);
        string url = $"{_endpoint}/api/models/{repo}/revision/{Uri.EscapeDataString(revision)}?blobs=true";
        using var request = Request(url);
        byte[] body;
        try
        {
            using var response = await Send(request, url, cancellationToken).ConfigureAwait(false);
            body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new HfDownloadException($"{url}: {e.Message}", e);
        }
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw new HfDownloadException($"{url}: the answer is not valid UTF-8 JSON.");
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
            if (!doc.RootElement.TryGetProperty("siblings", out var siblings) || siblings.ValueKind != JsonValueKind.Array)
                throw new HfDownloadException($"{url}: the answer lists no 'siblings'; is this a Hugging Face–compatible endpoint?");
            var files = new List<HfRepoFile>();
            foreach (var s in siblings.EnumerateArray())
            {
                if (!s.TryGetProperty("rfilename", out var n) || n.ValueKind != JsonValueKind.String) continue;
                long? size = s.TryGetProperty("size", out var sz) && sz.TryGetInt64(out long v) ? v : null;
                string? sha = null;
                if (s.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                {
                    if (lfs.TryGetProperty("sha256", out var h) && h.ValueKind == JsonValueKind.String) sha = h.GetString()!.ToLowerInvariant();
                    if (lfs.TryGetProperty("size", out var ls) && ls.TryGetInt64(out long lv)) size = lv;
                }
                files.Add(new HfRepoFile(n.GetString()!, size, sha));
            }
            return files;
        }
        catch (JsonException e)
        {
            throw new HfDownloadException($"{url}: the answer is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>The files Eurus.Cpu needs from a repository listing: configuration, tokenizer, and the safetensors weights.</summary>
    internal static IEnumerable<HfRepoFile> NeededSmallFiles(IReadOnlyList<HfRepoFile> files) =>
        files.Where(f => f.Path is HfModelConfig.FileName or SentencePieceModel.FileName or "tokenizer_config.json"
            or "special_tokens_map.json" or "added_tokens.json" or "generation_config.json" or SafetensorsCheckpoint.IndexFileName);

    /// <summary>
    /// Downloads what Eurus.Cpu needs of <paramref name="repo"/> at <paramref name="revision"/> into
    /// <paramref name="directory"/>: config.json, tokenizer.model and the small tokenizer files, and the safetensors
    /// weights (the shards the index lists, or model.safetensors). Files already complete (size and SHA-256 match) are
    /// kept. Returns the directory.
    /// </summary>
    public async Task<string> PullAsync(string repo, string directory, string revision = "main",
        IProgress<HfDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var files = await ListFilesAsync(repo, revision, cancellationToken).ConfigureAwait(false);
        if (!files.Any(f => f.Path == HfModelConfig.FileName))
            throw new HfDownloadException($"{repo}@{revision} has no {HfModelConfig.FileName}; it is not a transformers model repository.");
        if (!files.Any(f => f.Path == SentencePieceModel.FileName))
            throw new HfDownloadException($"{repo}@{revision} has no {SentencePieceModel.FileName}; Eurus.Cpu needs a SentencePiece vocabulary.");
        Directory.CreateDirectory(directory);
        foreach (var f in NeededSmallFiles(files))
            await DownloadAsync(repo, revision, f, directory, progress, cancellationToken).ConfigureAwait(false);

        IEnumerable<string> weights;
        string index = Path.Combine(directory, SafetensorsCheckpoint.IndexFileName);
        if (files.Any(f => f.Path == SafetensorsCheckpoint.IndexFileName))
            weights = ShardsOf(index);
        else if (files.Any(f => f.Path == SafetensorsCheckpoint.SingleFileName))
            weights = [SafetensorsCheckpoint.SingleFileName];
        else
            throw new HfDownloadException($"{repo}@{revision} has no safetensors weights ({SafetensorsCheckpoint.SingleFileName} or {SafetensorsCheckpoint.IndexFileName}).");
        foreach (string w in weights)
        {
            var f = files.FirstOrDefault(x => x.Path == w)
                    ?? throw new HfDownloadException($"{repo}@{revision}: the index lists '{w}', which the repository does not have.");
            await DownloadAsync(repo, revision, f, directory, progress, cancellationToken).ConfigureAwait(false);
        }
        return directory;
    }

    private static IEnumerable<string> ShardsOf(string index)
    {
        using var doc = HfJson.ReadObject(index);
        if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(index, null, "the index has no 'weight_map' object.");
        var shards = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var p in map.EnumerateObject())
            if (p.Value.ValueKind == JsonValueKind.String) shards.Add(p.Value.GetString()!);
        return shards;
    }

    /// <summary>Downloads one file into <paramref name="directory"/> (resuming, verifying); see the class remarks.</summary>
    public async Task DownloadAsync(string repo, string revision, HfRepoFile file, string directory,
        IProgress<HfDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repo);
        ArgumentNullException.ThrowIfNull(file);
        // Only plain top-level names: a listing must never make us write outside the directory.
        if (file.Path.Length == 0 || file.Path != Path.GetFileName(file.Path) || file.Path is "." or ".." || file.Path.Contains('\\'))
            throw new HfDownloadException($"refusing to download '{file.Path}': not a plain file name.");
        string target = Path.Combine(directory, file.Path);
        string part = target + ".part";
        if (File.Exists(target))
        {
            if (file.Size is long size && new FileInfo(target).Length == size
                && (file.Sha256 is null || await Sha256Async(target, cancellationToken).ConfigureAwait(false) == file.Sha256))
            {
                progress?.Report(new HfDownloadProgress(file.Path, size, size));
                return;
            }
            // Otherwise (different size or content, or a small file the listing gives no size for) fetch it again.
        }

        string url = $"{_endpoint}/{repo}/resolve/{Uri.EscapeDataString(revision)}/{Uri.EscapeDataString(file.Path)}";
        Exception? last = null;
        for (int attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            long have = File.Exists(part) ? new FileInfo(part).Length : 0;
            if (file.Size is long s && have > s) { File.Delete(part); have = 0; }
            if (file.Size is long s2 && have == s2 && have > 0) break; // complete from an earlier run; verify below
            try
            {
                await FetchAsync(url, file, part, have, progress, cancellationToken).ConfigureAwait(false);
                if (file.Size is long s3 && new FileInfo(part).Length < s3)
                {
                    last = new IOException($"the server closed the transfer at {new FileInfo(part).Length} of {s3} bytes.");
                    continue;
                }
                last = null;
                break;
            }
            catch (Exception e) when (e is IOException or HttpRequestException or TimeoutException && e is not HfDownloadException
                                      && !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }
        if (last is not null)
        {
            long got = File.Exists(part) ? new FileInfo(part).Length : 0;
            throw new HfDownloadException($"downloading {file.Path} from {url} was interrupted {MaxAttempts} times ({got} bytes kept in {part}; run again to resume): {last.Message}", last);
        }

        long length = new FileInfo(part).Length;
        if (file.Size is long expected && length != expected)
        {
            File.Delete(part);
            throw new HfDownloadException($"{file.Path}: downloaded {length} bytes but the hub lists {expected}; the partial file was deleted.");
        }
        if (file.Sha256 is { } sha)
        {
            string actual = await Sha256Async(part, cancellationToken).ConfigureAwait(false);
            if (actual != sha)
            {
                File.Delete(part);
                throw new HfDownloadException($"{file.Path}: SHA-256 checksum mismatch (expected {sha}, got {actual}); the partial file {part} was deleted. Run again to download it anew.");
            }
        }
        File.Move(part, target, overwrite: true);
    }

    private async Task FetchAsync(string url, HfRepoFile file, string part, long have, IProgress<HfDownloadProgress>? progress, CancellationToken ct)
    {
        using var request = Request(url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        using var response = await Send(request, url, ct, allowRangeNotSatisfiable: true).ConfigureAwait(false);
        FileMode mode;
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The partial file is not a prefix the server can continue: start over.
            File.Delete(part);
            throw new IOException("the server could not resume the partial file; starting over.");
        }
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            if (response.Content.Headers.ContentRange?.From != have)
            {
                File.Delete(part);
                throw new IOException($"the server resumed at {response.Content.Headers.ContentRange?.From} instead of {have}; starting over.");
            }
            mode = FileMode.Append;
        }
        else
        {
            have = 0; // a full answer: the server ignored the range
            mode = FileMode.Create;
        }
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using var output = new FileStream(part, mode, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        var buffer = new byte[1 << 20];
        long done = have;
        long lastReport = 0;
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (true)
        {
            stall.CancelAfter(StallTimeout);
            int n;
            try
            {
                n = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"no data for {StallTimeout.TotalSeconds:F0} s.");
            }
            if (n == 0) break;
            await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            done += n;
            if (done - lastReport >= (1 << 22) || (file.Size is long s && done == s))
            {
                lastReport = done;
                progress?.Report(new HfDownloadProgress(file.Path, done, file.Size));
            }
        }
        progress?.Report(new HfDownloadProgress(file.Path, done, file.Size));
    }

    private HttpRequestMessage Request(string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (_token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        request.Headers.UserAgent.ParseAdd("Eurus.Cpu/0.1");
        return request;
    }

    private async Task<HttpResponseMessage> Send(HttpRequestMessage request, string url, CancellationToken ct, bool allowRangeNotSatisfiable = false)
    {
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (response.IsSuccessStatusCode || (allowRangeNotSatisfiable && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable))
            return response;
        var status = response.StatusCode;
        response.Dispose();
        throw status switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                new HfDownloadException($"{url}: access denied ({(int)status}); the repository may be gated or private: set HF_TOKEN to a token that may read it."),
            HttpStatusCode.NotFound => new HfDownloadException($"{url}: not found (404); check the repository id and revision."),
            _ when (int)status >= 500 => new HttpRequestException($"{url}: server error {(int)status}.", null, status),
            _ => new HfDownloadException($"{url}: the server answered {(int)status} {status}."),
        };
    }

    private static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        byte[] hash = await SHA256.HashDataAsync(fs, ct).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>Releases the HTTP client.</summary>
    public void Dispose()
    {
        _http.Dispose();
    }
}
