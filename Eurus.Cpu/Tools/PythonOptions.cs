namespace Eurus.Cpu.Tools;

/// <summary>How <see cref="PythonInterpreter"/> runs code.</summary>
public sealed record PythonOptions
{
    /// <summary>The Python 3 executable: a name looked up on PATH or a full path (default <c>python3</c>).</summary>
    public string PythonPath { get; init; } = "python3";

    /// <summary>Wall-clock limit per code cell (default 5 s, as in the paper's evaluation).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most characters of output kept per cell; the rest is counted and dropped (default 10,000).</summary>
    public int MaxOutputChars { get; init; } = 10_000;

    /// <summary>
    /// Optional cap on the interpreter's address space in bytes (Linux/macOS, <c>RLIMIT_AS</c>): code that allocates more
    /// gets a <c>MemoryError</c>. Null (the default) sets none; libraries that reserve much virtual memory (NumPy with
    /// many threads) need a generous value.
    /// </summary>
    public long? MaxMemoryBytes { get; init; }

    /// <summary>
    /// Working directory of the interpreter. Null (the default) creates a fresh temporary directory that is deleted
    /// when the interpreter is disposed.
    /// </summary>
    public string? WorkingDirectory { get; init; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(PythonPath)) throw new ArgumentException("PythonPath is empty.");
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromHours(1)) throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "Timeout must be positive and at most an hour.");
        if (MaxMemoryBytes is < 64L << 20) throw new ArgumentOutOfRangeException(nameof(MaxMemoryBytes), MaxMemoryBytes, "MaxMemoryBytes must be at least 64 MiB.");
        if (MaxMemoryBytes is not null && OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("MaxMemoryBytes is supported on Linux and macOS only.");
        if (MaxOutputChars < 1) throw new ArgumentOutOfRangeException(nameof(MaxOutputChars), MaxOutputChars, "MaxOutputChars must be positive.");
    }
}
