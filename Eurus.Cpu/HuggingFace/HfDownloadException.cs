namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// Downloading a model from a Hugging Face–compatible hub failed: the repository or a file was not found, access was
/// denied, the transfer kept breaking off, or a file did not match its size or SHA-256 (the message says whether the
/// partial file was kept for resuming or deleted).
/// </summary>
public sealed class HfDownloadException : IOException
{
    /// <summary>Creates the exception.</summary>
    public HfDownloadException(string message, Exception? inner = null) : base(message, inner) { }
}
