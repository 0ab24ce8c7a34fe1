using System.Globalization;
using System.Text.RegularExpressions;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// <c>eurus perplexity --kl-divergence-base FILE</c> saves a base model's log-probabilities; with <c>--kl-divergence</c>
/// another run reports KL(base ‖ model), top-token agreement and ΔPPL against them, as llama-perplexity does.
/// </summary>
public class KlDivergenceCommandTests
{
    private const int Ctx = 64;

    private static double Stat(string stdout, string label)
    {
        var m = Regex.Match(stdout, Regex.Escape(label) + @"\s*:\s*(-?\d+\.\d+)");
        Assert.True(m.Success, $"'{label}' not in the output:\n{stdout}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void AModelAgainstItselfHasZeroDivergenceAndFullAgreement()
    {
        using var temp = TestPaths.Temp();
        string text = temp.File("genesis.txt"), kld = temp.File("q8.kld");
        File.WriteAllText(text, PerplexityCommandTests.Genesis);
        var (basePpl, _, baseErr) = PerplexityCommandTests.EurusPerplexity(TestPaths.Q8, text, Ctx, "--kl-divergence-base", kld);
        Assert.Contains("saved the log-probabilities", baseErr);
        var (ppl, stdout, _) = PerplexityCommandTests.EurusPerplexity(TestPaths.Q8, text, Ctx, "--kl-divergence-base", kld, "--kl-divergence");
        Assert.Equal(basePpl, ppl);
        Assert.Equal(0, Stat(stdout, "Mean    KLD"));
        Assert.Equal(0, Stat(stdout, "Maximum KLD"));
        Assert.Equal(100, Stat(stdout, "Same top p"));
        Assert.Equal(0, Stat(stdout, "Mean PPL(Q)-PPL(base)"));
        Assert.Equal(ppl, Stat(stdout, "Mean PPL(base)"), 4);
    }

    /// <summary>
    /// Q4_0 against its F32 base: a positive divergence, agreement below 100%, and ΔPPL equal to the difference of the
    /// two separate perplexity runs (to their printed precision).
    /// </summary>
    [Fact]
    public void Q4AgainstF32GivesAPositiveDivergenceAndTheSeparateRunsPplDifference()
    {
        using var temp = TestPaths.Temp();
        string text = temp.File("genesis.txt"), kld = temp.File("f32.kld");
        File.WriteAllText(text, PerplexityCommandTests.Genesis);
        var (f32, _, _) = PerplexityCommandTests.EurusPerplexity(TestPaths.F32, text, Ctx, "--kl-divergence-base", kld);
        var (q4, stdout, _) = PerplexityCommandTests.EurusPerplexity(TestPaths.Q4, text, Ctx, "--kl-divergence-base", kld, "--kl-divergence");
        Assert.True(Stat(stdout, "Mean    KLD") > 1e-4, stdout);
        Assert.InRange(Stat(stdout, "Same top p"), 50, 99.999);
        Assert.Equal(q4, Stat(stdout, "Mean PPL(Q)"), 3);
        Assert.Equal(f32, Stat(stdout, "Mean PPL(base)"), 3);
        Assert.True(Math.Abs(Stat(stdout, "Mean PPL(Q)-PPL(base)") - (q4 - f32)) < 2e-4, stdout);
    }

    [Fact]
    public void AForeignTruncatedOrMismatchedBaseFileIsAClearError()
    {
        using var temp = TestPaths.Temp();
        string text = temp.File("genesis.txt"), kld = temp.File("q8.kld");
        File.WriteAllText(text, PerplexityCommandTests.Genesis);
        PerplexityCommandTests.EurusPerplexity(TestPaths.Q8, text, Ctx, "--kl-divergence-base", kld);

        string c = Ctx.ToString(CultureInfo.InvariantCulture);
        (int Code, string Err) Compare(string file, string ctx) =>
            CliProcess.Run("perplexity", "-m", TestPaths.Q8, "-f", text, "-c", ctx, "-t", "2", "--kl-divergence-base", file, "--kl-divergence") is var r ? (r.Code, r.Err) : default;

        var foreign = Compare(TestPaths.Q4, c);
        Assert.Equal(1, foreign.Code);
        Assert.Contains("not a KL-divergence base file", foreign.Err);

        var otherCtx = Compare(kld, "32");
        Assert.Equal(1, otherCtx.Code);
        Assert.Contains("-c 64", otherCtx.Err);

        string truncated = temp.File("truncated.kld");
        var bytes = File.ReadAllBytes(kld);
        File.WriteAllBytes(truncated, bytes[..^100]);
        var cut = Compare(truncated, c);
        Assert.Equal(1, cut.Code);
        Assert.Contains("truncated", cut.Err);

        var alone = CliProcess.Run("perplexity", "-m", TestPaths.Q8, "-f", text, "-c", c, "--kl-divergence");
        Assert.Equal(1, alone.Code);
        Assert.Contains("--kl-divergence-base", alone.Err);
        Assert.DoesNotContain("   at ", foreign.Err + otherCtx.Err + cut.Err + alone.Err); // messages, not stack traces
    }
}
