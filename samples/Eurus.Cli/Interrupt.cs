namespace Eurus.Cli;

/// <summary>
/// Ctrl-C (SIGINT) handling: while an operation is running (<see cref="Begin"/>), Ctrl-C cancels it and the command
/// winds down (generation stops within one token) and exits 130. When nothing is running — chat waiting at its prompt —
/// or when the operation was already cancelled, Ctrl-C exits 130 at once.
/// </summary>
internal static class Interrupt
{
    private static CancellationTokenSource? _current;
    private static int _installed;

    /// <summary>Whether Ctrl-C has been pressed during this run.</summary>
    public static bool Requested { get; private set; }

    /// <summary>Starts an interruptible operation; Ctrl-C cancels the returned source's token.</summary>
    public static CancellationTokenSource Begin()
    {
        Install();
        var cts = new CancellationTokenSource();
        Volatile.Write(ref _current, cts);
        return cts;
    }

    /// <summary>Ends the operation <see cref="Begin"/> started: Ctrl-C exits at once again.</summary>
    public static void End(CancellationTokenSource cts) => Interlocked.CompareExchange(ref _current, null, cts);

    /// <summary>Makes Ctrl-C exit at once even when no operation is running (chat's prompt).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0) Console.CancelKeyPress += OnCancelKeyPress;
    }

    private static void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true;
        Requested = true;
        var cts = Volatile.Read(ref _current);
        if (cts is null || cts.IsCancellationRequested)
        {
            Console.Error.WriteLine();
            Environment.Exit(ExitCodes.Interrupted);
        }
        cts.Cancel();
    }
}
