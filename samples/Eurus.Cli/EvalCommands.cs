using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grading;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tools;

namespace Eurus.Cli;

/// <summary>
/// <c>eurus eval</c>: the paper's protocol on a JSONL set — the model card's prompt, greedy decoding, the paper's
/// answer extraction and grading — with a live accuracy line on stderr and every transcript written as JSONL.
/// </summary>
internal static class EvalCommands
{
    internal sealed record Item(int Index, string Question, string? Answer, string? Tests);

    /// <summary>eurus eval --task math|gsm|code [--mode cot|pot] --data FILE.jsonl [-m MODEL] [--limit N] [--out FILE.jsonl] ...</summary>
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "the benchmark kind", Required = true }.AcceptOnlyFromAmong("math", "gsm", "code");
        var mode = new Option<string>("--mode") { Description = "chain of thought, or program of thought (runs Python)", DefaultValueFactory = _ => "cot" }
            .AcceptOnlyFromAmong("cot", "pot");
        var data = new Option<string>("--data") { Description = "JSONL items: {\"question\", \"answer\"} (code: {\"question\", \"tests\"})", HelpName = "FILE.jsonl", Required = true };
        var limit = new Option<int>("--limit") { Description = "grade only the first N items", DefaultValueFactory = _ => int.MaxValue, HelpName = "N" };
        var output = new Option<string?>("--out") { Description = "write every transcript here, one JSON object per line", HelpName = "FILE.jsonl" };
        var maxTokens = new Option<int?>("--n-predict", "-n") { Description = "most tokens per answer (default: the paper's, 1024 for cot, 2048 for pot)", HelpName = "N" };
        var allow = new Option<bool>("--allow-code-execution") { Description = "accept that pot and code run model-written Python on this machine (unsafe: no sandbox)" };
        var python = new Option<string>("--python") { Description = "the Python interpreter", DefaultValueFactory = _ => "python3" };
        var timeout = new Option<float>("--timeout") { Description = "seconds per code execution", DefaultValueFactory = _ => 5f };
        var voting = new EvalVoting.Args();
        var model = new ModelArgs();
        var command = new Command("eval", "the paper's evaluation: card prompt, greedy decoding, graded; last line 'accuracy: X/Y = Z%'")
            { task, mode, data, limit, output, maxTokens, allow, python, timeout };
        voting.AddTo(command);
        model.AddTo(command);
        command.SetAction((r, ct) => RunAsync(r, model, r.GetValue(task)!, r.GetValue(mode)!, r.GetValue(data)!, r.GetValue(limit), r.GetValue(output),
            r.GetValue(maxTokens), r.GetValue(allow), r.GetValue(python)!, r.GetValue(timeout), voting.Read(r)));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, ModelArgs modelArgs, string task, string mode, string data, int limit, string? outPath,
        int? maxTokens, bool allowCode, string pythonPath, float timeout, EvalVoting.Options voting)
    {
        if (task == "code" && mode == "pot") throw new CliUsageException("--mode pot applies to math and gsm; code tasks use the coding template.");
        if (!File.Exists(data)) throw new CliUsageException($"data file not found: {data}");
        if (limit < 1) throw new CliUsageException("--limit must be at least 1.");
        if (!(timeout > 0) || !float.IsFinite(timeout)) throw new CliUsageException("--timeout must be a positive number of seconds.");
        bool runsCode = task == "code" || mode == "pot";
        if (runsCode && !allowCode)
            throw new CliUsageException($"--task {task} --mode {mode} runs model-written Python code on this machine. That is unsafe (it is not sandboxed); " +
                                        "pass --allow-code-execution to accept it.");
        int defaultTokens = mode == "pot" ? EurusPrompts.PotMaxTokens : EurusPrompts.CotMaxTokens;
        var settings = voting.Settings(task, maxTokens ?? defaultTokens);
        var python = new PythonOptions
        {
            PythonPath = pythonPath,
            Timeout = TimeSpan.FromSeconds(timeout),
        };
        var items = ReadItems(data, task).Take(limit).ToList();
        if (items.Count == 0) throw new CliUsageException($"{data} has no items.");

        var cts = Interrupt.Begin();
        using var model = await modelArgs.LoadAsync(parse, cancellationToken: cts.Token);
        using var transcripts = outPath is null ? null : new StreamWriter(outPath, append: false, new UTF8Encoding(false));
        if (voting.Samples > 1)
            return await EvalVoting.RunAsync(model, items, task, mode, settings, voting, python, transcripts, cts.Token);
        using var session = model.CreateSession();
        int correct = 0, done = 0;
        var total = Stopwatch.StartNew();
        foreach (var item in items)
        {
            string user = UserPrompt(task, mode, item.Question);
            var prompt = MistralChatFormat.Encode(model.Tokenizer, [ChatTurn.User(user)]);
            session.Reset();
            var sw = Stopwatch.StartNew();
            var text = new StringBuilder();
            await foreach (var t in session.GenerateTokensAsync(prompt, settings, cts.Token)) text.Append(t.Text);
            string completion = text.ToString();
            var timings = session.LastTimings!;

            string? extracted;
            bool ok;
            var executions = new JsonArray();
            if (task == "code")
            {
                extracted = CodeAnswer.ExtractCode(completion);
                var r = await CodeAnswer.RunTestsAsync(extracted, item.Tests!, python);
                ok = r.Passed;
                executions.Add(Json(r.Execution));
            }
            else if (mode == "pot")
            {
                (extracted, var runs) = await PotAnswer.RunAsync(completion, python);
                foreach (var r in runs) executions.Add(Json(r));
                ok = MathAnswer.AreEquivalent(extracted, item.Answer!);
            }
            else
            {
                extracted = MathAnswer.Extract(completion);
                ok = MathAnswer.AreEquivalent(extracted, item.Answer!);
            }
            done++;
            if (ok) correct++;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{done}/{items.Count}] item {item.Index}: {(ok ? "correct" : "wrong")}, {timings.GeneratedTokens} tokens in {sw.Elapsed.TotalSeconds:F1} s " +
                $"({timings.DecodeTokensPerSecond:F1} t/s) | accuracy {correct}/{done} = {100.0 * correct / done:F1}%"));
            if (transcripts is not null)
            {
                var line = new JsonObject
                {
                    ["index"] = item.Index, ["task"] = task, ["mode"] = mode,
                    ["question"] = item.Question, ["reference"] = item.Answer, ["tests"] = item.Tests,
                    ["prompt"] = MistralChatFormat.Render([ChatTurn.User(user)]),
                    ["completion"] = completion, ["extracted"] = extracted, ["correct"] = ok,
                    ["executions"] = executions,
                    ["prompt_tokens"] = timings.PromptTokens, ["generated_tokens"] = timings.GeneratedTokens,
                    ["finish_reason"] = timings.FinishReason.ToString(), ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3),
                };
                await transcripts.WriteLineAsync(line.ToJsonString());
                await transcripts.FlushAsync();
            }
        }
        Console.Error.WriteLine($"eurus: {done} items in {total.Elapsed.TotalSeconds:F1} s");
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"accuracy: {correct}/{done} = {100.0 * correct / done:F2}%"));
        return 0;
    }

    /// <summary>The model card's prompt for the task.</summary>
    internal static string UserPrompt(string task, string mode, string question) =>
        task == "code" ? EurusPrompts.Coding(question) : mode == "pot" ? EurusPrompts.MathPotEvaluation(question) : EurusPrompts.MathCot(question);

    internal static JsonObject Json(ExecutionResult r) => new()
    {
        ["output"] = r.Output, ["failed"] = r.Failed, ["timed_out"] = r.TimedOut, ["truncated"] = r.Truncated,
        ["seconds"] = Math.Round(r.Elapsed.TotalSeconds, 3),
    };

    /// <summary>Reads <c>{"question", "answer"}</c> lines (code: <c>{"question" or "prompt", "tests": string or [strings]}</c>).</summary>
    private static IEnumerable<Item> ReadItems(string path, string task)
    {
        int lineNo = 0, index = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Trim().Length == 0) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(line); }
            catch (JsonException e) { throw new CliUsageException($"{path}:{lineNo}: not valid JSON ({e.Message})."); }
            if (node is not JsonObject o) throw new CliUsageException($"{path}:{lineNo}: expected a JSON object.");
            string question = Text(o["question"] ?? o["prompt"]) ?? throw new CliUsageException($"{path}:{lineNo}: missing \"question\".");
            if (task == "code")
            {
                string tests = o["tests"] switch
                {
                    JsonArray arr => string.Join('\n', arr.Select(Text)),
                    JsonNode n when Text(n) is { } s => s,
                    _ => throw new CliUsageException($"{path}:{lineNo}: a code task needs \"tests\" (a string or an array of strings)."),
                };
                yield return new Item(index++, question, null, tests);
            }
            else
            {
                string answer = Text(o["answer"]) ?? throw new CliUsageException($"{path}:{lineNo}: missing \"answer\".");
                yield return new Item(index++, question, answer, null);
            }
        }
    }

    private static string? Text(JsonNode? n) => n switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonValue v => v.ToJsonString(),
        _ => null,
    };
}
