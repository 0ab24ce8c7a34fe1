using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Forward;

/// <summary>Models generated once per test run into a temp folder (deleted at exit).</summary>
internal static class TestModels
{
    private static readonly Lazy<string> Dir = new(() =>
    {
        string d = Path.Combine(Path.GetTempPath(), "eurus-models-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(d, true); } catch (IOException) { } };
        return d;
    });

    private static readonly Dictionary<string, string> Made = [];

    private static string Make(string name, Action<string> write)
    {
        lock (Made)
        {
            if (Made.TryGetValue(name, out var p)) return p;
            p = Path.Combine(Dir.Value, name);
            write(p);
            Made[name] = p;
            return p;
        }
    }

    /// <summary>The demo model converted to F16 by our writer.</summary>
    public static string DemoF16 => Make("kjv-tiny-F16.gguf", p => Convert(TestPaths.F32, p, GgmlType.F16));

    /// <summary>A synthetic GQA model (4 query heads per KV head, head_dim 32) with the demo vocabulary.</summary>
    public static string SyntheticGqa(GgmlType type) => Make($"synthetic-gqa-{type}.gguf", p => SyntheticModel.Write(p, new SyntheticModelOptions
    {
        Dim = 128, Layers = 2, Heads = 4, KvHeads = 1, FeedForward = 256, ContextLength = 512,
        WeightType = type, Seed = 42, VocabularyFrom = TestPaths.Q8,
    }));

    /// <summary>
    /// A small synthetic model with a 32768-token context: a stream that must still be running when the test cancels it
    /// cannot end by filling its context first, however long the test's thread is starved.
    /// </summary>
    public static string SyntheticLongContext => Make("synthetic-long-context.gguf", p => SyntheticModel.Write(p, new SyntheticModelOptions
    {
        Dim = 64, Layers = 2, Heads = 4, KvHeads = 2, FeedForward = 128, ContextLength = 32768,
        WeightType = GgmlType.Q8_0, Seed = 3, VocabularyFrom = TestPaths.Q8,
    }));

    /// <summary>A synthetic model whose file declares a sliding window of 8.</summary>
    public static string SyntheticWindow => Make("synthetic-window.gguf", p => SyntheticModel.Write(p, new SyntheticModelOptions
    {
        Dim = 64, Layers = 2, Heads = 4, KvHeads = 2, FeedForward = 128, ContextLength = 256, SlidingWindow = 8,
        WeightType = GgmlType.F32, Seed = 7, VocabularyFrom = TestPaths.Q8,
    }));

    /// <summary>The demo F32 model quantized by llama.cpp itself (llama_model_quantize, default mixture rules).</summary>
    public static string DemoLlamaQuantized(LLama.Native.LLamaFtype ftype) =>
        Make($"kjv-tiny-llama-{ftype}.gguf", p => Oracle.LlamaOracle.Quantize(TestPaths.F32, p, ftype));

    /// <summary>Like <see cref="DemoLlamaQuantized"/>, but always a new quantization into a new file.</summary>
    public static string FreshLlamaQuantized(LLama.Native.LLamaFtype ftype) =>
        Make($"kjv-tiny-llama-{ftype}-{Guid.NewGuid():N}.gguf", p => Oracle.LlamaOracle.Quantize(TestPaths.F32, p, ftype));

    /// <summary>
    /// A synthetic GQA model whose row lengths are multiples of 256 (as K-quants need), written by our own writer in a
    /// llama-quantize mixture (<see cref="QuantMix"/>), so llama.cpp reads blocks our quantizer made.
    /// </summary>
    public static string SyntheticMix(QuantMix mix) => Make($"synthetic-256-{mix}.gguf", p => SyntheticModel.Write(p, new SyntheticModelOptions
    {
        Dim = 256, Layers = 4, Heads = 8, KvHeads = 2, FeedForward = 512, ContextLength = 512,
        Mix = mix, Seed = 11, VocabularyFrom = TestPaths.Q8,
    }));

    /// <summary>Re-encodes every matrix of <paramref name="src"/> as <paramref name="type"/> (norms stay F32).</summary>
    public static void Convert(string src, string dst, GgmlType type)
    {
        using var f = GgufFile.Open(src);
        var w = new GgufWriter(dst);
        foreach (var (k, v) in f.Metadata)
            w.Add(k, k == "general.file_type" ? GgufValue.Scalar(SyntheticModel.FileType(type)) : v);
        foreach (var t in f.Tensors)
        {
            var tt = t.Dimensions.Count == 2 ? type : t.Type;
            var info = t;
            w.AddTensor(t.Name, tt, t.Dimensions.ToArray(), sink =>
            {
                var row = new float[info.RowLength];
                var bytes = new byte[GgmlTypeInfo.RowBytes(tt, info.RowLength)];
                for (long r = 0; r < info.RowCount; r++)
                {
                    RowCodec.Decode(info.Type, f.GetRowData(info, r), row);
                    RowCodec.Encode(tt, row, bytes);
                    sink.Write(bytes);
                }
            });
        }
        w.Complete();
    }
}
