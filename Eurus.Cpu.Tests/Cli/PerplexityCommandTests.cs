using System.Globalization;
using Eurus.Cpu.Tests.Oracle;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// <c>eurus perplexity</c> is llama-perplexity's computation: the whole text tokenized with BOS, chunks of c tokens
/// whose first token becomes BOS, the second half of each chunk scored. The reference here runs exactly that on
/// llama.cpp's own tokens and logits; the CLI must agree within 0.1% (the old token stream, without the leading BOS,
/// was 0.5% off).
/// </summary>
public class PerplexityCommandTests
{
    internal const string Genesis =
        "In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. " +
        "And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and there was light. And God saw the light, that it was good: " +
        "and God divided the light from the darkness. And God called the light Day, and the darkness he called Night. And the evening and the morning were the first day. " +
        "And God said, Let there be a firmament in the midst of the waters, and let it divide the waters from the waters. And God made the firmament, and divided the waters " +
        "which were under the firmament from the waters which were above the firmament: and it was so. And God called the firmament Heaven. And the evening and the morning " +
        "were the second day. And God said, Let the waters under the heaven be gathered together unto one place, and let the dry land appear: and it was so.";

    /// <summary>
    /// llama-perplexity's method run on llama.cpp's own tokens and logits (llama.cpp at its default F16 KV cache, as
    /// eurus by default): the whole text tokenized with BOS, chunks of <paramref name="ctx"/> whose first token is BOS,
    /// the second half of each scored.
    /// </summary>
    internal static double LlamaPerplexity(string model, string text, int ctx, Eurus.Cpu.Model.KvCacheType kv = Eurus.Cpu.Model.KvCacheType.F16)
    {
        var tokens = LlamaOracle.Tokenize(model, text);
        int chunks = tokens.Length / ctx;
        Assert.True(chunks >= 2, $"the text has only {tokens.Length} tokens");
        double nll = 0;
        int count = 0;
        for (int c = 0; c < chunks; c++)
        {
            var chunk = tokens.AsSpan(c * ctx, ctx).ToArray();
            chunk[0] = 1; // BOS
            var logits = LlamaOracle.Logits(model, chunk, ctx, kv);
            for (int i = ctx / 2; i < ctx - 1; i++)
            {
                var row = logits[i];
                double max = row.Max(), sum = row.Sum(l => Math.Exp(l - max));
                nll += Math.Log(sum) + max - row[chunk[i + 1]];
                count++;
            }
        }
        return Math.Exp(nll / count);
    }

    internal static string ModelPath(string name) => name switch
    {
        "F32" => TestPaths.F32,
        "F16" => Forward.TestModels.DemoF16,
        "Q8_0" => TestPaths.Q8,
        "Q4_0" => TestPaths.Q4,
        "Q5_K_M" => Forward.TestModels.DemoLlamaQuantized(LLama.Native.LLamaFtype.MOSTLY_Q5_K_M),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Runs <c>eurus perplexity</c> on the Genesis text; returns the value of its last line and its stdout.</summary>
    internal static (double Ppl, string Stdout, string Stderr) EurusPerplexity(string model, string textFile, int ctx, params string[] more)
    {
        var (code, stdout, stderr) = CliProcess.Run(["perplexity", "-m", model, "-f", textFile, "-c", ctx.ToString(CultureInfo.InvariantCulture), "-t", "2", .. more]);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        var line = stdout.Trim().Split('\n')[^1];
        Assert.StartsWith("perplexity: ", line);
        return (double.Parse(line["perplexity: ".Length..], CultureInfo.InvariantCulture), stdout, stderr);
    }

    /// <summary>
    /// Every type of the demo model, and one K-quant mixture made by llama.cpp's quantizer: eurus perplexity (default F16
    /// KV) within 0.1% of llama-perplexity's method on llama.cpp's logits (llama.cpp's default F16 KV), over the whole of
    /// docs/genesis-1.txt at -c 64 (15 chunks, 480 scored tokens). The short <see cref="Genesis"/> text (96 scored tokens)
    /// was too small a sample: one activation-quantization rounding flipped by a float reassociation moves its perplexity
    /// by up to 0.15%. Measured eurus/llama − 1 on the whole chapter (Zen 4): Q5_K_M −5.1e-5 (AVX-512BW tiles) / +8.0e-4
    /// (the multiply-add repack), Q4_K_M +8.1e-4 / −3.5e-4, Q6_K +1.4e-4 / −3.5e-6 — no systematic sign; the two paths
    /// equal the scalar reference to float rounding (KQuantMatMulTests).
    /// </summary>
    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("Q8_0")]
    [InlineData("Q4_0")]
    [InlineData("Q5_K_M")]
    public void PerplexityEqualsLlamaCppsOnEveryType(string name)
    {
        const int ctx = 64;
        string model = ModelPath(name);
        string file = Path.Combine(TestPaths.RepoRoot(), "docs", "genesis-1.txt");
        double expected = LlamaPerplexity(model, File.ReadAllText(file), ctx);
        var (ours, _, _) = EurusPerplexity(model, file, ctx);
        Assert.True(Math.Abs(ours / expected - 1) < 1e-3, $"{name}: eurus {ours:F4}, llama-perplexity's method on llama.cpp {expected:F4}");
    }

    [Fact]
    public void PerplexityEqualsLlamaPerplexitysMethodOnLlamaCppsLogits()
    {
        const int ctx = 64;
        string model = TestPaths.Q8;
        double expected = LlamaPerplexity(model, Genesis, ctx);

        using var temp = TestPaths.Temp();
        string file = temp.File("genesis.txt");
        File.WriteAllText(file, Genesis);
        var (code, stdout, stderr) = CliProcess.Run("perplexity", "-m", model, "-f", file, "-c", ctx.ToString(CultureInfo.InvariantCulture), "-t", "2");
        Assert.True(code == 0, $"exit {code}: {stderr}");
        var line = stdout.Trim().Split('\n')[^1];
        Assert.StartsWith("perplexity: ", line);
        double ours = double.Parse(line["perplexity: ".Length..], CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(ours / expected - 1) < 1e-3, $"eurus {ours:F4}, llama-perplexity's method on llama.cpp {expected:F4}");
        Assert.Matches(@"\[1\]\d+\.\d{4},\[2\]\d+\.\d{4},", stderr);
        Assert.Matches(@"Final estimate: PPL = \d+\.\d{4} \+/- \d+\.\d{5}", stderr);
    }
}
