namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// A file of a Hugging Face model folder (<c>config.json</c>, <c>tokenizer.model</c>, <c>tokenizer_config.json</c>, …)
/// is malformed or describes a model Eurus.Cpu cannot run. The message names the file and what was wrong.
/// </summary>
public sealed class HuggingFaceFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public HuggingFaceFormatException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file that failed.</summary>
    public string FilePath { get; }

    /// <summary>What was wrong, without the file name.</summary>
    public string Problem { get; }
}
