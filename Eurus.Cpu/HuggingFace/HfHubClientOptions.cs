namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// Limits of an <see cref="HfHubClient"/>: how long it waits for a server and how many bytes it accepts. Each limit
/// that is hit ends the request with an <see cref="HfDownloadException"/> naming the limit, never a hang or an
/// unbounded read. The defaults suit the public hub; tests use much shorter timeouts.
/// </summary>
public sealed record HfHubClientOptions
{
    /// <summary>
    /// Longest wait for a response's status line and headers after sending a request (default 30 s). A file download
    /// that times out is retried like a broken transfer (4 tries per file); the listing is not retried.
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever.
    /// </summary>
    public TimeSpan ResponseHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longest time a response body may send no bytes at all (default 60 s); slow but moving transfers are never cut
    /// off. A stalled file download keeps its partial file and is resumed (4 tries per file); a stalled listing fails.
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever.
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Most bytes of a repository listing (the model-info answer) that are read (default 8 MiB, enough for tens of
    /// thousands of files). A larger listing is refused as soon as its <c>Content-Length</c> or its first byte past the
    /// limit says so, without reading the rest.
    /// </summary>
    public long MaxListingBytes { get; init; } = 8L << 20;

    /// <summary>
    /// Most bytes accepted for a file the listing gives no size for (default 64 MiB: such files are normally small
    /// configuration files; the hub lists a size for every file, and weights always have one). Files with a listed size
    /// are capped at exactly that size. 0 refuses every non-empty file without a listed size.
    /// </summary>
    public long MaxUnlistedFileBytes { get; init; } = 64L << 20;

    internal void Validate()
    {
        CheckTimeout(ResponseHeadersTimeout, nameof(ResponseHeadersTimeout));
        CheckTimeout(StallTimeout, nameof(StallTimeout));
        if (MaxListingBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxListingBytes), MaxListingBytes, "The listing limit must be at least 1 byte.");
        if (MaxUnlistedFileBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxUnlistedFileBytes), MaxUnlistedFileBytes, "The limit must not be negative.");
    }

    private static void CheckTimeout(TimeSpan value, string name)
    {
        // CancellationTokenSource.CancelAfter takes at most 2^32 - 2 ms.
        if (value != Timeout.InfiniteTimeSpan && (value <= TimeSpan.Zero || value.TotalMilliseconds > uint.MaxValue - 1))
            throw new ArgumentOutOfRangeException(name, value, "A timeout must be positive (at most 49 days) or Timeout.InfiniteTimeSpan.");
    }
}
