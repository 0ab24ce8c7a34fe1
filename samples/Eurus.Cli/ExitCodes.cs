namespace Eurus.Cli;

/// <summary>The exit codes of <c>eurus</c> (listed in <c>eurus --help</c> and the README).</summary>
internal static class ExitCodes
{
    /// <summary>The command did its job.</summary>
    public const int Ok = 0;

    /// <summary>Bad arguments, a missing or invalid file, a model that does not load: a one-line message on stderr.</summary>
    public const int UsageOrInput = 1;

    /// <summary>Stopped by Ctrl-C (SIGINT), as shells report a process killed by it (128 + 2).</summary>
    public const int Interrupted = 130;

    public const string HelpText = "Exit codes: 0 ok, 1 usage or input error (message on stderr), 130 interrupted by Ctrl-C.";
}
