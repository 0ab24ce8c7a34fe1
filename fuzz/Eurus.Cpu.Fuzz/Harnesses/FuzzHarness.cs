using System.Reflection;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// One fuzz target: bytes in, then either a normal return (the input was accepted, or rejected with one of the typed
/// errors the API documents) or an exception escaping <see cref="Run"/>, which the fuzzer records as a crash.
/// Harnesses are run one input at a time; an instance may keep state (a temp path, a loaded model) between inputs.
/// </summary>
public interface IFuzzHarness : IDisposable
{
    /// <summary>The name given to the fuzz app and fuzz/run.sh (<c>gguf</c>, <c>safetensors</c>, …).</summary>
    string Name { get; }

    /// <summary>
    /// Runs one input. Returns <c>null</c> when the input was accepted, or the typed exception it was rejected with;
    /// any other exception escapes.
    /// </summary>
    Exception? Run(byte[] input);
}

/// <summary>Which exceptions count as a typed rejection rather than a bug.</summary>
public static class FuzzPolicy
{
    private static readonly Assembly[] Own = [typeof(Eurus.Cpu.Gguf.GgufFile).Assembly];

    /// <summary>
    /// True for an <see cref="ArgumentException"/> (or subclass) that code meant to throw: thrown by a method of
    /// Eurus.Cpu (or of <paramref name="extra"/>), or by a guard of the exception type itself
    /// (<c>ArgumentOutOfRangeException.ThrowIfNegative</c>, …). False for the ones the runtime throws on a bad index
    /// or key (<c>Span.Slice</c>, <c>List[i]</c>, <c>Dictionary.Add</c>: <c>System.ThrowHelper</c>), which are bugs
    /// exactly like <see cref="IndexOutOfRangeException"/>.
    /// </summary>
    public static bool IsDeliberateArgumentException(Exception e, params Assembly[] extra)
    {
        if (e is not ArgumentException) return false;
        var thrower = e.TargetSite?.DeclaringType;
        if (thrower is null) return false;
        if (Own.Contains(thrower.Assembly) || extra.Contains(thrower.Assembly)) return true;
        return typeof(ArgumentException).IsAssignableFrom(thrower);
    }

    /// <summary>Runs <paramref name="input"/> and throws a <see cref="FuzzFinding"/> when it took longer than <paramref name="limit"/>.</summary>
    public static Exception? RunTimed(IFuzzHarness harness, byte[] input, TimeSpan limit)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var result = harness.Run(input);
        if (sw.Elapsed > limit)
            throw new FuzzFinding($"{harness.Name}: one input took {sw.Elapsed.TotalSeconds:F1} s (limit {limit.TotalSeconds:F0} s): a hang or a quadratic path.");
        return result;
    }
}

/// <summary>A problem a harness detects itself (wrong result size, too slow), reported like a crash.</summary>
public sealed class FuzzFinding(string message) : Exception(message);

/// <summary>A private temp folder per harness instance (inputs that must be files are written there).</summary>
internal sealed class FuzzTempDir : IDisposable
{
    public FuzzTempDir(string name)
    {
        // tmpfs when there is one: the GGUF and safetensors harnesses write every input.
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();
        Path = System.IO.Path.Combine(root, $"eurus-fuzz-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
