using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;
using Eurus.Cpu.Tests.Forward;

namespace Eurus.Cpu.Tests.Batching;

/// <summary>One weight pass over several sequences gives each sequence exactly the logits it gets alone.</summary>
public class MultiSequenceForwardTests
{
    [Theory]
    [InlineData("Q8_0")]
    [InlineData("Q4_0")]
    [InlineData("F32")]
    [InlineData("GQA-F32")]
    [InlineData("Q8_0", KvCacheType.F16)]
    [InlineData("window")]
    public void BatchedStepLogitsEqualEachSequenceDecodedAlone(string name, KvCacheType kv = KvCacheType.F32)
    {
        string path = name == "window" ? TestModels.SyntheticWindow : ForwardOracleTests.PathOf(name);
        using var model = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128, BatchSize = 16, KvCacheType = kv });
        var c = model.Config;
        int vocab = c.Vocab;
        var rng = new Random(7);
        // Three sequences: different prompt lengths (one longer than a prefill chunk), fixed continuations.
        int[][] prompts = [Ids(rng, 5, vocab), Ids(rng, 23, vocab), Ids(rng, 9, vocab)];
        int[][] continuations = [Ids(rng, 8, vocab, bos: false), Ids(rng, 8, vocab, bos: false), Ids(rng, 8, vocab, bos: false)];

        // Reference: every sequence alone through InferenceSession (the single-sequence Transformer).
        var expected = new List<float[]>[3];
        for (int s = 0; s < 3; s++)
        {
            using var session = model.CreateSession();
            expected[s] = [session.Evaluate(prompts[s]).ToArray()];
            foreach (int t in continuations[s]) expected[s].Add(session.Evaluate([t]).ToArray());
        }

        // Batched: sequence 2 joins late, so its prompt chunk shares steps with the others' decode tokens, and
        // sequence 1's prompt is split over two steps.
        // With a sliding window (8 here) the caches are rings of window + one prompt chunk, as in InferenceSession.
        int? window = model.SlidingWindow;
        int capacity = window is int w ? w + 16 : 128;
        if (name == "window") Assert.Equal(8, window);
        using var forward = new Transformer(c, model.Weights, 32, capacity, 2, window);
        var caches = Enumerable.Range(0, 3).Select(_ => new KvCache(c.Layers, c.KvDim, capacity, kv, c.HeadDim)).ToArray();
        var done = new int[3];          // prompt tokens evaluated
        var steps = new int[3];         // logits compared so far
        var logits = new float[32 * vocab];
        for (int step = 0; steps.Any(k => k < 9); step++)
        {
            var batch = new List<SequenceToken>();
            var owners = new List<int>();
            for (int s = 0; s < 3; s++)
            {
                if (s == 2 && step < 2) continue;
                if (done[s] < prompts[s].Length)
                {
                    int n = Math.Min(16, prompts[s].Length - done[s]);
                    for (int i = 0; i < n; i++)
                    {
                        bool last = done[s] + i == prompts[s].Length - 1;
                        batch.Add(new SequenceToken(prompts[s][done[s] + i], done[s] + i, caches[s], last));
                        if (last) owners.Add(s);
                    }
                    done[s] += n;
                }
                else if (steps[s] < 9)
                {
                    int k = steps[s] - 1;
                    batch.Add(new SequenceToken(continuations[s][k], prompts[s].Length + k, caches[s], true));
                    owners.Add(s);
                }
            }
            forward.Forward(batch.ToArray(), logits);
            for (int i = 0; i < owners.Count; i++)
            {
                int s = owners[i];
                var want = expected[s][steps[s]];
                var got = logits.AsSpan(i * vocab, vocab).ToArray();
                Assert.True(want.AsSpan().SequenceEqual(got), $"{name}: sequence {s}, step {steps[s]}: logits differ (max |Δ| {want.Zip(got, (a, b) => MathF.Abs(a - b)).Max()})");
                steps[s]++;
            }
        }
    }

    [Fact]
    public void RejectsPositionsOutsideTheCache()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 32 });
        var c = model.Config;
        using var forward = new Transformer(c, model.Weights, 4, 32, 1, null);
        var cache = new KvCache(c.Layers, c.KvDim, 32, KvCacheType.F32, c.HeadDim);
        Assert.Throws<ArgumentOutOfRangeException>(() => forward.Forward([new SequenceToken(1, 32, cache, true)], new float[c.Vocab]));
        Assert.Throws<ArgumentOutOfRangeException>(() => forward.Forward([new SequenceToken(c.Vocab, 0, cache, true)], new float[c.Vocab]));
    }

    private static int[] Ids(Random rng, int n, int vocab, bool bos = true) =>
        Enumerable.Range(0, n).Select(i => i == 0 && bos ? 1 : rng.Next(3, vocab)).ToArray();
}
