using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Quantization;

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

    private static readonly Dictionary<string, string> Made = [];

    /// <summary>The demo folder converted to <paramref name="type"/>.</summary>
    public static string Converted(GgmlType type) => Make(type.ToString(), new HfConversionOptions { WeightType = type, Threads = 2 });

    /// <summary>The demo folder converted to llama-quantize's mixture <paramref name="mix"/> (for example Q4_K_M).</summary>
    public static string Converted(QuantMix mix) => Make("mix-" + mix, new HfConversionOptions { Mix = mix, Threads = 2 });

    private static string Make(string key, HfConversionOptions options)
    {
        lock (Made)
        {
            if (Made.TryGetValue(key, out var p)) return p;
            p = Path.Combine(Dir.Value, $"kjv-tiny-hf-{key}.gguf");
            HfConverter.Convert(Folder, p, options);
            Made[key] = p;
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
