using Eurus.Cpu.Model;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// Ctrl-C during <c>eurus generate</c>: the generation stops (within a token) and the CLI exits 130 after printing
/// the timings. A synthetic model with a long context (and --ignore-eos) keeps the generation going long enough to be
/// interrupted; the demo model's 256 positions take a fraction of a second.
/// </summary>
public class GenerateInterruptTests
{
    internal static string LongContextModel(TempDir temp)
    {
        string path = temp.File("long-context.gguf");
        SyntheticModel.Write(path, new SyntheticModelOptions
        {
            Dim = 256, Layers = 4, Heads = 8, KvHeads = 2, FeedForward = 768, ContextLength = 16384,
            WeightType = Eurus.Cpu.Gguf.GgmlType.Q8_0, VocabularyFrom = TestPaths.Q8,
        });
        return path;
    }

    [UnixFact]
    public void CtrlCStopsGenerationAndExits130()
    {
        using var temp = TestPaths.Temp();
        string model = LongContextModel(temp);
        using var cli = new CliSession("generate", "-m", model, "-p", "And God said", "-n", "16000", "--ignore-eos", "-s", "1", "-t", "1", "--kv-type", "f16");
        cli.WaitUntil((o, _) => o.Length > 20, "generated text");
        cli.Interrupt();
        int code = cli.WaitForExit(20);
        Assert.True(code == 130, $"exit {code}\nstderr: {cli.Err}");
        Assert.Contains("finish: Cancelled", cli.Err);
        Assert.Contains("eurus: interrupted", cli.Err);
    }
}
