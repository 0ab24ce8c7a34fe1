using System.Diagnostics;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// Runs a harness in-process over committed inputs and seeded mutations of them: what the tests do in CI, where no
/// fuzzer is installed. A crash is rethrown as a <see cref="FuzzCorpusException"/> naming the input (the mutated bytes
/// are saved to a temp file, so that they can be replayed with <c>Eurus.Cpu.Fuzz HARNESS FILE</c> and committed
/// under fuzz/regressions).
/// </summary>
public static class FuzzCorpus
{
    /// <summary>Longest one input may take before it counts as a hang (generous: CI machines are slow and shared).</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(20);

    /// <summary>The files of <paramref name="folder"/> in name order, but dot files (.gitkeep); none when it does not exist.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> Load(string folder) =>
        Directory.Exists(folder)
            ? Directory.GetFiles(folder).Select(f => (Name: Path.GetFileName(f), Path: f)).Where(f => !f.Name.StartsWith('.'))
                .OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => (f.Name, File.ReadAllBytes(f.Path))).ToList()
            : [];

    /// <summary>Runs every input; returns the typed rejection (or null) of each.</summary>
    public static IReadOnlyList<(string Name, Exception? Rejected)> RunAll(IFuzzHarness harness, IReadOnlyList<(string Name, byte[] Bytes)> inputs) =>
        inputs.Select(i => (i.Name, Run(harness, i.Name, i.Bytes))).ToList();

    /// <summary>
    /// Runs up to <paramref name="count"/> mutations of <paramref name="seeds"/> (stopping early after
    /// <paramref name="budget"/>); mutation i of a given <paramref name="seed"/> is always the same bytes. Returns how
    /// many ran and how many were accepted.
    /// </summary>
    public static (int Ran, int Accepted) RunMutations(IFuzzHarness harness, IReadOnlyList<(string Name, byte[] Bytes)> seeds,
        int count, TimeSpan budget, int seed)
    {
        if (seeds.Count == 0) throw new ArgumentException("No seeds to mutate.", nameof(seeds));
        var mutator = new ByteMutator(seed);
        var all = seeds.Select(s => s.Bytes).ToList();
        var sw = Stopwatch.StartNew();
        int ran = 0, accepted = 0;
        for (int i = 0; i < count && sw.Elapsed < budget; i++)
        {
            var (name, bytes) = seeds[i % seeds.Count];
            var input = mutator.Mutate(bytes, all);
            if (Run(harness, $"mutation {i} (seed {seed}) of {name}", input) is null) accepted++;
            ran++;
        }
        return (ran, accepted);
    }

    private static Exception? Run(IFuzzHarness harness, string what, byte[] input)
    {
        try
        {
            return FuzzPolicy.RunTimed(harness, input, HangLimit);
        }
        catch (Exception e)
        {
            string saved = Path.Combine(Path.GetTempPath(), $"eurus-fuzz-crash-{harness.Name}-{Guid.NewGuid():N}.bin");
            File.WriteAllBytes(saved, input);
            throw new FuzzCorpusException($"{harness.Name}: {what} crashed the harness ({input.Length} bytes, saved to {saved}): {e.GetType().Name}: {e.Message}", e);
        }
    }
}

/// <summary>An input that crashed a harness (the inner exception is the crash).</summary>
public sealed class FuzzCorpusException(string message, Exception inner) : Exception(message, inner);
