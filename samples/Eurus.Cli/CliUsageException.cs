namespace Eurus.Cli;

/// <summary>A usage error the parser cannot see (a value out of range, a missing file): exit code 1 with its message.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
