using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grading;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tools;

namespace Eurus.Cli;

/// <summary>
/// <c>eurus eval --samples k [--vote]</c>: self-consistency for math and gsm (cot and pot). Each item's k answers are
/// sampled together, sharing one evaluation of the prompt (<see cref="BatchedGenerator.SubmitMany"/>; sample i uses
/// seed + i), graded one by one with the paper's extraction and comparison, then reported as maj@k (the majority
/// answer, <see cref="SelfConsistency.MajorityAnswer"/>: ties to the answer given first), pass@k (any sample correct)
/// and pass@1 (the mean fraction correct, the unbiased estimator at k = 1). <c>--separate-runs</c> generates the same k
/// samples as k runs of one session instead (same answers: the throughput comparison).
/// </summary>
internal static class EvalVoting
{
    internal sealed record Options(int Samples, bool Vote, float? Temperature, float TopP, int TopK, ulong Seed, bool SeparateRuns)
    {
        /// <summary>Greedy for one sample (the paper's protocol); sampling (default temperature 0.7) for several.</summary>
        public SamplingSettings Settings(string task, int maxTokens)
        {
            if (Samples < 1 || Samples > 64) throw new CliUsageException("--samples must be 1 to 64.");
            if (Samples > 1 && task == "code") throw new CliUsageException("--samples applies to math and gsm (maj@k needs an answer to vote on).");
            if (Vote && Samples < 2) throw new CliUsageException("--vote needs --samples 2 or more.");
            if (SeparateRuns && Samples < 2) throw new CliUsageException("--separate-runs needs --samples 2 or more.");
            var settings = Samples == 1 && Temperature is null
                ? SamplingSettings.Greedy with { MaxTokens = maxTokens }
                : new SamplingSettings { Temperature = Temperature ?? 0.7f, TopP = TopP, TopK = TopK, MinP = 0, Seed = Seed, MaxTokens = maxTokens };
            try { settings.Validate(); } catch (ArgumentException e) { throw new CliUsageException(e.Message); }
            return settings;
        }
    }

    internal sealed class Args
    {
        private readonly Option<int> _samples = new("--samples") { Description = "answers sampled per item (self-consistency); more than 1 reports pass@k and maj@k", DefaultValueFactory = _ => 1, HelpName = "K" };
        private readonly Option<bool> _vote = new("--vote") { Description = "grade the majority answer of the samples (maj@k) on the 'accuracy' line (default there: pass@k)" };
        private readonly Option<float?> _temperature = new("--temp") { Description = "sampling temperature (default: greedy for 1 sample, 0.7 for several)" };
        private readonly Option<float> _topP = new("--top-p") { Description = "nucleus sampling mass", DefaultValueFactory = _ => 0.95f };
        private readonly Option<int> _topK = new("--top-k") { Description = "keep the k most likely tokens (0: all)", DefaultValueFactory = _ => 0 };
        private readonly Option<ulong> _seed = new("--seed") { Description = "seed of the first sample (sample i uses seed + i)", DefaultValueFactory = _ => 0UL, HelpName = "N" };
        private readonly Option<bool> _separate = new("--separate-runs") { Description = "generate the k samples as k separate runs (no shared prompt; the same answers): for comparing throughput" };

        public void AddTo(Command command)
        {
            foreach (var o in new Option[] { _samples, _vote, _temperature, _topP, _topK, _seed, _separate }) command.Add(o);
        }

        public Options Read(ParseResult r) =>
            new(r.GetValue(_samples), r.GetValue(_vote), r.GetValue(_temperature), r.GetValue(_topP), r.GetValue(_topK), r.GetValue(_seed), r.GetValue(_separate));
    }

    private sealed record Sample(string Completion, GenerationTimings Timings);

    public static async Task<int> RunAsync(EurusModel model, List<EvalCommands.Item> items, string task, string mode, SamplingSettings settings, Options o,
        PythonOptions python, StreamWriter? transcripts, CancellationToken ct)
    {
        int k = o.Samples;
        using var generator = o.SeparateRuns ? null : new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = k, PromptCache = false });
        using var session = o.SeparateRuns ? model.CreateSession() : null;
        int majCorrect = 0, passCorrect = 0, done = 0;
        double pass1 = 0;
        long generated = 0, evaluated = 0;
        var total = Stopwatch.StartNew();
        double generationSeconds = 0;
        foreach (var item in items)
        {
            string user = EvalCommands.UserPrompt(task, mode, item.Question);
            var prompt = MistralChatFormat.Encode(model.Tokenizer, [ChatTurn.User(user)]);
            var sw = Stopwatch.StartNew();
            Sample[] samples;
            if (generator is not null)
            {
                long before = generator.StepTokens;
                var choices = generator.SubmitMany(prompt, k, settings, ct);
                samples = await Task.WhenAll(choices.Select(async c => new Sample(await Text(c, ct), await c.Completion)));
                evaluated += generator.StepTokens - before;
            }
            else
            {
                samples = new Sample[k];
                for (int i = 0; i < k; i++)
                {
                    session!.Reset();
                    var own = settings.Seed is ulong seed ? settings with { Seed = unchecked(seed + (ulong)i) } : settings;
                    samples[i] = new Sample(await Text(session.GenerateTokensAsync(prompt, own, ct), ct), session.LastTimings!);
                    // The session evaluates the prompt and every generated token but the last (sampled, never fed back).
                    evaluated += samples[i].Timings.PromptTokens + Math.Max(0, samples[i].Timings.GeneratedTokens - 1);
                }
            }
            generationSeconds += sw.Elapsed.TotalSeconds;
            generated += samples.Sum(s => (long)s.Timings.GeneratedTokens);

            var graded = new JsonArray();
            var answers = new string?[k];
            int correct = 0;
            for (int i = 0; i < k; i++)
            {
                var executions = new JsonArray();
                string? extracted;
                if (mode == "pot")
                {
                    (extracted, var runs) = await PotAnswer.RunAsync(samples[i].Completion, python);
                    foreach (var r in runs) executions.Add(EvalCommands.Json(r));
                }
                else extracted = MathAnswer.Extract(samples[i].Completion);
                bool ok = MathAnswer.AreEquivalent(extracted, item.Answer!);
                if (ok) correct++;
                answers[i] = extracted;
                graded.Add(new JsonObject
                {
                    ["completion"] = samples[i].Completion, ["extracted"] = extracted, ["correct"] = ok, ["executions"] = executions,
                    ["generated_tokens"] = samples[i].Timings.GeneratedTokens, ["finish_reason"] = samples[i].Timings.FinishReason.ToString(),
                });
            }
            string? majority = SelfConsistency.MajorityAnswer(answers);
            bool majOk = MathAnswer.AreEquivalent(majority, item.Answer!);
            done++;
            if (majOk) majCorrect++;
            if (correct > 0) passCorrect++;
            pass1 += SelfConsistency.PassAtK(k, correct, 1);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{done}/{items.Count}] item {item.Index}: {correct}/{k} samples correct, majority {(majority is null ? "none" : $"'{majority}'")} {(majOk ? "correct" : "wrong")}, " +
                $"{samples.Sum(s => s.Timings.GeneratedTokens)} tokens in {sw.Elapsed.TotalSeconds:F1} s | maj@{k} {majCorrect}/{done}, pass@{k} {passCorrect}/{done}"));
            if (transcripts is not null)
            {
                var line = new JsonObject
                {
                    ["index"] = item.Index, ["task"] = task, ["mode"] = mode, ["question"] = item.Question, ["reference"] = item.Answer,
                    ["prompt"] = MistralChatFormat.Render([ChatTurn.User(user)]), ["prompt_tokens"] = prompt.Length,
                    ["samples"] = graded, ["majority"] = majority, ["majority_correct"] = majOk, ["pass"] = correct > 0,
                    ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3),
                };
                await transcripts.WriteLineAsync(line.ToJsonString());
                await transcripts.FlushAsync(ct);
            }
        }
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"eurus: {done} items x {k} samples ({(o.SeparateRuns ? "separate runs" : "shared prompt, decoded together")}): {generated} tokens generated, " +
            $"{evaluated} evaluated, in {generationSeconds:F1} s of generation = {generated / Math.Max(generationSeconds, 1e-9):F1} generated t/s ({total.Elapsed.TotalSeconds:F1} s in all)"));
        var w = Console.Out;
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pass@1: {100 * pass1 / done:F2}% (mean over the samples)"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pass@{k}: {passCorrect}/{done} = {100.0 * passCorrect / done:F2}%"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"maj@{k}: {majCorrect}/{done} = {100.0 * majCorrect / done:F2}%"));
        int headline = o.Vote ? majCorrect : passCorrect;
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"accuracy: {headline}/{done} = {100.0 * headline / done:F2}%"));
        return 0;
    }

    private static async Task<string> Text(IAsyncEnumerable<GeneratedToken> tokens, CancellationToken ct)
    {
        var sb = new StringBuilder();
        await foreach (var t in tokens.WithCancellation(ct)) sb.Append(t.Text);
        return sb.ToString();
    }
}
