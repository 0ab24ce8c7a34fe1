namespace Eurus.Cli;

internal static class Commands
{
    public static Task<int> RunAsync(CliArgs a) => throw new CliUsageException($"unknown command '{a.Command}'. Try 'eurus help'.");
}
