using System.Globalization;
using Eurus.Cpu.Generation;
using Spectre.Console;

namespace Eurus.Cli;

/// <summary>
/// What <c>eurus</c> draws on stderr with Spectre.Console: progress bars (only when stderr is a terminal, so logs and
/// redirected runs get no control characters) and the timings table after a generation.
/// </summary>
internal static class ConsoleUi
{
    /// <summary>Whether progress bars are drawn: stderr is a terminal.</summary>
    public static bool Live { get; } = !Console.IsErrorRedirected;

    /// <summary>stderr as a Spectre console (colours and live rendering only on a terminal).</summary>
    public static IAnsiConsole Err { get; } = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
        Ansi = Live ? AnsiSupport.Detect : AnsiSupport.No,
        ColorSystem = Live ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        Interactive = Live ? InteractionSupport.Yes : InteractionSupport.No,
    });

    /// <summary>
    /// Runs <paramref name="work"/>, which reports a fraction from 0 to 1, under a progress bar with elapsed time and
    /// ETA (or without one when stderr is not a terminal).
    /// </summary>
    public static T WithProgress<T>(string label, Func<IProgress<double>, T> work)
    {
        if (!Live) return work(new SyncProgress<double>(_ => { }));
        return NewProgress(new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), maxValue: 1.0);
                var result = work(new SyncProgress<double>(f => task.Value = Math.Clamp(f, 0, 1)));
                task.Value = task.MaxValue;
                return result;
            });
    }

    /// <summary>
    /// Runs <paramref name="work"/>, which reports bytes of named files, with one bar per file showing the size, speed
    /// and ETA (or without bars when stderr is not a terminal).
    /// </summary>
    public static async Task<T> WithTransfersAsync<T>(Func<IProgress<(string File, long Done, long? Total)>, Task<T>> work)
    {
        if (!Live) return await work(new SyncProgress<(string, long, long?)>(_ => { }));
        return await NewProgress(new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                var result = await work(new SyncProgress<(string File, long Done, long? Total)>(p =>
                {
                    if (!tasks.TryGetValue(p.File, out var task))
                        tasks[p.File] = task = ctx.AddTask(Markup.Escape(p.File), maxValue: Math.Max(1, p.Total ?? 1));
                    if (p.Total is long total) { task.IsIndeterminate = false; task.MaxValue = Math.Max(1, total); }
                    else task.IsIndeterminate = true;
                    task.Value = p.Done;
                }));
                foreach (var t in tasks.Values) t.StopTask();
                return result;
            });
    }

    private static Progress NewProgress(params ProgressColumn[] tail) =>
        Err.Progress().AutoClear(false).HideCompleted(false)
           .Columns([new TaskDescriptionColumn(), new ProgressBarColumn(), .. tail, new SpinnerColumn()]);

    /// <summary>llama.cpp's closing timings: prompt eval and eval with tokens, ms, ms per token and tokens per second.</summary>
    public static void WriteTimings(GenerationTimings t)
    {
        var table = new Table().Border(Live ? TableBorder.Rounded : TableBorder.Ascii)
            .AddColumn("")
            .AddColumn(new TableColumn("tokens").RightAligned())
            .AddColumn(new TableColumn("ms").RightAligned())
            .AddColumn(new TableColumn("ms/token").RightAligned())
            .AddColumn(new TableColumn("tokens/s").RightAligned());
        Row(table, "prompt eval", t.PromptTokens, t.PromptSeconds);
        Row(table, "eval", t.GeneratedTokens, t.DecodeSeconds);
        Row(table, "total", t.PromptTokens + t.GeneratedTokens, t.PromptSeconds + t.DecodeSeconds);
        table.Caption($"finish: {t.FinishReason}");
        Err.Write(table);
    }

    private static void Row(Table table, string name, int tokens, double seconds)
    {
        string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        double ms = seconds * 1000;
        table.AddRow(name, tokens.ToString(CultureInfo.InvariantCulture), F(ms),
            tokens > 0 ? F(ms / tokens) : "-", tokens > 0 && seconds > 0 ? F(tokens / seconds) : "-");
    }
}
