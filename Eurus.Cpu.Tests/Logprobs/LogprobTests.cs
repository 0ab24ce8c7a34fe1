using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Logprobs;

/// <summary>
/// Each generated token's log probability is the log-softmax of the raw logits <see cref="InferenceSession.Evaluate"/>
/// gives at that position (recomputed here independently, in double, with a full sort), whatever the sampling settings.
/// </summary>
public class LogprobTests
{
    private const string Prompt = "And God said unto Moses";

    private static (double[] LogSoftmax, int[] Order) Reference(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float x in logits) max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        double lse = max + Math.Log(sum);
        var ls = new double[logits.Length];
        for (int i = 0; i < ls.Length; i++) ls[i] = logits[i] - lse;
        var order = Enumerable.Range(0, ls.Length).OrderByDescending(i => ls[i]).ThenBy(i => i).ToArray();
        return (ls, order);
    }

    private static async Task<List<GeneratedToken>> Generate(EurusModel model, SamplingSettings settings)
    {
        using var session = model.CreateSession();
        var tokens = new List<GeneratedToken>();
        await foreach (var t in session.GenerateTokensAsync(model.Tokenizer.Encode(Prompt), settings))
            if (t.Id >= 0) tokens.Add(t);
        return tokens;
    }

    /// <summary>Replays prompt + generated tokens through Evaluate and checks every token's logprob and top list.</summary>
    private static void CheckAgainstEvaluate(EurusModel model, List<GeneratedToken> generated, int top)
    {
        using var session = model.CreateSession();
        var logits = session.Evaluate(model.Tokenizer.Encode(Prompt)).ToArray();
        foreach (var t in generated)
        {
            var (ls, order) = Reference(logits);
            Assert.NotNull(t.Logprob);
            Assert.Equal(ls[t.Id], t.Logprob!.Value, 4);
            Assert.True(t.Logprob <= 0);
            if (top == 0) Assert.Null(t.TopLogprobs);
            else
            {
                Assert.NotNull(t.TopLogprobs);
                Assert.Equal(top, t.TopLogprobs!.Count);
                for (int i = 0; i < top; i++)
                {
                    Assert.Equal(order[i], t.TopLogprobs[i].Id);
                    Assert.Equal(ls[order[i]], t.TopLogprobs[i].Logprob, 4);
                    if (i > 0) Assert.True(t.TopLogprobs[i].Logprob <= t.TopLogprobs[i - 1].Logprob);
                }
            }
            logits = session.Evaluate([t.Id]).ToArray();
        }
    }

    [Fact]
    public async Task GreedyLogprobsAreTheLogSoftmaxOfEvaluatesLogitsAndTheChosenTokenIsTheTopOne()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128 });
        var generated = await Generate(model, SamplingSettings.Greedy with { MaxTokens = 16, StopAtEos = false, TopLogprobs = 5 });
        Assert.Equal(16, generated.Count);
        CheckAgainstEvaluate(model, generated, 5);
        foreach (var t in generated) Assert.Equal(t.Id, t.TopLogprobs![0].Id); // greedy picks the most likely token
    }

    [Fact]
    public async Task SampledLogprobsAreOfTheModelsDistributionNotTheTemperaturesOrFilters()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128 });
        // A high temperature and a repetition penalty change what is drawn, not the reported distribution.
        var settings = new SamplingSettings { Seed = 7, Temperature = 1.7f, RepeatPenalty = 1.3f, TopK = 0, MaxTokens = 20, StopAtEos = false, Logprobs = true };
        var generated = await Generate(model, settings);
        CheckAgainstEvaluate(model, generated, 0);
        // Sampling, not greedy: at least one token that is not the most likely one (seed 7 at temperature 1.7).
        Assert.Contains(generated, t => t.Logprob < -1.0f);
        // Logprobs change nothing about which tokens are drawn.
        var plain = await Generate(model, settings with { Logprobs = false });
        Assert.Equal(generated.Select(t => t.Id), plain.Select(t => t.Id));
        Assert.All(plain, t => { Assert.Null(t.Logprob); Assert.Null(t.TopLogprobs); });
    }

    [Fact]
    public async Task BatchedGeneratorReportsTheSameLogprobsAsASession()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 128 });
        var settings = new SamplingSettings { Seed = 3, Temperature = 0.9f, MaxTokens = 12, StopAtEos = false, TopLogprobs = 3 };
        var expected = await Generate(model, settings);
        using var gen = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 2 });
        var other = gen.Submit(model.Tokenizer.Encode("In the beginning"), settings with { Logprobs = false });
        var actual = new List<GeneratedToken>();
        await foreach (var t in gen.Submit(model.Tokenizer.Encode(Prompt), settings)) if (t.Id >= 0) actual.Add(t);
        await foreach (var _ in other) { }
        Assert.Equal(expected.Select(t => t.Id), actual.Select(t => t.Id));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Logprob!.Value, actual[i].Logprob!.Value, 3);
            Assert.Equal(expected[i].TopLogprobs!.Select(x => x.Id), actual[i].TopLogprobs!.Select(x => x.Id));
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(21)]
    public void TopLogprobsOutsideZeroToTwentyIsRefused(int top) =>
        Assert.Throws<ArgumentException>(() => new SamplingSettings { TopLogprobs = top }.Validate());
}
