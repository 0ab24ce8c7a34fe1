using Eurus.Cpu.Fuzzing;
using SharpFuzz;

// Eurus.Cpu.Fuzz HARNESS                 fuzz under AFL++ (fuzz/run.sh starts it that way, in an instrumented publish)
// Eurus.Cpu.Fuzz HARNESS FILE|DIR...     run inputs in-process and print each outcome; exit 1 if any crashed (triage)
// Eurus.Cpu.Fuzz seeds DIR               write the generated seed corpora to DIR/<harness>/
// HARNESS: gguf, safetensors, sentencepiece, server-request

string[] names = ["gguf", "safetensors", "sentencepiece", "server-request"];

if (args is ["seeds", var outDir])
{
    foreach (var (seedHarness, file, bytes) in Seeds.All())
    {
        string dir = Path.Combine(outDir, seedHarness);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, file), bytes);
        Console.WriteLine($"{seedHarness}/{file}: {bytes.Length} bytes");
    }
    return 0;
}

if (args.Length == 0 || !names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: Eurus.Cpu.Fuzz {{{string.Join('|', names)}}} [FILE|DIR...]  |  Eurus.Cpu.Fuzz seeds DIR");
    return 2;
}

if (args.Length == 1)
{
    // Under afl-fuzz. The harness is made on the first input, in the process SharpFuzz runs the inputs in.
    IFuzzHarness? h = null;
    Fuzzer.OutOfProcess.Run(stream =>
    {
        h ??= Create(args[0]);
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        h.Run(ms.ToArray());
    });
    return 0;
}

// Triage: every file given, or every file of every folder given.
using var harness = Create(args[0]);
var files = args[1..].SelectMany(p => Directory.Exists(p)
    ? Directory.GetFiles(p).Where(f => !Path.GetFileName(f).StartsWith('.') && Path.GetFileName(f) != "README.txt").Order(StringComparer.Ordinal)
    : new[] { p }.AsEnumerable()).ToList();
int crashes = 0;
foreach (var f in files)
{
    try
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var rejected = harness.Run(File.ReadAllBytes(f));
        Console.WriteLine($"{f}: {(rejected is null ? "accepted" : $"rejected: {rejected.GetType().Name}: {rejected.Message}")} ({sw.Elapsed.TotalMilliseconds:F0} ms)");
    }
    catch (Exception e)
    {
        crashes++;
        Console.WriteLine($"{f}: CRASH {e}");
    }
}
Console.WriteLine($"{files.Count} inputs, {crashes} crashed.");
return crashes == 0 ? 0 : 1;

static IFuzzHarness Create(string name) => name switch
{
    "gguf" => new GgufHarness(),
    "safetensors" => new SafetensorsHarness(),
    "sentencepiece" => new SentencePieceHarness(),
    "server-request" => new ServerRequestHarness(),
    _ => throw new ArgumentException($"unknown harness '{name}'"),
};
