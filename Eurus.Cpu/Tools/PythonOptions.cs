namespace Eurus.Cpu.Tools;

/// <summary>
/// How <see cref="PythonInterpreter"/> runs code. The limits below are resource limits (<c>setrlimit</c>) that the
/// interpreter sets on itself before the first cell, inherited by every process a cell starts; they apply on Linux and
/// macOS and are ignored on Windows. Null turns one off. They bound accidents, not an attacker: a process running as root
/// may raise them again (and the kernel does not apply <c>RLIMIT_NPROC</c> to root at all).
/// </summary>
public sealed record PythonOptions
{
    /// <summary>
    /// The Python 3 executable: a name looked up on PATH or a full path (default <c>python3</c>). With a
    /// <see cref="Launcher"/>, the name or path as the launcher sees it (e.g. inside the container).
    /// </summary>
    public string PythonPath { get; init; } = "python3";

    /// <summary>Wall-clock limit per code cell (default 5 s, as in the paper's evaluation).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most characters of output kept per cell; the rest is counted and dropped (default 10,000).</summary>
    public int MaxOutputChars { get; init; } = 10_000;

    /// <summary>
    /// Cap on the address space of each process in bytes (<c>RLIMIT_AS</c>; default 2 GiB): code that allocates more
    /// gets a <c>MemoryError</c>. Libraries that reserve much virtual memory (NumPy with many threads) may need more.
    /// </summary>
    public long? MaxMemoryBytes { get; init; } = 2L << 30;

    /// <summary>
    /// CPU time each process may use over its whole life (<c>RLIMIT_CPU</c>; default 5 minutes), a backstop for
    /// processes that escape the per-cell clean-up. The interpreter accumulates CPU time over all its cells: when it
    /// reaches the limit it is killed and restarted like after a crash (its variables are lost).
    /// </summary>
    public TimeSpan? MaxCpuTime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Largest file a process may write, in bytes (<c>RLIMIT_FSIZE</c>; default 256 MiB): a bigger write fails with
    /// <c>OSError: File too large</c>. A per-file limit, not a disk quota.
    /// </summary>
    public long? MaxFileBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Most processes a cell may run at once (default 128). Linux: the host checks every 100 ms while a cell runs and,
    /// past the limit, kills everything like on a timeout (the result says why). For a user other than root, the
    /// interpreter also sets <c>RLIMIT_NPROC</c> to this many tasks above what the user runs already, so that fork fails
    /// early (that limit counts threads too).
    /// </summary>
    public int? MaxProcesses { get; init; } = 128;

    /// <summary>
    /// A command that runs the interpreter, e.g. a container or a jail: the interpreter is started as
    /// <c>Launcher[0] Launcher[1..] PythonPath -I …</c>, so the last element is usually a separator such as <c>--</c>.
    /// <c>{WorkingDirectory}</c> in an element is replaced by the working directory (to mount it). Null (the default)
    /// starts <see cref="PythonPath"/> directly. The launcher gets the same scrubbed environment (PATH, LANG, HOME and
    /// TMPDIR); it must pass stdin and stdout through, and, when it is killed, end what it started (true of
    /// <c>nsjail</c>, <c>bwrap --die-with-parent</c>, <c>unshare --kill-child</c>; not of a <c>docker run</c> client,
    /// whose container outlives it unless a wrapper script removes it). What runs inside is the launcher's to contain:
    /// the host sees and kills only the processes it can see.
    /// </summary>
    public IReadOnlyList<string>? Launcher { get; init; }

    /// <summary>
    /// Working directory of the interpreter, also its HOME and TMPDIR. Null (the default) creates a fresh temporary
    /// directory that is deleted when the interpreter is disposed.
    /// </summary>
    public string? WorkingDirectory { get; init; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(PythonPath)) throw new ArgumentException("PythonPath is empty.");
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromHours(1)) throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "Timeout must be positive and at most an hour.");
        if (MaxMemoryBytes is < 64L << 20) throw new ArgumentOutOfRangeException(nameof(MaxMemoryBytes), MaxMemoryBytes, "MaxMemoryBytes must be at least 64 MiB.");
        if (MaxCpuTime is { } cpu && (cpu < TimeSpan.FromSeconds(1) || cpu > TimeSpan.FromDays(1)))
            throw new ArgumentOutOfRangeException(nameof(MaxCpuTime), MaxCpuTime, "MaxCpuTime must be between 1 s and a day.");
        if (MaxFileBytes is < 1L << 20) throw new ArgumentOutOfRangeException(nameof(MaxFileBytes), MaxFileBytes, "MaxFileBytes must be at least 1 MiB.");
        if (MaxProcesses is < 1) throw new ArgumentOutOfRangeException(nameof(MaxProcesses), MaxProcesses, "MaxProcesses must be at least 1.");
        if (MaxOutputChars < 1) throw new ArgumentOutOfRangeException(nameof(MaxOutputChars), MaxOutputChars, "MaxOutputChars must be positive.");
        if (Launcher is not null && (Launcher.Count == 0 || string.IsNullOrWhiteSpace(Launcher[0]) || Launcher.Any(a => a is null)))
            throw new ArgumentException("Launcher must name a command (its first element) and hold no null elements.", nameof(Launcher));
    }
}
