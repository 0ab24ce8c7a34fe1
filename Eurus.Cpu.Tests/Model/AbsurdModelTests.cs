using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Tests.Forward;

namespace Eurus.Cpu.Tests.Model;

/// <summary>
/// Consistent-but-absurd models: every header key agrees with every tensor shape, only the numbers are extreme (head
/// dimension 1 or 2, 514 or 1024 heads, GQA 256:1, a 2^24..2^31 context, a 2^22 vocabulary, a 2^20 FFN, a batch of
/// 4096, one layer, 0 dimensions). Each either runs a forward pass that agrees with the plain reference
/// (<see cref="NaiveMistral"/>) or fails at load with a typed exception that names the numbers — never an
/// AccessViolation (which would kill the test process), never a hang, never a silent wrong answer.
/// </summary>
public sealed class AbsurdModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eurus-absurd-").FullName;

    public void Dispose()
    {
        GC.Collect();
        try { Directory.Delete(_dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The case of the issue: 514 heads of dimension 2 over a 2^24 context wrapped Heads × capacity in 32 bits. With the
    /// default context (4096) the file loads and runs; asking for its whole context fails at load, naming the numbers.
    /// </summary>
    [Fact]
    public void FiveHundredFourteenHeadsOverA2To24ContextFailAtLoadAndRunWithTheDefaultContext()
    {
        string path = new CraftedModel { Dim = 1028, Heads = 514, KvHeads = 2, FeedForward = 8, Context = 1 << 24 }.Write(_dir, "heads514");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 1 << 24 }));
        Assert.Contains("head_count (514)", e.Message);
        Assert.Contains("16777216 KV positions", e.Message);
        // The user's way out, named in the message, works: a context that fits runs, and runs right.
        Assert.Contains("ContextLength", e.Message);
        RunsLikeTheReference(path, new ModelOptions { Threads = 2, ContextLength = 64 });
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2 });
        Assert.Equal(ModelOptions.DefaultContextLength, model.ContextLength);
    }

    /// <summary>Files whose trained context overflows an array load with the default context and refuse their whole context.</summary>
    [Theory]
    [InlineData(256, 8, "KV width (256")]
    [InlineData(256, 128, "head_count (128)")]
    public void TrainedContextsPastAnArrayLoadWithTheDefaultAndRefuseTheWholeContext(int dim, int heads, string expected)
    {
        string path = new CraftedModel { Dim = dim, Heads = heads, KvHeads = heads == 8 ? 8 : 1, FeedForward = 2, Context = 1 << 24 }.Write(_dir, $"past-{heads}");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 1 << 24 }));
        Assert.Contains(expected, e.Message);
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2 });
        Assert.Equal(4096, model.ContextLength);
    }

    public static TheoryData<string, CraftedModel, int, int> Running => new()
    {
        { "head dim 2", new CraftedModel { Dim = 8, Heads = 4, KvHeads = 2 }, 64, 5 },
        { "GQA 256:1, head dim 2", new CraftedModel { Dim = 512, Heads = 256, KvHeads = 1, FeedForward = 8 }, 64, 5 },
        { "1024 heads, one layer", new CraftedModel { Dim = 2048, Heads = 1024, KvHeads = 4, FeedForward = 8 }, 64, 3 },
        { "context 2^24", new CraftedModel { Dim = 4, Heads = 2, KvHeads = 1, Context = 1 << 24 }, 64, 5 },
        { "context 2^24 behind a window", new CraftedModel { Dim = 4, Heads = 2, KvHeads = 1, Context = 1 << 24, SlidingWindow = 3 }, 2, 7 },
        { "vocabulary 2^22", new CraftedModel { Dim = 2, Heads = 1, KvHeads = 1, FeedForward = 4, Vocab = 1 << 22 }, 64, 3 },
        { "FFN 2^20", new CraftedModel { Dim = 2, Heads = 1, KvHeads = 1, FeedForward = 1 << 20 }, 4, 3 },
        { "batch 4096", new CraftedModel { Dim = 8, Heads = 2, KvHeads = 2, Context = 8192 }, 4096, 6 },
        { "three layers, MHA", new CraftedModel { Dim = 16, Heads = 4, KvHeads = 4, Layers = 3 }, 64, 6 },
    };

    [Theory]
    [MemberData(nameof(Running))]
    public void OddButRunnableShapesRunLikeTheReference(string name, CraftedModel shape, int batch, int tokens)
    {
        string path = shape.Write(_dir, name.Replace(' ', '-').Replace(':', '-').Replace(',', '-').Replace('^', 'e'));
        // One thread attends a prompt per KV head (its query heads grouped), two per query head: both paths.
        foreach (int threads in new[] { 1, 2 })
            RunsLikeTheReference(path, new ModelOptions { Threads = threads, BatchSize = batch }, tokens);
    }

    public static TheoryData<string, CraftedModel, string> FormatErrors => new()
    {
        { "head dim 1", new CraftedModel { Dim = 4, Heads = 4, KvHeads = 2 }, "must be even" },
        { "context 2^24 + 1", new CraftedModel { Context = (1 << 24) + 1 }, "context_length" },
        { "context 2^31 - 1", new CraftedModel { Context = int.MaxValue }, "context_length" },
        { "context 2^31", new CraftedModel { Context = 1L << 31 }, "context_length" },
        { "context 2^32 - 1", new CraftedModel { Context = uint.MaxValue }, "context_length" },
        { "vocabulary 2^22 + 1", new CraftedModel { Dim = 2, Heads = 1, KvHeads = 1, FeedForward = 2, Vocab = (1 << 22) + 1 }, "too large" },
        { "1025 heads", new CraftedModel { Dim = 2050, Heads = 1025, KvHeads = 1025, FeedForward = 2 }, "head_count" },
        { "embedding_length 0", new CraftedModel { Override = { ["llama.embedding_length"] = 0u } }, "embedding_length" },
        { "head_count 0", new CraftedModel { Override = { ["llama.attention.head_count"] = 0u } }, "head_count" },
        { "head_count_kv 0", new CraftedModel { Override = { ["llama.attention.head_count_kv"] = 0u } }, "head_count_kv" },
        { "block_count 0", new CraftedModel { Override = { ["llama.block_count"] = 0u } }, "block_count" },
        { "feed_forward_length 0", new CraftedModel { Override = { ["llama.feed_forward_length"] = 0u } }, "feed_forward_length" },
        { "context_length 0", new CraftedModel { Override = { ["llama.context_length"] = 0u } }, "context_length" },
        { "rope dims 0", new CraftedModel { RopeDim = 0 }, "rope.dimension_count" },
        { "sliding_window 2^31", new CraftedModel { Override = { ["llama.attention.sliding_window"] = 1u << 31 } }, "sliding_window" },
        { "head_count_kv above head_count", new CraftedModel { Override = { ["llama.attention.head_count_kv"] = 8u } }, "head_count" },
        { "negative head count", new CraftedModel { Override = { ["llama.attention.head_count"] = -4 } }, "head_count" },
    };

    [Theory]
    [MemberData(nameof(FormatErrors))]
    public void AbsurdHeadersFailWithATypedErrorNamingTheKey(string name, CraftedModel shape, string expected)
    {
        string path = shape.Write(_dir, name.Replace(' ', '-').Replace('^', 'e').Replace('+', 'p'));
        var e = Assert.Throws<GgufFormatException>(() => EurusModel.Load(path, new ModelOptions { Threads = 2 }));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void OptionsThatOverflowAnArrayAreRejectedAsOptions()
    {
        // The model alone fits; a batch of 4096 over a 2^20 FFN is 2^32 activations.
        string ffn = new CraftedModel { Dim = 2, Heads = 1, KvHeads = 1, FeedForward = 1 << 20, Context = 8192 }.Write(_dir, "ffn");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => EurusModel.Load(ffn, new ModelOptions { Threads = 2, BatchSize = 4096 }));
        Assert.Contains("feed_forward_length (1048576)", e.Message);
        // Asking for the whole 2^24 context explicitly: the KV layer does not fit an array.
        string kv = new CraftedModel { Dim = 256, Heads = 8, KvHeads = 8, FeedForward = 2, Context = 1 << 24 }.Write(_dir, "kv");
        Assert.Throws<ArgumentOutOfRangeException>(() => EurusModel.Load(kv, new ModelOptions { Threads = 2, ContextLength = 1 << 24 }));
        RunsLikeTheReference(kv, new ModelOptions { Threads = 2, ContextLength = 4096 }, 2);
    }

    [Fact]
    public void ASessionLargerThanTheMachineFailsAtLoadWithTheMemoryFigure()
    {
        // 32 layers × 2^24 positions × 64 wide × K and V × 4 bytes = 256 GiB of F32 cache; each layer fits an array.
        string path = new CraftedModel { Dim = 64, Heads = 32, KvHeads = 32, FeedForward = 2, Layers = 32, Context = 1 << 24 }.Write(_dir, "kv-memory");
        Assert.True(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes < 256L << 30, "this test needs a machine with less than 256 GiB");
        var whole = new ModelOptions { Threads = 2, ContextLength = 1 << 24, KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 };
        var e = Assert.Throws<InsufficientMemoryException>(() => EurusModel.Load(path, whole));
        Assert.Contains("256 GiB of KV cache", e.Message);
        // F16 halves it, still too much; a smaller context fits, and the API reports what a session holds.
        Assert.Throws<InsufficientMemoryException>(() => EurusModel.Load(path, whole with { KvCacheType = Eurus.Cpu.Model.KvCacheType.F16 }));
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 1024 });
        using var session = model.CreateSession();
        Assert.InRange(model.SessionMemoryBytes, session.KvCacheBytes, session.KvCacheBytes + (64L << 20));
        Assert.Equal(session.KvCacheBytes, model.KvCacheBytes);
        // The default context (4096 positions) and KV type (F16): 32 layers × 4096 × 64 × 2 × 2 bytes = 32 MiB, whatever the file's context.
        using var byDefault = EurusModel.Load(path, new ModelOptions { Threads = 2 });
        Assert.Equal(32L << 20, byDefault.KvCacheBytes);
    }

    [Fact]
    public void ABatchedGeneratorChecksEverySlotsCacheAtStartAndAllocatesThem()
    {
        // One session of 2^24 positions is 512 MiB of cache; 1024 slots of it are 512 GiB.
        string path = new CraftedModel { Dim = 4, Heads = 2, KvHeads = 1, Context = 1 << 24 }.Write(_dir, "slots");
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 1 << 24, KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 });
        var e = Assert.Throws<InsufficientMemoryException>(() => new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 1024 }));
        Assert.Contains("1024 sequences", e.Message);
        using var small = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 256, KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 });
        using var generator = new BatchedGenerator(small, new BatchedGeneratorOptions { MaxSequences = 3 });
        Assert.True(generator.MemoryBytes >= 3 * 2L * 1 * 2 * 256 * 4, $"{generator.MemoryBytes} bytes cannot hold three caches");
    }

    [Fact]
    public void AHuggingFaceFolderWithTheSameNumbersFailsBeforeConverting()
    {
        // Only config.json: the size check must come before the converter looks for weights or a tokenizer.
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "hf")).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), """
            {"architectures": ["MistralForCausalLM"], "hidden_size": 1028, "num_attention_heads": 514, "num_key_value_heads": 2,
             "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 400, "max_position_embeddings": 16777216,
             "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
            """);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => EurusModel.Load(folder, new ModelOptions { Threads = 2, ContextLength = 1 << 24 }));
        Assert.Contains("head_count (514)", e.Message);
    }

    /// <summary>Loads <paramref name="path"/>, evaluates a few tokens and compares every position's logits with the plain reference.</summary>
    private static void RunsLikeTheReference(string path, ModelOptions options, int tokens = 4)
    {
        using var model = EurusModel.Load(path, options with { KvCacheType = Eurus.Cpu.Model.KvCacheType.F32 }); // the reference keeps F32 keys and values
        var rng = new Random(17);
        int vocab = model.Config.Vocab;
        var ids = Enumerable.Range(0, tokens).Select(_ => rng.Next(3, vocab)).ToArray();
        using var session = model.CreateSession();
        var ours = new float[(long)tokens * vocab];
        session.EvaluateAll(ids, ours);
        var expected = new NaiveMistral(path).Logits(ids, model.SlidingWindow);
        for (int p = 0; p < tokens; p++)
        {
            var e = expected[p];
            float range = e.Max() - e.Min(), worst = 0;
            for (int i = 0; i < vocab; i++) worst = MathF.Max(worst, MathF.Abs(e[i] - ours[(long)p * vocab + i]));
            Assert.True(float.IsFinite(range) && range > 0, $"position {p}: the reference logits are flat or not finite");
            Assert.True(worst <= 1e-3f * range, $"position {p}: logits differ from the reference by {worst} (range {range})");
        }
    }
}
