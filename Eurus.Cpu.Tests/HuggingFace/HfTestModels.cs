using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>The demo HF folder converted by our converter, once per test run, into a temp folder deleted at exit.</summary>
internal static class HfTestModels
{
    public static string Folder => TestPaths.Model("kjv-tiny-hf");

    private static readonly Lazy<string> Dir = new(() =>
    {
        string d = Path.Combine(Path.GetTempPath(), "eurus-hf-models-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(d, true); } catch (IOException) { } };
        return d;
    });

    private static readonly Dictionary<GgmlType, string> Made = [];

    /// <summary>The demo folder converted to <paramref name="type"/>.</summary>
    public static string Converted(GgmlType type)
    {
        lock (Made)
        {
            if (Made.TryGetValue(type, out var p)) return p;
            p = Path.Combine(Dir.Value, $"kjv-tiny-hf-{type}.gguf");
            HfConverter.Convert(Folder, p, new HfConversionOptions { WeightType = type, Threads = 2 });
            Made[type] = p;
            return p;
        }
    }

    /// <summary>The shared GGUF of the same type (made by llama.cpp from the unrounded F32 weights).</summary>
    public static string Shared(GgmlType type) => type switch
    {
        GgmlType.F32 => TestPaths.F32,
        GgmlType.Q8_0 => TestPaths.Q8,
        GgmlType.Q4_0 => TestPaths.Q4,
        _ => throw new ArgumentException(type.ToString()),
    };
}
