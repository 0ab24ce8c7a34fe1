namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// A test that sends SIGINT with <c>kill</c>: skipped (and reported as skipped, with the reason) on Windows, and where
/// this test process ignores SIGINT — started in the background of a non-interactive shell (<c>cmd &amp;</c>,
/// <c>nohup</c>), which makes every child inherit the ignored signal, and .NET does not handle a signal its process
/// started with ignored, so no child could see the Ctrl-C.
/// </summary>
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows()) Skip = "sends SIGINT with kill, which Windows does not have";
        else if (SigIntIgnored()) Skip = "SIGINT is ignored in this process (started in the background of a non-interactive shell), so its children cannot receive Ctrl-C; run the tests in the foreground";
    }

    /// <summary>Whether SIGINT (signal 2) is in this process's ignored set (Linux: /proc/self/status, SigIgn).</summary>
    internal static bool SigIntIgnored()
    {
        if (!OperatingSystem.IsLinux()) return false;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
                return (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (2 - 1))) != 0;
        return false;
    }
}
