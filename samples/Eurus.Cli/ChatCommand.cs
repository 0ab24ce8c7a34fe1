using System.CommandLine;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;

namespace Eurus.Cli;

/// <summary>
/// <c>eurus chat</c>: an interactive Mistral-Instruct conversation. Replies go to stdout; prompts, notices and timings to
/// stderr. Ctrl-C stops the reply being written; at the prompt it ends the chat (exit 130).
/// </summary>
internal static class ChatCommand
{
    private const string Usage =
        "End a message with an empty line (a pasted block is one message); put a message with empty lines between two \"\"\" lines.\n" +
        "Commands: /reset, /save FILE, /load FILE, /help, /exit. Ctrl-C stops a reply; Ctrl-C at the prompt or Ctrl-D ends the chat.";

    public static Command Create()
    {
        var system = new Option<string?>("--system-prompt", "-sys")
        {
            Description = "system prompt, put before the first message (Eurus was not trained with one)",
            HelpName = "TEXT",
        };
        var template = new Option<string?>("--template")
        {
            Description = "wrap each message in a prompt of the Eurus model card: code, math-cot or math-pot",
            HelpName = "NAME",
        }.AcceptOnlyFromAmong("code", "math-cot", "math-pot");
        var model = new ModelArgs();
        var sampling = new SamplingArgs();
        var command = new Command("chat", "interactive chat (Mistral-Instruct format): a message ends at an empty line; /reset /save /load /help /exit") { system, template };
        model.AddTo(command);
        sampling.AddTo(command);
        command.SetAction(async (r, _) =>
        {
            var settings = sampling.Read(r);
            Func<string, string> wrap = r.GetValue(template) switch
            {
                "code" => EurusPrompts.Coding,
                "math-cot" => EurusPrompts.MathCot,
                "math-pot" => EurusPrompts.MathPot,
                _ => s => s,
            };
            Interrupt.Install();
            using var m = await model.LoadAsync(r);
            using var chat = new ChatConversation(m, r.GetValue(system));
            return await RunAsync(chat, settings, wrap);
        });
        return command;
    }

    private static async Task<int> RunAsync(ChatConversation chat, SamplingSettings settings, Func<string, string> wrap)
    {
        var err = Console.Error;
        err.WriteLine($"eurus chat: context {chat.ContextLength} tokens. {Usage}");
        var input = new ChatInput(Console.In, err);
        while (input.Read() is var (text, isCommand))
        {
            if (isCommand)
            {
                if (!Command(chat, text)) break;
                continue;
            }
            var cts = Interrupt.Begin();
            try
            {
                await foreach (var piece in chat.SendAsync(wrap(text), settings,
                                   n => err.WriteLine($"eurus: the context is full: dropped the {n} oldest exchange{(n == 1 ? "" : "s")}."), cts.Token))
                {
                    Console.Out.Write(piece);
                    Console.Out.Flush();
                }
                Console.Out.WriteLine();
                if (chat.LastTimings is { } t) err.WriteLine($"eurus: {t}");
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                Console.Out.WriteLine();
                err.WriteLine("eurus: reply interrupted (Ctrl-C again at the prompt ends the chat).");
            }
            catch (ContextFullException e)
            {
                err.WriteLine($"eurus: {e.Message} Send a shorter message, or /reset.");
            }
            finally
            {
                Interrupt.End(cts);
            }
        }
        return ExitCodes.Ok;
    }

    /// <summary>Runs a /command; false ends the chat.</summary>
    private static bool Command(ChatConversation chat, string line)
    {
        var err = Console.Error;
        int space = line.IndexOf(' ');
        string name = space < 0 ? line : line[..space], arg = space < 0 ? "" : line[(space + 1)..].Trim();
        switch (name)
        {
            case "/exit" or "/quit":
                return false;
            case "/reset":
                chat.Reset();
                err.WriteLine("eurus: conversation reset.");
                return true;
            case "/save" when arg.Length > 0:
                try
                {
                    ChatTranscript.Save(arg, chat.SystemPrompt, chat.Turns);
                    err.WriteLine($"eurus: saved {chat.Turns.Count / 2} exchange{(chat.Turns.Count == 2 ? "" : "s")} to {arg}.");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { err.WriteLine($"eurus: cannot save: {e.Message}"); }
                return true;
            case "/load" when arg.Length > 0:
                try
                {
                    var (system, turns) = ChatTranscript.Load(arg);
                    int dropped = chat.Load(system, turns);
                    err.WriteLine($"eurus: loaded {chat.Turns.Count / 2} exchange{(chat.Turns.Count == 2 ? "" : "s")} from {arg}" +
                                  (dropped > 0 ? $" (the {dropped} oldest dropped: the context is too small)." : "."));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or FormatException or ContextFullException)
                {
                    err.WriteLine($"eurus: cannot load: {e.Message}");
                }
                return true;
            case "/help":
                err.WriteLine(Usage);
                return true;
            default:
                err.WriteLine($"eurus: unknown or incomplete command '{line}'. {Usage}");
                return true;
        }
    }
}
