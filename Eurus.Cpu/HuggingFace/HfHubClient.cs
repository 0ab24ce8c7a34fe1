using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Eurus.Cpu.Safetensors;

namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// Downloads model repositories from a Hugging Face–compatible hub. The file list comes from
/// <c>GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true</c> (the commit the revision points to, sizes, and
/// SHA-256 for LFS files); files from <c>GET {endpoint}/{repo}/resolve/{commit}/{path}</c>, by that commit and not by
/// the branch name, so one pull never mixes files of two commits. Each file is written to <c>NAME.part</c>, resumed with
/// an HTTP range request when a partial file is there (or the connection breaks or stalls), never allowed to grow past
/// its listed size, checked against that size and SHA-256, and only then renamed into place; a mismatch deletes the
/// partial file and says so. Waits and reads are bounded by <see cref="HfHubClientOptions"/>; every failure of the hub
/// or the transfer is an <see cref="HfDownloadException"/>, cancellation an <see cref="OperationCanceledException"/>.
/// </summary>
public sealed partial class HfHubClient : IDisposable
{
    /// <summary>The public hub.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    private const int MaxAttempts = 4;

    private readonly HttpClient _http;
    private readonly string _endpoint;
    private readonly string? _token;

    /// <summary>
    /// Creates a client for <paramref name="endpoint"/> (default: the <c>HF_ENDPOINT</c> environment variable, else the
    /// public hub) sending <paramref name="token"/> as a bearer token (default: <c>HF_TOKEN</c>). A
    /// <paramref name="handler"/> replaces the HTTP stack (proxies, tests); the caller keeps ownership of it.
    /// <paramref name="options"/> sets the timeouts and size limits (default: <see cref="HfHubClientOptions"/>'s);
    /// invalid values throw <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public HfHubClient(string? endpoint = null, string? token = null, HttpMessageHandler? handler = null, HfHubClientOptions? options = null)
    {
        options ??= new HfHubClientOptions();
        options.Validate();
        Options = options;
        endpoint ??= Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } e ? e : DefaultEndpoint;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"The hub endpoint '{endpoint}' is not an http(s) URL.", nameof(endpoint));
        _endpoint = endpoint.TrimEnd('/');
        _token = token ?? (Environment.GetEnvironmentVariable("HF_TOKEN") is { Length: > 0 } t ? t : null);
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        // Large files take long: there is no overall timeout. Headers and stalls have their own (Options).
        _http.Timeout = Timeout.InfiniteTimeSpan;
    }

    /// <summary>The timeouts and size limits this client applies.</summary>
    public HfHubClientOptions Options { get; }

    /// <summary>The base URL requests go to.</summary>
    public string Endpoint => _endpoint;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")]
    private static partial Regex RepoIdPattern();

    /// <summary>A full commit id: SHA-1 (40 hex digits) or SHA-256 (64) git object names.</summary>
    [GeneratedRegex(@"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")]
    private static partial Regex CommitPattern();

    /// <summary>Checks a repository id (<c>NAME</c> or <c>ORG/NAME</c>); throws <see cref="ArgumentException"/> when malformed.</summary>
    public static void ValidateRepoId(string repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        if (!RepoIdPattern().IsMatch(repo) || repo.Contains("..", StringComparison.Ordinal))
            throw new ArgumentException($"'{repo}' is not a repository id of the form ORG/NAME.");
    }

    /// <summary>
    /// Lists a repository's files at <paramref name="revision"/> (a branch, tag or commit) and the commit it points to.
    /// Throws <see cref="HfDownloadException"/> when the answer gives no valid commit (files could not be pinned to
    /// one), when <paramref name="revision"/> is a full commit id and the answer names another, when it is larger than
    /// <see cref="HfHubClientOptions.MaxListingBytes"/> (detected without reading past the limit), or when the server
    /// sends no headers or stalls for longer than the options allow.
    /// </summary>
    public async Task<HfRepoListing> ListFilesAsync(string repo, string revision = "main", CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repo);
        ArgumentException.ThrowIfNullOrEmpty(revision);
        string url = $"{_endpoint}/api/models/{repo}/revision/{Uri.EscapeDataString(revision)}?blobs=true";
        using var request = Request(url);
        byte[] body;
        try
        {
            using var response = await Send(request, cancellationToken).ConfigureAwait(false);
            body = await ReadListingAsync(response, url, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or IOException && e is not HfDownloadException
                                  && !cancellationToken.IsCancellationRequested)
        {
            throw new HfDownloadException($"{url}: {e.Message}", e);
        }
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw new HfDownloadException($"{url}: the answer is not valid UTF-8 JSON.");
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("siblings", out var siblings) || siblings.ValueKind != JsonValueKind.Array)
                throw new HfDownloadException($"{url}: the answer lists no 'siblings'; is this a Hugging Face–compatible endpoint?");
            string commit = CommitOf(doc.RootElement, revision, url);
            var files = new List<HfRepoFile>();
            foreach (var s in siblings.EnumerateArray())
            {
                if (s.ValueKind != JsonValueKind.Object || !s.TryGetProperty("rfilename", out var n) || n.ValueKind != JsonValueKind.String) continue;
                long? size = s.TryGetProperty("size", out var sz) && sz.ValueKind == JsonValueKind.Number && sz.TryGetInt64(out long v) ? v : null;
                string? sha = null;
                if (s.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                {
                    if (lfs.TryGetProperty("sha256", out var h) && h.ValueKind == JsonValueKind.String) sha = h.GetString()!.ToLowerInvariant();
                    if (lfs.TryGetProperty("size", out var ls) && ls.ValueKind == JsonValueKind.Number && ls.TryGetInt64(out long lv)) size = lv;
                }
                files.Add(new HfRepoFile(n.GetString()!, size, sha));
            }
            return new HfRepoListing(commit, files);
        }
        catch (JsonException e)
        {
            throw new HfDownloadException($"{url}: the answer is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>The listing's commit (<c>sha</c>), lower-case; refused when missing, malformed, or not the commit asked for.</summary>
    private static string CommitOf(JsonElement root, string revision, string url)
    {
        // No fallback to the branch name: files fetched by a name that can move may come from different commits.
        if (!root.TryGetProperty("sha", out var sha) || sha.ValueKind != JsonValueKind.String)
            throw new HfDownloadException($"{url}: the answer gives no commit ('sha'), so the files cannot be pinned to one commit; refusing to download.");
        string commit = sha.GetString()!;
        if (!CommitPattern().IsMatch(commit))
            throw new HfDownloadException($"{url}: the answer's commit '{commit}' is not a commit id (40 or 64 hex digits).");
        commit = commit.ToLowerInvariant();
        if (CommitPattern().IsMatch(revision) && !string.Equals(revision, commit, StringComparison.OrdinalIgnoreCase))
            throw new HfDownloadException($"{url}: asked for commit {revision.ToLowerInvariant()} but the hub answered with commit {commit}.");
        return commit;
    }

    private async Task<byte[]> ReadListingAsync(HttpResponseMessage response, string url, CancellationToken ct)
    {
        long max = Options.MaxListingBytes;
        string tooLarge = $"{url}: the listing is larger than {max} bytes (HfHubClientOptions.MaxListingBytes); refusing to read it.";
        if (response.Content.Headers.ContentLength > max) throw new HfDownloadException(tooLarge);
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var listing = new MemoryStream();
        var buffer = new byte[1 << 16];
        while (true)
        {
            int n = await ReadAsync(body, buffer, stall, ct).ConfigureAwait(false);
            if (n == 0) return listing.ToArray();
            if (listing.Length + n > max) throw new HfDownloadException(tooLarge);
            listing.Write(buffer, 0, n);
        }
    }

    /// <summary>The files Eurus.Cpu needs from a repository listing: configuration, tokenizer, and the safetensors weights.</summary>
    internal static IEnumerable<HfRepoFile> NeededSmallFiles(IReadOnlyList<HfRepoFile> files) =>
        files.Where(f => f.Path is HfModelConfig.FileName or SentencePieceModel.FileName or "tokenizer_config.json"
            or "special_tokens_map.json" or "added_tokens.json" or "generation_config.json" or SafetensorsCheckpoint.IndexFileName);

    /// <summary>
    /// Downloads what Eurus.Cpu needs of <paramref name="repo"/> at <paramref name="revision"/> into
    /// <paramref name="directory"/>: config.json, tokenizer.model and the small tokenizer files, and the safetensors
    /// weights (the shards the index lists, or model.safetensors). The revision is resolved to a commit once, by the
    /// listing, and every file is downloaded from that commit (<see cref="HfRepoListing.Commit"/>), so the files belong
    /// together even if the branch moves during the pull. Files already complete (size and SHA-256 match) are kept.
    /// Returns the directory. Failures are <see cref="HfDownloadException"/>s (see <see cref="ListFilesAsync"/> and
    /// <see cref="DownloadAsync"/>).
    /// </summary>
    public async Task<string> PullAsync(string repo, string directory, string revision = "main",
        IProgress<HfDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var listing = await ListFilesAsync(repo, revision, cancellationToken).ConfigureAwait(false);
        var files = listing.Files;
        string at = $"{repo}@{revision} (commit {listing.Commit})";
        if (!files.Any(f => f.Path == HfModelConfig.FileName))
            throw new HfDownloadException($"{at} has no {HfModelConfig.FileName}; it is not a transformers model repository.");
        if (!files.Any(f => f.Path == SentencePieceModel.FileName))
            throw new HfDownloadException($"{at} has no {SentencePieceModel.FileName}; Eurus.Cpu needs a SentencePiece vocabulary.");
        Directory.CreateDirectory(directory);
        foreach (var f in NeededSmallFiles(files))
            await DownloadAsync(repo, listing.Commit, f, directory, progress, cancellationToken).ConfigureAwait(false);

        IEnumerable<string> weights;
        string index = Path.Combine(directory, SafetensorsCheckpoint.IndexFileName);
        if (files.Any(f => f.Path == SafetensorsCheckpoint.IndexFileName))
            weights = ShardsOf(index);
        else if (files.Any(f => f.Path == SafetensorsCheckpoint.SingleFileName))
            weights = [SafetensorsCheckpoint.SingleFileName];
        else
            throw new HfDownloadException($"{at} has no safetensors weights ({SafetensorsCheckpoint.SingleFileName} or {SafetensorsCheckpoint.IndexFileName}).");
        foreach (string w in weights)
        {
            var f = files.FirstOrDefault(x => x.Path == w)
                    ?? throw new HfDownloadException($"{at}: the index lists '{w}', which the repository does not have.");
            await DownloadAsync(repo, listing.Commit, f, directory, progress, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// Downloads one file into <paramref name="directory"/> (resuming, verifying; see the class remarks). Pass the
    /// listing's <see cref="HfRepoListing.Commit"/> as <paramref name="revision"/>: a branch name may move between the
    /// listing and the download. The body is never allowed past the file's listed size (or
    /// <see cref="HfHubClientOptions.MaxUnlistedFileBytes"/> when none is listed): a server that sends more fails with an
    /// <see cref="HfDownloadException"/> at once and the partial file is deleted. One that sends less, breaks off, sends
    /// no headers within <see cref="HfHubClientOptions.ResponseHeadersTimeout"/> or stalls for
    /// <see cref="HfHubClientOptions.StallTimeout"/> is retried with a range request (4 tries), then fails with an
    /// <see cref="HfDownloadException"/> saying why and keeping the partial file for the next run. A partial file of a
    /// file without a listed SHA-256 is not resumed from an earlier run (nothing could tell whether its bytes belong to
    /// this commit).
    /// </summary>
    public async Task DownloadAsync(string repo, string revision, HfRepoFile file, string directory,
        IProgress<HfDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repo);
        ArgumentException.ThrowIfNullOrEmpty(revision);
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(directory);
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
        if (file.Sha256 is null && File.Exists(part)) File.Delete(part);

        string url = $"{_endpoint}/{repo}/resolve/{Uri.EscapeDataString(revision)}/{Uri.EscapeDataString(file.Path)}";
        long limit = file.Size ?? Options.MaxUnlistedFileBytes;
        Exception? last = null;
        for (int attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            long have = File.Exists(part) ? new FileInfo(part).Length : 0;
            if (have > limit) { File.Delete(part); have = 0; }
            if (file.Size is long s2 && have == s2 && have > 0) break; // complete from an earlier run; verify below
            try
            {
                await FetchAsync(url, file, part, have, limit, progress, cancellationToken).ConfigureAwait(false);
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
            throw new HfDownloadException($"downloading {file.Path} from {url} failed {MaxAttempts} times ({got} bytes kept in {part}; run again to resume): {last.Message}", last);
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

    /// <summary>
    /// Appends the body of one request to <paramref name="part"/> (or rewrites it when the server ignores the range).
    /// Throws <see cref="HfDownloadException"/> (no retry) and deletes the partial file when the body would pass
    /// <paramref name="limit"/> bytes; throws IOException/TimeoutException for what a retry may cure.
    /// </summary>
    private async Task FetchAsync(string url, HfRepoFile file, string part, long have, long limit, IProgress<HfDownloadProgress>? progress, CancellationToken ct)
    {
        using var request = Request(url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        using var response = await Send(request, ct, allowRangeNotSatisfiable: true).ConfigureAwait(false);
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
        string tooLong = $"{file.Path}: {url} sent more than the {limit} bytes " +
                         (file.Size is null ? "allowed for a file the listing gives no size for (HfHubClientOptions.MaxUnlistedFileBytes)" : "the listing gives")
                         + "; the partial file was deleted.";
        if (have + response.Content.Headers.ContentLength > limit)
        {
            // Announced too long: refused before a byte is read.
            if (File.Exists(part)) File.Delete(part);
            throw new HfDownloadException(tooLong);
        }
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        var buffer = new byte[1 << 20];
        long done = have;
        long lastReport = 0;
        bool overflow = false;
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using (var output = new FileStream(part, mode, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            while (true)
            {
                int n = await ReadAsync(body, buffer, stall, ct).ConfigureAwait(false);
                if (n == 0) break;
                if (done + n > limit)
                {
                    overflow = true; // the bytes past the limit are never written
                    break;
                }
                await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                done += n;
                if (done - lastReport >= (1 << 22) || (file.Size is long s && done == s))
                {
                    lastReport = done;
                    progress?.Report(new HfDownloadProgress(file.Path, done, file.Size));
                }
            }
        }
        if (overflow)
        {
            File.Delete(part);
            throw new HfDownloadException(tooLong);
        }
        progress?.Report(new HfDownloadProgress(file.Path, done, file.Size));
    }

    /// <summary>
    /// One read of a response body, failing with <see cref="TimeoutException"/> when no byte comes for
    /// <see cref="HfHubClientOptions.StallTimeout"/>. <paramref name="stall"/> is linked to <paramref name="ct"/> and
    /// serves every read of one body (its timer is restarted per read).
    /// </summary>
    private async ValueTask<int> ReadAsync(Stream body, Memory<byte> buffer, CancellationTokenSource stall, CancellationToken ct)
    {
        stall.CancelAfter(Options.StallTimeout);
        try
        {
            return await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && stall.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new TimeoutException($"the server sent no data for {Seconds(Options.StallTimeout)} (HfHubClientOptions.StallTimeout).", e);
        }
    }

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s";

    private HttpRequestMessage Request(string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (_token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        request.Headers.UserAgent.ParseAdd("Eurus.Cpu/0.1");
        return request;
    }

    /// <summary>
    /// Sends <paramref name="request"/> and waits for the headers only, at most
    /// <see cref="HfHubClientOptions.ResponseHeadersTimeout"/> (then <see cref="TimeoutException"/>). Statuses a retry
    /// cannot cure throw <see cref="HfDownloadException"/>; server errors (5xx) throw <see cref="HttpRequestException"/>.
    /// </summary>
    private async Task<HttpResponseMessage> Send(HttpRequestMessage request, CancellationToken ct, bool allowRangeNotSatisfiable = false)
    {
        string url = request.RequestUri!.OriginalString;
        HttpResponseMessage response;
        using (var headers = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            headers.CancelAfter(Options.ResponseHeadersTimeout);
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"no response headers within {Seconds(Options.ResponseHeadersTimeout)} (HfHubClientOptions.ResponseHeadersTimeout).", e);
            }
        }
        if (response.IsSuccessStatusCode || (allowRangeNotSatisfiable && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable))
            return response;
        var status = response.StatusCode;
        response.Dispose();
        throw status switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                new HfDownloadException($"{url}: access denied ({(int)status}); the repository may be gated or private: set HF_TOKEN to a token that may read it."),
            HttpStatusCode.NotFound => new HfDownloadException($"{url}: not found (404); check the repository id and revision."),
            _ when (int)status >= 500 => new HttpRequestException($"server error {(int)status}.", null, status),
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
