using System.CommandLine;
using System.CommandLine.Invocation;
using Eurus.Cpu.Gguf;

namespace Eurus.Cli;

/// <summary>
/// The <c>eurus</c> command line (System.CommandLine): payload on stdout; progress, timings and errors on stderr;
/// exit code 0 ok, 1 usage or input error, 130 Ctrl-C.
/// </summary>
internal static class CliApp
{
    public static string DefaultModelPath => Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");

    private static readonly Option<bool> Verbose = new("--verbose") { Description = "print stack traces of errors", Recursive = true };

    public static RootCommand CreateRoot()
    {
        var root = new RootCommand(
            "eurus: pure-managed CPU inference for Eurus-7B-KTO and other Mistral/Llama GGUF models.\n" +
            "Without -m the bundled demo model (kjv-tiny Q8_0) is used. -m also takes a Hugging Face folder or hf:ORG/NAME.\n" +
            "Options take '--name value' or '--name=value'. " + ExitCodes.HelpText)
        {
            GenerateCommand.Create(),
            ChatCommand.Create(),
            Commands.TokenizeCommand(),
            Commands.PerplexityCommand(),
            Commands.InfoCommand(),
            BenchCommands.BenchCommand(),
            BenchCommands.SynthCommand(),
            EvalCommands.Create(),
            HfCommands.ConvertCommand(),
            HfCommands.PullCommand(),
        };
        root.Add(Verbose);
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = CreateRoot();
        if (args.Length == 0) args = ["--help"];
        else if (args[0] == "help") args = [.. args[1..], "--help"]; // 'eurus help generate' = 'eurus generate --help'
        // No response files: '@FILE' is an option value (--json-schema @schema.json), as in llama.cpp.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"eurus: {error.Message}");
            string name = parse.CommandResult.Command is RootCommand ? "eurus" : $"eurus {parse.CommandResult.Command.Name}";
            Console.Error.WriteLine($"Try '{name} --help'.");
            return ExitCodes.UsageOrInput;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (OperationCanceledException) when (Interrupt.Requested)
        {
            Console.Error.WriteLine("eurus: interrupted");
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is CliUsageException or GgufFormatException or InsufficientMemoryException or IOException or UnauthorizedAccessException
                                      or ArgumentException or InvalidOperationException or NotSupportedException or FormatException
                                      or OperationCanceledException)
        {
            Console.Error.WriteLine($"eurus: {e.Message}");
            if (parse.GetValue(Verbose)) Console.Error.WriteLine(e);
            return ExitCodes.UsageOrInput;
        }
    }
}
