namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// Downloading a model from a Hugging Face–compatible hub failed: the repository or a file was not found, access was
/// denied, the listing gave no commit to pin the files to (or another commit than the one asked for) or was larger than
/// <see cref="HfHubClientOptions.MaxListingBytes"/>, a server sent more bytes than a file's listed size (or than
/// <see cref="HfHubClientOptions.MaxUnlistedFileBytes"/>), sent no headers within
/// <see cref="HfHubClientOptions.ResponseHeadersTimeout"/> or stalled for <see cref="HfHubClientOptions.StallTimeout"/>,
/// the transfer kept breaking off, or a file did not match its size or SHA-256. The message says which (naming the
/// option for a limit; a timeout's <see cref="Exception.InnerException"/> is a <see cref="TimeoutException"/>) and
/// whether the partial file was kept for resuming or deleted. Cancellation is an <see cref="OperationCanceledException"/>
/// instead.
/// </summary>
public sealed class HfDownloadException : IOException
{
    /// <summary>Creates the exception.</summary>
    public HfDownloadException(string message, Exception? inner = null) : base(message, inner) { }
}
