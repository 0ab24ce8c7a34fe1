using Eurus.Cpu.Fuzzing;
using Eurus.Cpu.HuggingFace;

namespace Eurus.Cpu.Tests.Fuzzing;

/// <summary>
/// The fuzz harnesses (fuzz/Eurus.Cpu.Fuzz/Harnesses, compiled into this project) run in-process on their committed
/// seeds, on every committed crash regression and on a few hundred seeded mutations: the short CI form of the AFL++
/// campaigns of fuzz/run.sh (docs/fuzzing.md). A failure names the input and saves it.
/// </summary>
public class FuzzCorpusTests
{
    /// <summary>Mutations per harness, and the time after which a run stops early (slow CI machines).</summary>
    private const int Mutations = 1000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(4);
    private const int Seed = 20261207;

    internal static string Folder(string kind, string harness) => Path.Combine(AppContext.BaseDirectory, "fuzz", kind, harness);

    internal static IFuzzHarness Create(string name) => name switch
    {
        "gguf" => new GgufHarness(),
        "safetensors" => new SafetensorsHarness(),
        "sentencepiece" => new SentencePieceHarness(),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [InlineData("gguf")]
    [InlineData("safetensors")]
    [InlineData("sentencepiece")]
    public void Seeds_are_accepted(string harness)
    {
        var seeds = FuzzCorpus.Load(Folder("corpus", harness));
        Assert.NotEmpty(seeds);
        using var h = Create(harness);
        // A seed the library rejects would leave the fuzzer mutating an error path: every seed must load and run.
        foreach (var (name, rejected) in FuzzCorpus.RunAll(h, seeds))
            Assert.True(rejected is null, $"{harness} seed {name} was rejected: {rejected?.Message}");
    }

    [Theory]
    [InlineData("gguf")]
    [InlineData("safetensors")]
    [InlineData("sentencepiece")]
    public void Crash_regressions_do_not_crash(string harness)
    {
        using var h = Create(harness);
        FuzzCorpus.RunAll(h, FuzzCorpus.Load(Folder("regressions", harness)));
    }

    /// <summary>
    /// Found by the fuzzer: a tokenizer.model whose byte piece is not &lt;0xXX&gt; was accepted by the vocabulary reader,
    /// then <see cref="HfVocabulary.CreateTokenizer"/> failed with a bare ArgumentException (and a model
    /// folder load, after converting every weight, with a GgufFormatException about the temporary file).
    /// </summary>
    [Fact]
    public void A_byte_piece_not_of_the_form_0xXX_is_a_format_error()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Folder("regressions", "sentencepiece"), "byte-piece-not-0xXX.model"));
        var e = Assert.Throws<HuggingFaceFormatException>(() => SentencePieceModel.Parse(bytes, "tokenizer.model"));
        Assert.Contains("is a byte piece but is not of the form <0xXX>", e.Message);
        using var h = Create("sentencepiece");
        Assert.IsType<HuggingFaceFormatException>(h.Run(bytes));
    }

    [Theory]
    [InlineData("gguf")]
    [InlineData("safetensors")]
    [InlineData("sentencepiece")]
    public void Seeded_mutations_do_not_crash(string harness)
    {
        var seeds = FuzzCorpus.Load(Folder("corpus", harness)).Concat(FuzzCorpus.Load(Folder("regressions", harness))).ToList();
        using var h = Create(harness);
        var (ran, _) = FuzzCorpus.RunMutations(h, seeds, Mutations, Budget, Seed);
        Assert.True(ran > 0);
    }
}
