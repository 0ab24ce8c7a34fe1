namespace Eurus.Cpu.HuggingFace;

/// <summary>A file of a hub repository as the API lists it.</summary>
/// <param name="Path">Path in the repository (<c>rfilename</c>).</param>
/// <param name="Size">Size in bytes, when listed.</param>
/// <param name="Sha256">SHA-256 of the content (lower-case hex) for LFS files, when listed.</param>
public sealed record HfRepoFile(string Path, long? Size, string? Sha256);

/// <summary>Progress of a download: the file and its bytes so far.</summary>
/// <param name="File">Repository path of the file.</param>
/// <param name="BytesDone">Bytes on disk so far (including those of an earlier, resumed attempt).</param>
/// <param name="BytesTotal">Size of the file, when known.</param>
public readonly record struct HfDownloadProgress(string File, long BytesDone, long? BytesTotal);
