using System.Diagnostics;
using System.Globalization;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Quantization;

namespace Eurus.Cli;

/// <summary>convert (HF folder → GGUF), pull (download from a hub), and resolving <c>-m</c> to a folder or <c>hf:ORG/NAME</c>.</summary>
internal static class HfCommands
{
    /// <summary>Options the model-loading commands accept for Hugging Face sources.</summary>
    internal static readonly string[] OptionNames = ["type", "endpoint", "revision", "dir"];

    internal const string TypeNames = "q8_0, q4_0, q5_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, f16, bf16 or f32";

    /// <summary>
    /// A --type value: a single matrix type, or one of llama-quantize's mixtures (q4_k_m, q5_k_m, and q6_k, whose
    /// rules also keep rows that are not a multiple of 256 in Q8_0).
    /// </summary>
    internal static (GgmlType Type, QuantMix? Mix) ParseType(string? text, GgmlType fallback) => text?.ToLowerInvariant() switch
    {
        null => (fallback, null),
        "q8_0" => (GgmlType.Q8_0, null),
        "q4_0" => (GgmlType.Q4_0, null),
        "q5_0" => (GgmlType.Q5_0, null),
        "q4_k" => (GgmlType.Q4_K, null),
        "q5_k" => (GgmlType.Q5_K, null),
        "q6_k" => (GgmlType.Q6_K, QuantMix.Q6_K),
        "q4_k_m" => (GgmlType.Q4_K, QuantMix.Q4_K_M),
        "q5_k_m" => (GgmlType.Q5_K, QuantMix.Q5_K_M),
        "f16" => (GgmlType.F16, null),
        "bf16" => (GgmlType.BF16, null),
        "f32" => (GgmlType.F32, null),
        _ => throw new CliUsageException($"--type must be {TypeNames}, not '{text}'."),
    };

    /// <summary>
    /// The path <c>-m</c> names: a GGUF file, a model folder, or <c>hf:ORG/NAME</c>, which is downloaded first unless
    /// the local copy (in --dir, default ~/.cache/eurus/hf/ORG/NAME) already has config.json and weights.
    /// </summary>
    internal static async Task<string> ResolveModelAsync(CliArgs a, string path)
    {
        if (!path.StartsWith("hf:", StringComparison.Ordinal)) return path;
        string repo = path[3..];
        try { HfHubClient.ValidateRepoId(repo); } catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        string dir = a.Get("dir") ?? DefaultDir(repo);
        if (IsComplete(dir)) return dir;
        return await PullToAsync(a, repo, dir);
    }

    /// <summary>Whether an earlier pull finished: config, weights (every shard the index lists) and no partial files.</summary>
    private static bool IsComplete(string dir)
    {
        if (!HfConverter.IsModelFolder(dir) || Directory.GetFiles(dir, "*.part").Length > 0) return false;
        try
        {
            using var ckpt = Eurus.Cpu.Safetensors.SafetensorsCheckpoint.Open(dir);
            return true;
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return false;
        }
    }

    private static string DefaultDir(string repo) =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "eurus", "hf", repo.Replace('/', Path.DirectorySeparatorChar));

    public static async Task<int> PullAsync(CliArgs a)
    {
        a.Reject([.. OptionNames]);
        if (a.Positional.Count != 1) throw new CliUsageException("pull needs one repository id: eurus pull ORG/NAME [--revision main] [--dir DIR].");
        string repo = a.Positional[0];
        try { HfHubClient.ValidateRepoId(repo); } catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        string dir = await PullToAsync(a, repo, a.Get("dir") ?? DefaultDir(repo));
        Console.Out.WriteLine(dir);
        return 0;
    }

    private static async Task<string> PullToAsync(CliArgs a, string repo, string dir)
    {
        string revision = a.Get("revision") ?? "main";
        using var client = new HfHubClient(a.Get("endpoint"));
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler cancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += cancel;
        try
        {
            Console.Error.WriteLine($"eurus: pulling {repo}@{revision} from {client.Endpoint} into {dir}");
            string? current = null;
            var bar = new ProgressBar("");
            var progress = new SyncProgress<HfDownloadProgress>(p =>
            {
                if (p.File != current)
                {
                    bar.Finish();
                    current = p.File;
                    bar = new ProgressBar(p.File);
                }
                bar.Report(p.BytesTotal is > 0 ? (double)p.BytesDone / p.BytesTotal.Value : 0, p.BytesDone);
            });
            await client.PullAsync(repo, dir, revision, progress, cts.Token);
            bar.Finish();
            return dir;
        }
        finally
        {
            Console.CancelKeyPress -= cancel;
        }
    }

    public static int Convert(CliArgs a)
    {
        a.Reject("o", "output", "type", "t", "threads");
        if (a.Positional.Count != 1) throw new CliUsageException("convert needs one model folder: eurus convert FOLDER -o OUT.gguf [--type TYPE].");
        string folder = a.Positional[0];
        if (!HfConverter.IsModelFolder(folder)) throw new CliUsageException($"{folder} is not a Hugging Face model folder (no config.json).");
        string output = a.Get("o", "output") ?? throw new CliUsageException("convert needs -o OUT.gguf.");
        var (type, mix) = ParseType(a.Get("type"), GgmlType.Q8_0);
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler cancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += cancel;
        try
        {
            var sw = Stopwatch.StartNew();
            var bar = new ProgressBar($"converting to {(mix is { } m ? m.ToString() : type.ToString())}");
            HfConverter.Convert(folder, output, new HfConversionOptions
            {
                WeightType = type,
                Mix = mix,
                Threads = a.GetInt(Environment.ProcessorCount, "t", "threads"),
                Progress = new SyncProgress<double>(f => bar.Report(f, null)),
            }, cts.Token);
            bar.Finish();
            Console.Error.WriteLine($"eurus: wrote {output} ({new FileInfo(output).Length.ToString("N0", CultureInfo.InvariantCulture)} bytes) in {sw.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            Console.CancelKeyPress -= cancel;
        }
        return 0;
    }

    /// <summary>Runs the callback on the reporting thread (Progress&lt;T&gt; would post to the thread pool and reorder).</summary>
    internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>A one-line progress bar on stderr, redrawn at most every 100 ms (plain lines when stderr is redirected).</summary>
    internal sealed class ProgressBar(string label)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastDraw = -1000;
        private int _lastPercent = -1;
        private bool _drawn;

        public void Report(double fraction, long? bytes)
        {
            int percent = (int)Math.Clamp(fraction * 100, 0, 100);
            if (Console.IsErrorRedirected)
            {
                if (percent / 10 == _lastPercent / 10) return;
                _lastPercent = percent;
                Console.Error.WriteLine($"eurus: {label} {percent}%");
                return;
            }
            long now = _clock.ElapsedMilliseconds;
            if (now - _lastDraw < 100 && percent != 100) return;
            _lastDraw = now;
            int filled = percent * 30 / 100;
            string size = bytes is long b ? $" {b / 1048576.0:F1} MiB" : "";
            Console.Error.Write($"\r{label} [{new string('#', filled)}{new string('.', 30 - filled)}] {percent,3}%{size}   ");
            _drawn = true;
        }

        public void Finish()
        {
            if (_drawn && !Console.IsErrorRedirected) Console.Error.WriteLine();
            _drawn = false;
        }
    }
}
