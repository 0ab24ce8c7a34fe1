namespace Eurus.Cpu.Gguf;

/// <summary>
/// A GGUF file is malformed, truncated, hostile, or does not hold what the caller asked for.
/// The message names the file, the byte offset (when known) and what was wrong.
/// </summary>
public sealed class GgufFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public GgufFormatException(string filePath, long offset, string problem, Exception? inner = null)
        : base(Format(filePath, offset, problem), inner)
    {
        FilePath = filePath;
        Offset = offset;
        Problem = problem;
    }

    /// <summary>The file that failed.</summary>
    public string FilePath { get; }

    /// <summary>Byte offset of the problem in the file, or -1 when it is not tied to one place.</summary>
    public long Offset { get; }

    /// <summary>What was wrong, without the file name and offset.</summary>
    public string Problem { get; }

    private static string Format(string filePath, long offset, string problem) =>
        offset >= 0 ? $"{filePath}: at byte {offset}: {problem}" : $"{filePath}: {problem}";
}
