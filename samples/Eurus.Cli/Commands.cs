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

    /// <summary>eurus perplexity [-m MODEL] -f FILE [-c 128]: parsing only; the computation is <see cref="Perplexity"/>.</summary>
    public static Command PerplexityCommand()
    {
        var file = new Option<string>("--file", "-f") { Description = "the text to score", HelpName = "FILE", Required = true };
        var ctx = new Option<int>("--ctx-size", "-c") { Description = "chunk size in tokens (also the context)", DefaultValueFactory = _ => 128 };
        var model = new ModelArgs(withContext: false);
        var command = new Command("perplexity", "llama-perplexity's method; progress on stderr, last line 'perplexity: X' on stdout") { file, ctx };
        model.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            string path = r.GetValue(file)!;
            if (!File.Exists(path)) throw new CliUsageException($"file not found: {path}");
            int c = r.GetValue(ctx);
            using var m = await model.LoadAsync(r, contextLength: c, cancellationToken: ct);
            return Perplexity(m, path, c);
        });
        return command;
    }

    /// <summary>
    /// llama-perplexity's method: the whole text tokenized with BOS (as llama-perplexity does), cut into chunks of c
    /// tokens whose first token is replaced by BOS, each scored on its second half; progress as <c>[i]ppl,</c> and the
    /// final estimate with its uncertainty on stderr, <c>perplexity: X</c> on stdout.
    /// </summary>
    private static int Perplexity(EurusModel model, string file, int ctx)
    {
        if (ctx < 8 || ctx > model.ContextLength) throw new CliUsageException($"-c must be 8 to {model.ContextLength}.");
        var tokens = model.Tokenizer.Encode(File.ReadAllText(file), addBos: model.Tokenizer.AddBos);
        int chunks = tokens.Length / ctx;
        if (chunks == 0) throw new CliUsageException($"the file has {tokens.Length} tokens, fewer than one chunk of {ctx}.");
        int vocab = model.Config.Vocab;
        var logits = new float[ctx * vocab];
        var chunk = new int[ctx];
        double nll = 0, nll2 = 0;
        int count = 0;
        var sw = Stopwatch.StartNew();
        using var session = model.CreateSession();
        for (int c = 0; c < chunks; c++)
        {
            Array.Copy(tokens, c * ctx, chunk, 0, ctx);
            if (model.Tokenizer.AddBos) chunk[0] = model.Tokenizer.BosId;
            session.Reset();
            session.EvaluateAll(chunk, logits);
            for (int i = ctx / 2; i < ctx - 1; i++)
            {
                var row = logits.AsSpan(i * vocab, vocab);
                float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
                double sum = 0;
                foreach (float l in row) sum += Math.Exp(l - max);
                double v = Math.Log(sum) + max - row[chunk[i + 1]];
                nll += v;
                nll2 += v * v;
                count++;
            }
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"[{c + 1}]{Math.Exp(nll / count):F4},"));
        }
        Console.Error.WriteLine();
        double mean = nll / count, ppl = Math.Exp(mean), variance = nll2 / count - mean * mean;
        if (variance > 0 && count > 1)
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Final estimate: PPL = {ppl:F4} +/- {Math.Sqrt(variance / (count - 1)) * ppl:F5}"));
        Console.Error.WriteLine($"eurus: {chunks} chunks of {ctx} tokens in {sw.Elapsed.TotalSeconds:F2} s");
        Console.Out.WriteLine($"perplexity: {ppl.ToString("F4", CultureInfo.InvariantCulture)}");
        return 0;
    }
}
