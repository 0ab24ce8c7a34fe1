namespace Eurus.Cpu.Safetensors;

/// <summary>
/// A safetensors file (or a sharded checkpoint's index) is malformed, truncated, hostile, or holds a tensor the
/// engine cannot use. The message names the file and, when the problem concerns one, the tensor.
/// </summary>
public sealed class SafetensorsFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public SafetensorsFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : base(Format(filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>The file that failed.</summary>
    public string FilePath { get; }

    /// <summary>The tensor concerned, or null when the problem is not about one tensor.</summary>
    public string? TensorName { get; }

    /// <summary>What was wrong, without the file and tensor names.</summary>
    public string Problem { get; }

    private static string Format(string filePath, string? tensor, string problem) =>
        tensor is null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{tensor}': {problem}";
}
