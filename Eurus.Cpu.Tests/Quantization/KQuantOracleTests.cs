using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;
using Eurus.Cpu.Tests.Forward;
using LLama.Native;
using Xunit.Abstractions;

namespace Eurus.Cpu.Tests.Quantization;

/// <summary>
/// Our K-quant quantizer and mixture rules against llama.cpp's (llama_model_quantize on the demo F32 model):
/// every tensor gets the type llama.cpp chose, and our blocks decode to within llama.cpp's own error of the F32 weights.
/// </summary>
public class KQuantOracleTests(ITestOutputHelper output)
{
    public static TheoryData<LLamaFtype, QuantMix> Mixes() => new()
    {
        { LLamaFtype.MOSTLY_Q4_K_M, QuantMix.Q4_K_M },
        { LLamaFtype.MOSTLY_Q5_K_M, QuantMix.Q5_K_M },
        { LLamaFtype.MOSTLY_Q6_K, QuantMix.Q6_K },
        { LLamaFtype.MOSTLY_Q4_0, QuantMix.Q4_0 },
        { LLamaFtype.MOSTLY_Q5_0, QuantMix.Q5_0 },
    };

    [Theory]
    [MemberData(nameof(Mixes))]
    public void MixtureRulesGiveLlamaCppsTensorTypes(LLamaFtype ftype, QuantMix mix)
    {
        using var f = GgufFile.Open(TestModels.DemoLlamaQuantized(ftype));
        int layers = (int)f.Metadata.GetUInt32("llama.block_count");
        bool hasOutput = f.TryGetTensor("output.weight", out _);
        Assert.Equal(QuantMixRules.FileType(mix), f.Metadata.GetUInt32("general.file_type"));
        foreach (var t in f.Tensors.Where(t => t.Dimensions.Count == 2))
            Assert.True(QuantMixRules.TensorType(mix, t.Name, layers, t.RowLength, hasOutput) == t.Type,
                $"{mix}: {t.Name} is {t.Type} in llama.cpp's file, our rules say {QuantMixRules.TensorType(mix, t.Name, layers, t.RowLength, hasOutput)}");
        if (mix is QuantMix.Q4_K_M or QuantMix.Q5_K_M)
            Assert.Contains(f.Tensors, t => t.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal) && t.Type == GgmlType.Q6_K);
    }

    /// <summary>
    /// For every K-quant (and Q5_0) tensor llama.cpp wrote: our quantization of the same F32 rows has a squared error at most 1%
    /// above llama.cpp's, and (same reference algorithm) most blocks are byte-identical.
    /// </summary>
    /// <remarks>
    /// One full CI run (of many) read a file in which a whole tensor of llama.cpp's output decoded to NaN — which
    /// llama.cpp's own row validation forbids it to write — so the oracle's file, not our quantizer, was wrong. When
    /// llama.cpp's blocks decode to non-finite values, the test reports what it found (whether the bytes on disk equal the
    /// mapped ones) and checks against a fresh llama.cpp quantization instead; it fails if that one is bad too.
    /// </remarks>
    [Theory]
    [InlineData(LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData(LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData(LLamaFtype.MOSTLY_Q6_K)]
    [InlineData(LLamaFtype.MOSTLY_Q5_0)]
    public void OurBlocksDecodeWithinLlamaCppsError(LLamaFtype ftype)
    {
        string path = TestModels.DemoLlamaQuantized(ftype);
        if (CompareWithLlamaCpp(path) is { } corrupt)
        {
            string note = $"llama.cpp's {ftype} file {path}: {corrupt}; checking a fresh quantization instead.";
            output.WriteLine(note);
            Console.Error.WriteLine("KQuantOracleTests: " + note);
            Assert.Null(CompareWithLlamaCpp(TestModels.FreshLlamaQuantized(ftype)));
        }
    }

    /// <summary>Asserts the comparison; returns a description when llama.cpp's own blocks decode to non-finite values.</summary>
    private string? CompareWithLlamaCpp(string path)
    {
        using var src = GgufFile.Open(TestPaths.F32);
        using var q = GgufFile.Open(path);
        int checkedTensors = 0;
        foreach (var t in q.Tensors.Where(t => t.Type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q5_0))
        {
            var s = src.GetTensor(t.Name);
            int cols = (int)t.RowLength, blockBytes = GgmlTypeInfo.BlockBytes(t.Type), blockElements = GgmlTypeInfo.BlockElements(t.Type);
            var row = new float[cols];
            var theirs = new float[cols];
            var ours = new float[cols];
            var ourBytes = new byte[GgmlTypeInfo.RowBytes(t.Type, cols)];
            double errTheirs = 0, errOurs = 0;
            long blocks = 0, same = 0;
            long stride = Math.Max(1, t.RowCount / 256); // a spread of rows keeps the debug-build run short
            for (long r = 0; r < t.RowCount; r += stride)
            {
                RowCodec.Decode(s.Type, src.GetRowData(s, r), row);
                var theirBytes = q.GetRowData(t, r);
                RowCodec.Decode(t.Type, theirBytes, theirs);
                if (!AllFinite(theirs)) return $"{t.Name} ({t.Type}) row {r} decodes to non-finite values; " + DiskVersusMap(path, q, t, r);
                RowCodec.Encode(t.Type, row, ourBytes);
                RowCodec.Decode(t.Type, ourBytes, ours);
                for (int i = 0; i < cols; i++)
                {
                    errTheirs += (double)(theirs[i] - row[i]) * (theirs[i] - row[i]);
                    errOurs += (double)(ours[i] - row[i]) * (ours[i] - row[i]);
                }
                for (int b = 0; b < cols / blockElements; b++, blocks++)
                    if (theirBytes.Slice(b * blockBytes, blockBytes).SequenceEqual(ourBytes.AsSpan(b * blockBytes, blockBytes))) same++;
            }
            output.WriteLine($"{t.Name} {t.Type}: squared error ours {errOurs:G4}, llama.cpp {errTheirs:G4}; {same}/{blocks} blocks byte-identical");
            Assert.True(errOurs <= errTheirs * 1.01 + 1e-12, $"{t.Name} ({t.Type}): our squared error {errOurs} > llama.cpp's {errTheirs}");
            Assert.True(same >= blocks * 0.9, $"{t.Name} ({t.Type}): only {same}/{blocks} blocks are byte-identical to llama.cpp's");
            checkedTensors++;
        }
        Assert.True(checkedTensors > 0);
        return null;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values) if (!float.IsFinite(v)) return false;
        return true;
    }

    /// <summary>Whether the row's bytes read from disk now equal the mapped ones (tells a bad file from a bad view).</summary>
    private static string DiskVersusMap(string path, GgufFile q, GgufTensorInfo t, long r)
    {
        var mapped = q.GetRowData(t, r);
        long offset = t.FileOffset + r * mapped.Length;
        var disk = new byte[mapped.Length];
        using (var fs = File.OpenRead(path))
        {
            fs.Position = offset;
            fs.ReadExactly(disk);
        }
        return mapped.SequenceEqual(disk) ? "the bytes on disk are the mapped bytes" : "the bytes on disk differ from the mapped bytes";
    }
}
