namespace Eurus.Cpu.HuggingFace;

/// <summary>A file of a hub repository as the API lists it.</summary>
/// <param name="Path">Path in the repository (<c>rfilename</c>).</param>
/// <param name="Size">Size in bytes, when listed (the LFS size for LFS files). A download must have exactly this size.</param>
/// <param name="Sha256">SHA-256 of the content (lower-case hex) for LFS files, when listed. A download must have this hash.</param>
public sealed record HfRepoFile(string Path, long? Size, string? Sha256);

/// <summary>A repository's files at one commit, as <see cref="HfHubClient.ListFilesAsync"/> returns them.</summary>
/// <param name="Commit">
/// The commit the revision resolved to when listed (the answer's <c>sha</c>: 40 or 64 lower-case hex digits). Pass it as
/// the revision of <see cref="HfHubClient.DownloadAsync"/> so that every file comes from this commit even if the branch
/// moves meanwhile (<see cref="HfHubClient.PullAsync"/> does).
/// </param>
/// <param name="Files">The files of that commit.</param>
public sealed record HfRepoListing(string Commit, IReadOnlyList<HfRepoFile> Files);

/// <summary>Progress of a download: the file and its bytes so far.</summary>
/// <param name="File">Repository path of the file.</param>
/// <param name="BytesDone">Bytes on disk so far (including those of an earlier, resumed attempt).</param>
/// <param name="BytesTotal">Size of the file, when known.</param>
public readonly record struct HfDownloadProgress(string File, long BytesDone, long? BytesTotal);
