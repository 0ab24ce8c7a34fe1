namespace Eurus.Cpu.Tests.Cli;

/// <summary>A test that sends SIGINT with <c>kill</c>: skipped (and reported as skipped) on Windows.</summary>
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows()) Skip = "sends SIGINT with kill, which Windows does not have";
    }
}
