using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Quantization;
using Eurus.Cpu.Safetensors;
using Eurus.Cpu.Sampling;
using Xunit.Abstractions;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>The HF → GGUF converter against the shared GGUF files made by llama.cpp's tools from the same weights.</summary>
public class HfConversionTests(ITestOutputHelper output)
{
    internal static readonly string[] Prompts =
    [
        "And God said",
        "In the beginning God created the heaven and the earth. And the earth was without form, and void;",
        "Jesus wept. 12345 é — [INST] hello [/INST]\n\nThe LORD is my shepherd; I shall not want.",
    ];

    [Fact]
    public void PermutationMatchesReshapeSwapaxes()
    {
        // llama.cpp: w.reshape(heads, 2, rows/heads/2, cols).swapaxes(1, 2).reshape(rows, cols), written out by index.
        foreach (var (rows, heads) in new[] { (256, 8), (64, 2), (8, 1), (12, 3) })
        {
            int half = rows / heads / 2;
            var expected = new long[rows];
            int r = 0;
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < half; i++)
                    for (int j = 0; j < 2; j++)
                        expected[r++] = h * 2 * half + j * half + i;
            for (int row = 0; row < rows; row++)
                Assert.Equal(expected[row], HfConverter.SourceRow(row, rows, heads));
        }
        Assert.Equal(5, HfConverter.SourceRow(5, 64, 0));
    }

    [Fact]
    public void ConvertedF32IsTheSharedF32RoundedToBf16TensorByTensor()
    {
        using var ours = GgufFile.Open(HfTestModels.Converted(GgmlType.F32));
        using var shared = GgufFile.Open(TestPaths.F32);
        Assert.Equal(shared.Tensors.Select(t => (t.Name, t.Type, string.Join("x", t.Dimensions))),
            ours.Tensors.Select(t => (t.Name, t.Type, string.Join("x", t.Dimensions))));
        foreach (var t in shared.Tensors)
        {
            var o = ours.GetTensor(t.Name);
            for (long r = 0; r < t.RowCount; r++)
            {
                var a = shared.GetRow<float>(t, r);
                var b = ours.GetRow<float>(o, r);
                for (int i = 0; i < a.Length; i++)
                {
                    // The HF folder holds the same weights rounded to BF16 (round to nearest even).
                    float rounded = BitConverter.UInt32BitsToSingle((uint)FloatConversion.SingleToBFloat16(a[i]) << 16);
                    if (rounded != b[i])
                        Assert.Fail($"{t.Name} row {r} col {i}: ours {b[i]}, shared {a[i]} (BF16 {rounded})");
                }
            }
        }
        // Metadata: every key of the shared file is there with the same value (we add sliding_window and a name).
        foreach (var (k, v) in shared.Metadata)
        {
            if (k is "general.name") continue;
            Assert.True(ours.Metadata.ContainsKey(k), $"missing {k}");
            Assert.Equal(v.ToString(), ours.Metadata[k].ToString());
        }
        Assert.Equal(256u, ours.Metadata.GetUInt32("llama.attention.sliding_window"));
    }

    public static TheoryData<GgmlType, double> Types() => new()
    {
        { GgmlType.F32, 0.01 },
        { GgmlType.Q8_0, 0.04 },
        { GgmlType.Q4_0, 0.08 },
    };

    /// <summary>
    /// Our engine on our converted file against our engine on the shared file of the same type. The shared files hold
    /// the weights before BF16 rounding (and were quantized from them), so logits differ by that rounding: measured max
    /// |Δ| / range is 0.37% (F32), 1.6% (Q8_0), 4.1% (Q4_0); the bounds leave about 2× room. The greedy continuations
    /// must agree except at a genuine near-tie (measured margins where they part: at most 0.07% of the range).
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public async Task LogitsAndGreedyContinuationsMatchTheSharedGguf(GgmlType type, double tolerance)
    {
        var options = new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 32 };
        using var ours = EurusModel.Load(HfTestModels.Converted(type), options);
        using var shared = EurusModel.Load(HfTestModels.Shared(type), options);
        int vocab = ours.Config.Vocab;
        double worst = 0;
        foreach (var prompt in Prompts)
        {
            var ids = ours.Tokenizer.Encode(prompt);
            Assert.Equal(shared.Tokenizer.Encode(prompt), ids);
            var a = Logits(ours, ids);
            var b = Logits(shared, ids);
            for (int p = 0; p < ids.Length; p++)
            {
                var x = a.AsSpan(p * vocab, vocab);
                var y = b.AsSpan(p * vocab, vocab);
                float range = System.Numerics.Tensors.TensorPrimitives.Max(y) - System.Numerics.Tensors.TensorPrimitives.Min(y);
                float maxDiff = 0;
                for (int i = 0; i < vocab; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(x[i] - y[i]));
                worst = Math.Max(worst, maxDiff / range);
            }
        }
        Assert.True(worst <= tolerance, $"{type}: max |Δ| / range = {worst:F4} > {tolerance}");

        int identical = 0;
        foreach (var prompt in new[] { "And God said", "The LORD is my shepherd", "And it came to pass", "Blessed are the poor in spirit" })
        {
            var ids = ours.Tokenizer.Encode(prompt);
            var x = await Greedy(ours, ids, 32);
            var y = await Greedy(shared, ids, 32);
            int split = Enumerable.Range(0, 32).FirstOrDefault(i => x[i] != y[i], -1);
            if (split < 0) { identical++; continue; }
            // Where they part, the shared model's own margin between the two tokens must be small.
            var row = Logits(shared, ids.Concat(y.Take(split)).ToArray())[^vocab..];
            float range = row.Max() - row.Min();
            float gap = row[y[split]] - row[x[split]];
            output.WriteLine($"{type} '{prompt}': parted at token {split}, shared model's margin {gap / range:F4} of the range");
            Assert.True(gap <= 5e-3f * range, $"{type} '{prompt}': parted at token {split} with margin {gap} (range {range})");
        }
        output.WriteLine($"{type}: max |Δ| / range {worst:F4}, {identical} of 4 greedy continuations identical");
        Assert.True(identical >= 1, $"{type}: none of 4 continuations identical");
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.F16)]
    public void LoadingTheFolderDirectlyEqualsLoadingTheConvertedFile(GgmlType type)
    {
        string converted = HfTestModels.Converted(type);
        double last = -1;
        var options = new ModelOptions { Threads = 2, ContextLength = 256, BatchSize = 32, WeightType = type };
        using var direct = EurusModel.Load(HfTestModels.Folder, options with { LoadProgress = new Sync(p => last = p) });
        using var file = EurusModel.Load(converted, options);
        Assert.Equal(1.0, last);
        Assert.Equal(Path.GetFullPath(HfTestModels.Folder), direct.SourcePath);
        Assert.Equal(file.Config, direct.Config);
        Assert.Equal(256, direct.SlidingWindow);
        Assert.Equal(file.ChatTemplate, direct.ChatTemplate);
        foreach (var prompt in Prompts)
        {
            var ids = direct.Tokenizer.Encode(prompt);
            Assert.Equal(file.Tokenizer.Encode(prompt), ids);
            Assert.Equal(Logits(file, ids), Logits(direct, ids));
        }
        if (OperatingSystem.IsLinux()) Assert.False(File.Exists(direct.FilePath), "the temporary GGUF should be unlinked once mapped");
    }

    /// <summary>
    /// <c>eurus convert --type q4_k_m|q5_k_m|q6_k</c>: every matrix gets the type llama-quantize gives it when it quantizes
    /// our F32 conversion of the same folder, the file type is llama.cpp's, and each quantized row decodes to within
    /// llama.cpp's own squared error (our K-quantizer follows its reference algorithm, so most blocks are byte-identical).
    /// </summary>
    [Theory]
    [InlineData(QuantMix.Q4_K_M, LLama.Native.LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData(QuantMix.Q5_K_M, LLama.Native.LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData(QuantMix.Q6_K, LLama.Native.LLamaFtype.MOSTLY_Q6_K)]
    public void MixtureConversionMatchesLlamaQuantize(QuantMix mix, LLama.Native.LLamaFtype ftype)
    {
        using var dir = TestPaths.Temp();
        string theirsPath = dir.File("llama.gguf");
        Oracle.LlamaOracle.Quantize(HfTestModels.Converted(GgmlType.F32), theirsPath, ftype);
        using var ours = GgufFile.Open(HfTestModels.Converted(mix));
        using var theirs = GgufFile.Open(theirsPath);
        using var f32 = GgufFile.Open(HfTestModels.Converted(GgmlType.F32));
        Assert.Equal(theirs.Metadata.GetUInt32("general.file_type"), ours.Metadata.GetUInt32("general.file_type"));
        Assert.Equal(theirs.Tensors.Select(t => (t.Name, t.Type)).OrderBy(t => t.Name), ours.Tensors.Select(t => (t.Name, t.Type)).OrderBy(t => t.Name));
        Assert.Contains(ours.Tensors, t => t.Type == GgmlType.Q6_K);
        long blocks = 0, same = 0;
        foreach (var t in ours.Tensors.Where(t => t.Dimensions.Count == 2))
        {
            var their = theirs.GetTensor(t.Name);
            var src = f32.GetTensor(t.Name);
            int cols = (int)t.RowLength, blockBytes = GgmlTypeInfo.BlockBytes(t.Type);
            var row = new float[cols];
            var a = new float[cols];
            var b = new float[cols];
            double errOurs = 0, errTheirs = 0;
            for (long r = 0; r < t.RowCount; r += Math.Max(1, t.RowCount / 64))
            {
                RowCodec.Decode(GgmlType.F32, f32.GetRowData(src, r), row);
                RowCodec.Decode(t.Type, ours.GetRowData(t, r), a);
                RowCodec.Decode(t.Type, theirs.GetRowData(their, r), b);
                for (int i = 0; i < cols; i++)
                {
                    errOurs += (double)(a[i] - row[i]) * (a[i] - row[i]);
                    errTheirs += (double)(b[i] - row[i]) * (b[i] - row[i]);
                }
                var x = ours.GetRowData(t, r);
                var y = theirs.GetRowData(their, r);
                for (int k = 0; k + blockBytes <= x.Length; k += blockBytes, blocks++)
                    if (x.Slice(k, blockBytes).SequenceEqual(y.Slice(k, blockBytes))) same++;
            }
            Assert.True(errOurs <= errTheirs * 1.01 + 1e-12, $"{mix} {t.Name} ({t.Type}): squared error {errOurs} vs llama.cpp's {errTheirs}");
        }
        output.WriteLine($"{mix}: {same}/{blocks} sampled blocks byte-identical to llama-quantize's");
        Assert.True(same * 2 > blocks, $"{mix}: only {same} of {blocks} blocks byte-identical");
    }

    [Fact]
    public void PureTypesFallBackWhereRowsDoNotFitAndUnwritableTypesAreRefused()
    {
        using var dir = TestPaths.Temp();
        HfConverter.Convert(HfTestModels.Folder, dir.File("q5k.gguf"), new HfConversionOptions { WeightType = GgmlType.Q5_K, Threads = 2 });
        using (var g = GgufFile.Open(dir.File("q5k.gguf")))
        {
            Assert.All(g.Tensors.Where(t => t.Dimensions.Count == 2), t => Assert.Equal(GgmlType.Q5_K, t.Type));
            Assert.Equal(16u, g.Metadata.GetUInt32("general.file_type"));
        }
        // Rows of 96 fit 32-element blocks but not 256-element super-blocks: K-quants fall back to Q8_0, Q4_0 stays.
        Assert.Equal(GgmlType.Q8_0, HfConverter.MatrixType(GgmlType.Q4_K, null, "blk.0.ffn_up.weight", 4, 96, true));
        Assert.Equal(GgmlType.Q4_0, HfConverter.MatrixType(GgmlType.Q4_0, null, "blk.0.ffn_up.weight", 4, 96, true));
        Assert.Equal(GgmlType.F16, HfConverter.MatrixType(GgmlType.Q4_0, null, "blk.0.ffn_up.weight", 4, 100, true));
        Assert.Equal(GgmlType.Q5_0, HfConverter.MatrixType(GgmlType.F32, QuantMix.Q4_K_M, "blk.1.ffn_up.weight", 4, 96, true));
        Assert.Equal(GgmlType.Q8_0, HfConverter.MatrixType(GgmlType.F32, QuantMix.Q5_K_M, "blk.1.ffn_up.weight", 4, 96, true));
        Assert.Equal(GgmlType.Q6_K, HfConverter.MatrixType(GgmlType.F32, QuantMix.Q4_K_M, "output.weight", 4, 256, true));
        foreach (var bad in new[] { GgmlType.Q8_K, GgmlType.I8, (GgmlType)999 })
            Assert.Throws<ArgumentException>(() => HfConverter.Convert(HfTestModels.Folder, dir.File("x.gguf"), new HfConversionOptions { WeightType = bad }));
        Assert.Throws<ArgumentOutOfRangeException>(() => HfConverter.Convert(HfTestModels.Folder, dir.File("x.gguf"), new HfConversionOptions { Mix = (QuantMix)42 }));
        Assert.False(File.Exists(dir.File("x.gguf")));
    }

    [Fact]
    public void ConversionIsDeterministicAcrossThreadCounts()
    {
        using var dir = TestPaths.Temp();
        foreach (var type in new[] { GgmlType.Q4_0, GgmlType.BF16 })
        {
            HfConverter.Convert(HfTestModels.Folder, dir.File("a.gguf"), new HfConversionOptions { WeightType = type, Threads = 1 });
            HfConverter.Convert(HfTestModels.Folder, dir.File("b.gguf"), new HfConversionOptions { WeightType = type, Threads = 3 });
            Assert.Equal(File.ReadAllBytes(dir.File("a.gguf")), File.ReadAllBytes(dir.File("b.gguf")));
        }
        // BF16 output is the checkpoint's own bits: every matrix row equals the safetensors row.
        using var g = GgufFile.Open(dir.File("b.gguf"));
        using var st = SafetensorsFile.Open(Path.Combine(HfTestModels.Folder, "model.safetensors"));
        var v = g.GetTensor("blk.3.ffn_down.weight");
        var s = st.GetTensor("model.layers.3.down_proj.weight");
        for (long r = 0; r < v.RowCount; r++) Assert.True(g.GetRowData(v, r).SequenceEqual(st.GetRowData(s, r)));
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length); // no temporary files left behind
    }

    [Fact]
    public void TiedEmbeddingsAndBadCheckpointsAreHandled()
    {
        using var dir = TestPaths.Temp();
        foreach (var f in Directory.GetFiles(HfTestModels.Folder)) File.Copy(f, dir.File(Path.GetFileName(f)));
        string config = File.ReadAllText(dir.File("config.json"));

        // Tied: no output.weight in the GGUF; the engine uses the embedding table for the output.
        File.WriteAllText(dir.File("config.json"), config.Replace("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true"));
        RewriteWithout(dir.File("model.safetensors"), "lm_head.weight");
        HfConverter.Convert(dir.Path, dir.File("tied.gguf"), new HfConversionOptions { WeightType = GgmlType.F32 });
        using (var g = GgufFile.Open(dir.File("tied.gguf"))) Assert.False(g.TryGetTensor("output.weight", out _));
        using (var m = EurusModel.Load(dir.File("tied.gguf"))) Assert.NotEmpty(Logits(m, [1, 100]));

        // Untied but lm_head missing: the error names the tensor; no output file appears.
        File.WriteAllText(dir.File("config.json"), config);
        var e = Assert.Throws<SafetensorsFormatException>(() => HfConverter.Convert(dir.Path, dir.File("x.gguf")));
        Assert.Equal("lm_head.weight", e.TensorName);
        Assert.False(File.Exists(dir.File("x.gguf")));

        // config.json disagreeing with the tensor shapes.
        File.WriteAllText(dir.File("config.json"), config.Replace("\"intermediate_size\": 768", "\"intermediate_size\": 512"));
        e = Assert.Throws<SafetensorsFormatException>(() => HfConverter.Convert(dir.Path, dir.File("x.gguf")));
        Assert.Contains("gate_proj", e.TensorName);
        Assert.Contains("does not match", e.Message);

        // Cancellation leaves nothing behind.
        File.WriteAllText(dir.File("config.json"), config);
        File.Copy(Path.Combine(HfTestModels.Folder, "model.safetensors"), dir.File("model.safetensors"), overwrite: true);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => HfConverter.Convert(dir.Path, dir.File("x.gguf"), null, cts.Token));
        Assert.DoesNotContain(Directory.GetFiles(dir.Path), f => f.EndsWith(".gguf") && !f.EndsWith("tied.gguf") || f.EndsWith(".tmp"));
    }

    /// <summary>Writes the safetensors file again without one tensor (data of the others kept, offsets shifted).</summary>
    private static void RewriteWithout(string path, string drop)
    {
        string copy = path + ".orig";
        File.Move(path, copy);
        WriteSubset(copy, path, name => name != drop);
        File.Delete(copy);
    }

    /// <summary>Writes the tensors of <paramref name="source"/> whose names pass <paramref name="keep"/> to a new safetensors file.</summary>
    private static void WriteSubset(string source, string destination, Func<string, bool> keep)
    {
        var kept = new List<(string Name, string DType, long[] Shape, byte[] Data)>();
        using (var f = SafetensorsFile.Open(source))
            foreach (var t in f.Tensors.Where(t => keep(t.Name)))
            {
                var data = new byte[t.ByteSize];
                f.ReadRowsFromDisk(t, 0, (int)t.RowCount, data);
                kept.Add((t.Name, t.DType.ToString(), t.Shape.ToArray(), data));
            }
        var header = new System.Text.StringBuilder("{");
        long offset = 0;
        foreach (var k in kept)
        {
            header.Append($"\"{k.Name}\":{{\"dtype\":\"{k.DType}\",\"shape\":[{string.Join(",", k.Shape)}],\"data_offsets\":[{offset},{offset + k.Data.Length}]}},");
            offset += k.Data.Length;
        }
        header[^1] = '}';
        File.WriteAllBytes(destination, Safetensors.SafetensorsBuilder.Raw(header.ToString(), kept.SelectMany(k => k.Data).ToArray()));
    }

    [Fact]
    public void AShardedCheckpointConvertsToTheSameFileAsTheSingleOne()
    {
        using var dir = TestPaths.Temp();
        foreach (var f in Directory.GetFiles(HfTestModels.Folder).Where(f => !f.EndsWith(".safetensors")))
            File.Copy(f, dir.File(Path.GetFileName(f)));
        string single = Path.Combine(HfTestModels.Folder, "model.safetensors");
        static bool First(string name) => name.StartsWith("model.layers.0.") || name.StartsWith("model.layers.1.") || name == "model.embed_tokens.weight";
        WriteSubset(single, dir.File("model-00001-of-00002.safetensors"), First);
        WriteSubset(single, dir.File("model-00002-of-00002.safetensors"), n => !First(n));
        using (var st = SafetensorsFile.Open(single))
        {
            var map = st.Tensors.ToDictionary(t => t.Name, t => First(t.Name) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
            File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName),
                System.Text.Json.JsonSerializer.Serialize(new { metadata = new { total_size = st.Tensors.Sum(t => t.ByteSize) }, weight_map = map }));
        }
        HfConverter.Convert(dir.Path, dir.File("sharded.gguf"), new HfConversionOptions { WeightType = GgmlType.Q8_0, Threads = 2 });
        // general.name differs (folder names), so compare everything after the header: the tensor data.
        using var a = GgufFile.Open(dir.File("sharded.gguf"));
        using var b = GgufFile.Open(HfTestModels.Converted(GgmlType.Q8_0));
        Assert.Equal(b.Tensors.Count, a.Tensors.Count);
        foreach (var t in b.Tensors)
            Assert.True(a.GetTensorData(a.GetTensor(t.Name)).SequenceEqual(b.GetTensorData(t)), t.Name);
    }

    internal static float[] Logits(EurusModel model, int[] ids)
    {
        using var session = model.CreateSession();
        var logits = new float[ids.Length * model.Config.Vocab];
        session.EvaluateAll(ids, logits);
        return logits;
    }

    private static async Task<int[]> Greedy(EurusModel model, int[] ids, int n)
    {
        using var session = model.CreateSession();
        var output = new List<int>();
        await foreach (var t in session.GenerateTokensAsync(ids, SamplingSettings.Greedy with { MaxTokens = n, StopAtEos = false }))
            if (t.Id >= 0) output.Add(t.Id);
        return output.ToArray();
    }

    private sealed class Sync(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
