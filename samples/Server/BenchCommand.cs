using System.Diagnostics;
using System.Globalization;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Server;

/// <summary>
/// <c>eurus-server bench</c>: aggregate decode speed of N concurrent streams through the server's
/// <see cref="BatchedGenerator"/> (in process, no HTTP), for each N asked, beside one <see cref="InferenceSession"/>.
/// </summary>
internal static class BenchCommand
{
    public const string Usage = "usage: eurus-server bench [-m MODEL.gguf] [--streams 1,2,4,8] [-n 64] [-t THREADS] [-r 2]";

    public static async Task<int> RunAsync(string[] args)
    {
        string modelPath = new ServerOptions().ModelPath;
        int[] streams = [1, 2, 4, 8];
        int tokens = 64, threads = Environment.ProcessorCount, repeats = 2;
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int Int(string v) => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int r) && r > 0 ? r : throw new ArgumentException($"{name}: '{v}' is not a positive integer.");
            switch (name)
            {
                case "-m": modelPath = Value(); break;
                case "--streams": streams = Value().Split(',').Select(Int).ToArray(); break;
                case "-n": tokens = Int(Value()); break;
                case "-t": threads = Int(Value()); break;
                case "-r": repeats = Int(Value()); break;
                default: throw new ArgumentException($"unknown option '{name}'. {Usage}");
            }
        }
        string[] prompts = ["And God said", "In the beginning", "The LORD is my shepherd", "Blessed are the meek", "And it came to pass", "Thou shalt not", "Behold", "Then Jesus"];
        int ctx = 16 + tokens;
        using var model = EurusModel.Load(modelPath, new ModelOptions { Threads = threads, ContextLength = ctx });
        Console.Error.WriteLine($"model {Path.GetFileName(modelPath)}, {threads} threads, {tokens} tokens per stream, best of {repeats}");
        var settings = new SamplingSettings { Seed = 1, MaxTokens = tokens, StopAtEos = false };

        // The single-sequence path for reference.
        double single = 0;
        for (int r = 0; r < repeats; r++)
        {
            using var session = model.CreateSession();
            await foreach (var _ in session.GenerateTokensAsync(model.Tokenizer.Encode(prompts[0]), settings)) { }
            single = Math.Max(single, session.LastTimings!.DecodeTokensPerSecond);
        }
        Console.Out.WriteLine("| streams | aggregate decode t/s | per-stream t/s | steps | vs one InferenceSession |");
        Console.Out.WriteLine("|---|---|---|---|---|");
        Console.Out.WriteLine($"| session | {single:F1} | {single:F1} | | 1.00× |");
        foreach (int n in streams)
        {
            double best = 0, perStream = 0;
            long steps = 0;
            for (int r = 0; r < repeats; r++)
            {
                using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = n });
                var handles = Enumerable.Range(0, n).Select(i => gen.Submit(model.Tokenizer.Encode(prompts[i % prompts.Length]), settings with { Seed = (ulong)i })).ToArray();
                // Decode time: from the moment the last prompt was evaluated to the end of the last stream.
                var firstTokens = handles.Select(async h =>
                {
                    long first = -1;
                    await foreach (var _ in h) if (first < 0) first = Stopwatch.GetTimestamp();
                    return (First: first, Last: Stopwatch.GetTimestamp());
                }).ToArray();
                var times = await Task.WhenAll(firstTokens);
                var timings = await Task.WhenAll(handles.Select(h => h.Completion));
                double seconds = Stopwatch.GetElapsedTime(times.Max(t => t.First), times.Max(t => t.Last)).TotalSeconds;
                // Tokens produced after that moment: all but the first of each stream.
                double aggregate = n * (tokens - 1) / seconds;
                if (aggregate > best)
                {
                    best = aggregate;
                    perStream = timings.Average(t => t.DecodeTokensPerSecond);
                    steps = gen.Steps;
                }
            }
            Console.Out.WriteLine($"| {n} | {best:F1} | {perStream:F1} | {steps} | {best / single:F2}× |");
        }
        return 0;
    }
}
