using System.CommandLine;

namespace Eurus.Cli;

/// <summary><c>eurus generate</c>: the continuation of a prompt on stdout, the timings table on stderr.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string?>("--prompt", "-p") { Description = "the prompt text (sent as is: no chat template)", HelpName = "PROMPT" };
        var file = new Option<string?>("--file", "-f") { Description = "read the prompt from this file", HelpName = "FILE" };
        var model = new ModelArgs();
        var sampling = new SamplingArgs();
        var command = new Command("generate", "print the generated text (not the prompt); --temp 0 is greedy; Ctrl-C stops it (exit 130)") { prompt, file };
        model.AddTo(command);
        sampling.AddTo(command);
        command.SetAction(async (r, _) =>
        {
            string? p = r.GetValue(prompt), f = r.GetValue(file);
            if (p is not null && f is not null) throw new CliUsageException("give the prompt with -p or -f, not both.");
            if (f is not null && !File.Exists(f)) throw new CliUsageException($"file not found: {f}");
            string text = p ?? (f is not null ? await File.ReadAllTextAsync(f) : throw new CliUsageException("generate needs -p PROMPT (or -f FILE)."));
            var settings = sampling.Read(r);
            var cts = Interrupt.Begin();
            try
            {
                using var m = await model.LoadAsync(r, cancellationToken: cts.Token);
                using var session = m.CreateSession();
                return await RunAsync(session, text, settings, cts.Token);
            }
            finally { Interrupt.End(cts); }
        });
        return command;
    }

    private static async Task<int> RunAsync(Eurus.Cpu.Generation.InferenceSession session, string prompt, Eurus.Cpu.Sampling.SamplingSettings settings, CancellationToken ct)
    {
        var stdout = Console.Out;
        bool interrupted = false;
        try
        {
            await foreach (var piece in session.GenerateAsync(prompt, settings, ct))
            {
                stdout.Write(piece);
                stdout.Flush();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            interrupted = true;
        }
        stdout.WriteLine();
        stdout.Flush();
        if (session.LastTimings is { } t) ConsoleUi.WriteTimings(t);
        if (interrupted) Console.Error.WriteLine("eurus: interrupted");
        return interrupted ? ExitCodes.Interrupted : ExitCodes.Ok;
    }
}
