using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;

namespace Eurus.Cli;

/// <summary>
/// <c>eurus perplexity</c>, llama-perplexity's computation: the whole text tokenized with BOS, cut into chunks of
/// <c>ctx</c> tokens whose first token becomes BOS, each chunk scored on its second half. With a KL-divergence base
/// file it also saves (<c>--kl-divergence-base FILE</c>) or compares against (<c>--kl-divergence</c>) a base model's
/// log-probabilities over the same tokens: mean KLD, top-token agreement and ΔPPL of the model under test.
/// </summary>
internal static class PerplexityCommand
{
    /// <summary>
    /// Runs the command on a loaded model, its arguments checked first (<see cref="CheckArguments"/>, before loading);
    /// writes progress and statistics to <paramref name="err"/>, results to <paramref name="output"/>.
    /// </summary>
    public static int Run(EurusModel model, string textFile, int ctx, string? kldBase, bool kld, TextWriter output, TextWriter err)
    {
        if (ctx < 8 || ctx > model.ContextLength) throw new CliUsageException($"-c must be 8 to {model.ContextLength}.");
        var tokens = model.Tokenizer.Encode(File.ReadAllText(textFile), addBos: model.Tokenizer.AddBos);
        int chunks = tokens.Length / ctx;
        if (chunks == 0) throw new CliUsageException($"the file has {tokens.Length} tokens, fewer than one chunk of {ctx}.");
        Array.Resize(ref tokens, chunks * ctx);
        int vocab = model.Config.Vocab, first = ctx / 2, rows = ctx - 1 - first;

        using var reader = kld ? KlDivergenceBase.OpenRead(kldBase!, ctx, vocab, tokens) : null;
        using var writer = !kld && kldBase is not null ? KlDivergenceBase.Create(kldBase, ctx, vocab, tokens) : null;
        var stats = kld ? new KlDivergenceStats() : null;

        var logits = new float[ctx * vocab];
        var logProbs = new float[vocab];
        var baseLogProbs = new float[vocab];
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
            for (int i = first; i < first + rows; i++)
            {
                LogSoftmax(logits.AsSpan(i * vocab, vocab), logProbs);
                double v = -logProbs[chunk[i + 1]];
                nll += v;
                nll2 += v * v;
                count++;
                writer?.Write(logProbs);
                if (reader is not null)
                {
                    reader.Read(baseLogProbs);
                    stats!.Add(baseLogProbs, logProbs, chunk[i + 1]);
                }
            }
            err.Write(string.Create(CultureInfo.InvariantCulture, $"[{c + 1}]{Math.Exp(nll / count):F4},"));
        }
        err.WriteLine();
        double mean = nll / count, ppl = Math.Exp(mean), variance = nll2 / count - mean * mean;
        if (variance > 0 && count > 1)
            err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Final estimate: PPL = {ppl:F4} +/- {Math.Sqrt(variance / (count - 1)) * ppl:F5}"));
        err.WriteLine($"eurus: {chunks} chunks of {ctx} tokens in {sw.Elapsed.TotalSeconds:F2} s");
        writer?.Complete();
        if (writer is not null) err.WriteLine($"eurus: saved the log-probabilities of {count} tokens to {kldBase}");
        stats?.Print(output);
        output.WriteLine($"perplexity: {ppl.ToString("F4", CultureInfo.InvariantCulture)}");
        return 0;
    }

    /// <summary>The checks that need no model (made before loading it).</summary>
    public static void CheckArguments(string textFile, string? kldBase, bool kld)
    {
        if (!File.Exists(textFile)) throw new CliUsageException($"file not found: {textFile}");
        if (kld && kldBase is null) throw new CliUsageException("--kl-divergence needs --kl-divergence-base FILE (made by a run of the base model).");
    }

    /// <summary>destination = log softmax(logits), the normaliser in double.</summary>
    private static void LogSoftmax(ReadOnlySpan<float> logits, Span<float> destination)
    {
        float max = TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        float log = (float)Math.Log(sum) + max;
        TensorPrimitives.Subtract(logits, log, destination);
    }
}
