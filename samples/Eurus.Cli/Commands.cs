using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;

namespace Eurus.Cli;

/// <summary>tokenize, info and perplexity.</summary>
internal static class Commands
{
    /// <summary>eurus tokenize [-m MODEL] -p TEXT</summary>
    public static Command TokenizeCommand()
    {
        var prompt = new Option<string>("--prompt", "-p") { Description = "the text to tokenize", HelpName = "TEXT", Required = true };
        var model = new ModelArgs();
        var command = new Command("tokenize", "print the token ids of a text (with BOS)") { prompt };
        model.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            using var m = await model.LoadAsync(r, cancellationToken: ct);
            Console.Out.WriteLine(string.Join(' ', m.Tokenizer.Encode(r.GetValue(prompt)!, m.Tokenizer.AddBos)));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>eurus info [-m MODEL]</summary>
    public static Command InfoCommand()
    {
        var model = new Option<string?>("--model", "-m") { Description = "a GGUF file (default: the bundled demo model)", HelpName = "MODEL" };
        var command = new Command("info", "print a GGUF file's metadata and tensor table") { model };
        command.SetAction(r =>
        {
            string path = r.GetValue(model) ?? CliApp.DefaultModelPath;
            using var f = GgufFile.Open(path);
            var o = Console.Out;
            o.WriteLine($"file: {f.FilePath}");
            o.WriteLine($"GGUF v{f.Version}, {f.FileLength:N0} bytes, alignment {f.Alignment}, data at {f.DataOffset}");
            o.WriteLine($"metadata ({f.Metadata.Count}):");
            foreach (var (k, v) in f.Metadata) o.WriteLine($"  {k,-44} {v}");
            o.WriteLine($"tensors ({f.Tensors.Count}):");
            o.WriteLine($"  {"name",-32} {"type",-6} {"shape",-16} {"bytes",12}");
            foreach (var t in f.Tensors)
                o.WriteLine($"  {t.Name,-32} {t.Type,-6} {string.Join(" x ", t.Dimensions),-16} {t.ByteSize.ToString("N0", CultureInfo.InvariantCulture),12}");
            long total = f.Tensors.Sum(t => t.ElementCount);
            o.WriteLine($"parameters: {total:N0}");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// eurus perplexity [-m MODEL] -f FILE [-c 128] [--kl-divergence-base FILE [--kl-divergence]]: parsing only; the
    /// computation is <see cref="global::Eurus.Cli.PerplexityCommand"/>.
    /// </summary>
    public static Command PerplexityCommand()
    {
        var file = new Option<string>("--file", "-f") { Description = "the text to score", HelpName = "FILE", Required = true };
        var ctx = new Option<int>("--ctx-size", "-c") { Description = "chunk size in tokens (also the context)", DefaultValueFactory = _ => 128 };
        var kldBase = new Option<string?>("--kl-divergence-base")
        {
            Description = "alone: save this model's log-probabilities to FILE; with --kl-divergence: compare against them",
            HelpName = "FILE",
        };
        var kld = new Option<bool>("--kl-divergence") { Description = "report mean KL divergence, top-token agreement and ΔPPL against --kl-divergence-base" };
        var model = new ModelArgs(withContext: false);
        var command = new Command("perplexity", "llama-perplexity's method; progress on stderr, last line 'perplexity: X' on stdout") { file, ctx, kldBase, kld };
        model.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            string path = r.GetValue(file)!;
            global::Eurus.Cli.PerplexityCommand.CheckArguments(path, r.GetValue(kldBase), r.GetValue(kld));
            int c = r.GetValue(ctx);
            using var m = await model.LoadAsync(r, contextLength: c, cancellationToken: ct);
            return global::Eurus.Cli.PerplexityCommand.Run(m, path, c, r.GetValue(kldBase), r.GetValue(kld), Console.Out, Console.Error);
        });
        return command;
    }
}
