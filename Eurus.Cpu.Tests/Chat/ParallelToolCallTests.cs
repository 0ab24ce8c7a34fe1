using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Tests.Grammars;
using Microsoft.Extensions.AI;
using Xunit;
using static Eurus.Cpu.Tests.Chat.ToolFixtures;

namespace Eurus.Cpu.Tests.Chat;

/// <summary>
/// Parallel function calls (<see cref="ChatOptions.AllowMultipleToolCalls"/> true): a reply of 1 to
/// <see cref="EurusToolCalling.MaxCallsPerReply"/> calls, one a line, each call's arguments valid for its own tool's
/// schema; several <see cref="FunctionCallContent"/>s (whole and streamed); several calls and results rendered one a
/// line; <see cref="FunctionInvokingChatClient"/> running them all and feeding the results back in order. The demo
/// model, asked for calls with several allowed, goes on to the next call whenever it may (a newline is what it likes
/// most after a closing brace), so its replies hold the most calls the grammar allows.
/// </summary>
public sealed class ParallelToolCallTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// The demo model from a copy whose header says 2048 positions (see <see cref="Shared.LongContextCopy"/>): a reply
    /// of eight calls is about 600 of its tokens, and the next request holds them and their results.
    /// </summary>
    private static EurusModel Load() => EurusModel.Load(s_longContext.Value, new ModelOptions { Threads = 1, ContextLength = 2048 });

    private static readonly Lazy<string> s_longContext = new(() => Shared.LongContextCopy.Write(TestPaths.Q8, 2048));


    private const string Count23 = """{"name": "count", "arguments": {"n": 23}}""";
    private const string Verse = """{"name": "verse", "arguments": {"book": "Psalms", "note": null}}""";

    [Fact]
    public void TheGrammarTakesOneToEightCallsOneALineAndNothingMalformed()
    {
        AITool[] tools = [FindVerse(), CountPsalms()];
        var several = EurusToolCalling.Create(tools, ChatToolMode.RequireAny, allowMultipleCalls: true)!;
        Assert.True(several.AllowsMultipleCalls);
        var g = Grammar.Parse(several.ReplyGbnf!);
        Assert.True(g.Matches(Count23));
        Assert.True(g.Matches(Count23 + "\n" + Verse));
        Assert.True(g.Matches(Verse + "\n" + Count23 + "\n" + Verse));
        Assert.True(g.Matches(string.Join("\n", Enumerable.Repeat(Count23, EurusToolCalling.MaxCallsPerReply))));
        Assert.False(g.Matches(string.Join("\n", Enumerable.Repeat(Count23, EurusToolCalling.MaxCallsPerReply + 1))));
        Assert.False(g.Matches(""));
        Assert.False(g.Matches(Count23 + "\n"));                   // a separator must be followed by a call
        Assert.False(g.Matches(Count23 + "\n\n" + Verse));         // exactly one newline between calls
        Assert.False(g.Matches(Count23 + " " + Verse));
        Assert.False(g.Matches(Count23 + "," + Verse));
        Assert.False(g.Matches("[" + Count23 + ", " + Verse + "]"));
        Assert.False(g.Matches(Count23 + "\n" + """{"name": "count", "arguments": {"n": "x"}}"""));              // each call's own schema
        Assert.False(g.Matches(Count23 + "\n" + """{"name": "verse", "arguments": {"n": 23}}"""));
        Assert.False(g.Matches(Count23 + "\n" + """{"name": "delete_everything", "arguments": {}}"""));
        Assert.False(g.Matches(Count23 + "\nIn the beginning"));

        // Auto with several: calls, or a text answer, not both.
        var auto = Grammar.Parse(EurusToolCalling.Create(tools, ChatToolMode.Auto, allowMultipleCalls: true)!.ReplyGbnf!);
        Assert.True(auto.Matches("In the beginning"));
        Assert.True(auto.Matches(Count23 + "\n" + Verse));
        Assert.False(auto.Matches(Count23 + "\nIn the beginning"));
        // A required function: several calls of it, never of another.
        var specific = Grammar.Parse(EurusToolCalling.Create(tools, ChatToolMode.RequireSpecific("count"), allowMultipleCalls: true)!.ReplyGbnf!);
        Assert.True(specific.Matches(Count23 + "\n" + Count23));
        Assert.False(specific.Matches(Count23 + "\n" + Verse));

        // One call (the default, and false): a second call is not allowed.
        var one = EurusToolCalling.Create(tools, ChatToolMode.RequireAny)!;
        Assert.False(one.AllowsMultipleCalls);
        Assert.True(Grammar.Parse(one.ReplyGbnf!).Matches(Count23));
        Assert.False(Grammar.Parse(one.ReplyGbnf!).Matches(Count23 + "\n" + Verse));
        Assert.Equal(one.ReplyGbnf, EurusToolCalling.Create(tools, ChatToolMode.RequireAny, allowMultipleCalls: false)!.ReplyGbnf);
    }

    [Fact]
    public void SeveralCallsParseInOrderWithIdsOfTheirOwn()
    {
        AITool[] tools = [FindVerse(), CountPsalms()];
        var several = EurusToolCalling.Create(tools, ChatToolMode.RequireAny, allowMultipleCalls: true)!;
        var calls = several.ParseCalls(Verse + "\n" + Count23 + "\n" + """{"name": "count", "arguments": {"n": 24}}""");
        Assert.Equal(["verse", "count", "count"], calls.Select(c => c.Name));
        Assert.Equal(23, ((JsonElement)calls[1].Arguments!["n"]!).GetInt32());
        Assert.Equal(24, ((JsonElement)calls[2].Arguments!["n"]!).GetInt32());
        Assert.Equal(3, calls.Select(c => c.CallId).Distinct().Count());
        Assert.All(calls, c => Assert.StartsWith("call_", c.CallId));
        Assert.Single(several.ParseCalls(Count23));
        Assert.Null(several.ParseCall(Count23 + "\n" + Verse)); // ParseCall is for a reply of exactly one call
        // Malformed or cut short: no calls at all, not the whole ones before.
        Assert.Empty(several.ParseCalls(Count23 + "\n"));
        Assert.Empty(several.ParseCalls(Count23 + "\n" + """{"name": "verse", "arguments": {"book": "Ps"""));
        Assert.Empty(several.ParseCalls(Count23 + "\n\n" + Verse));
        Assert.Empty(several.ParseCalls(Count23 + "\n" + """{"name": "other", "arguments": {}}"""));
        Assert.Empty(several.ParseCalls(string.Join("\n", Enumerable.Repeat(Count23, EurusToolCalling.MaxCallsPerReply + 1))));
        Assert.Equal(EurusToolCalling.MaxCallsPerReply, several.ParseCalls(string.Join("\n", Enumerable.Repeat(Count23, EurusToolCalling.MaxCallsPerReply))).Count);
        // One call allowed: two are not calls.
        var one = EurusToolCalling.Create(tools, ChatToolMode.RequireAny)!;
        Assert.Empty(one.ParseCalls(Count23 + "\n" + Verse));
        Assert.Single(one.ParseCalls(Count23));
    }

    /// <summary>
    /// Random walks through the reply grammar with several calls allowed (random logits over the demo vocabulary, so the
    /// number of calls, whitespace, nulls and numbers all vary): every walk that ends is 1 to 8 calls that parse, each
    /// with arguments an independent validator accepts for its own tool's schema.
    /// </summary>
    [Fact]
    public void EverySentenceOfTheSeveralCallsGrammarIsValidCalls()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        var tools = new List<AIFunctionDeclaration> { FindVerse(), CountPsalms() };
        var grammar = client.ToSamplingSettings(new ChatOptions { Tools = [.. tools], ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = true }).Grammar!;
        var several = EurusToolCalling.Create([.. tools], ChatToolMode.RequireAny, allowMultipleCalls: true)!;
        Assert.Equal(grammar.ToString(), Grammar.Parse(several.ReplyGbnf!).ToString()); // the chat client's grammar is the host format's
        var tok = model.Tokenizer;
        var logits = new float[tok.VocabSize];
        var rng = new Random(11);
        var counts = new SortedDictionary<int, int>();
        for (int walk = 0; walk < 80; walk++)
        {
            var constraint = new GrammarConstraint(grammar, tok);
            var sampler = new Eurus.Cpu.Sampling.Sampler(new Eurus.Cpu.Sampling.SamplingSettings { Seed = (ulong)walk, Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0 }, tok.VocabSize);
            var ids = new List<int>();
            for (int step = 0; ; step++)
            {
                Assert.True(step < 5000, "a walk did not end");
                for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 6);
                // As likely to end as to go on where both are allowed, so that walks of several calls end too.
                logits[tok.EosId] = 6;
                int t = sampler.Sample(logits, [], constraint.Allowed());
                if (t == tok.EosId) break;
                constraint.Accept(t);
                ids.Add(t);
            }
            string text = tok.Decode(ids);
            var calls = several.ParseCalls(text);
            Assert.True(calls.Count > 0, text);
            Assert.Equal(calls.Count, ToolCallFormat.TryParseCalls(text, tools, several: true)!.Count);
            foreach (var call in calls)
            {
                var tool = tools.Single(f => f.Name == call.Name);
                var args = JsonSerializer.SerializeToElement(call.Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!));
                Assert.Null(MiniSchemaValidator.Validate(tool.JsonSchema, args));
            }
            counts[calls.Count] = counts.GetValueOrDefault(calls.Count) + 1;
        }
        output.WriteLine(string.Join(", ", counts.Select(c => $"{c.Key} calls: {c.Value}")));
        Assert.Contains(1, counts.Keys);
        Assert.True(counts.Keys.Max() >= 3, "walks of several calls came up");
    }

    [Fact]
    public async Task RequiredCallsWithSeveralAllowedAreValidCallsWholeAndStreamed()
    {
        using var model = Load();
        using IChatClient client = new EurusChatClient(model);
        AITool[] tools = [FindVerse(), CountPsalms()];
        int most = 0;
        foreach (float temperature in new[] { 0f, 1f })
            for (int seed = 0; seed < 3; seed++)
            {
                var options = new ChatOptions
                {
                    Tools = tools, ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = true, Temperature = temperature, Seed = seed, MaxOutputTokens = 1200,
                };
                var response = await client.GetResponseAsync("How many verses have Psalm 23 and Psalm 24?", options);
                var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
                output.WriteLine($"t={temperature} seed={seed}: {calls.Count} calls, {response.Usage!.OutputTokenCount} tokens: {string.Join(" ", calls.Select(c => $"{c.Name}({JsonSerializer.Serialize(c.Arguments)})"))}");
                Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
                Assert.InRange(calls.Count, 1, EurusToolCalling.MaxCallsPerReply);
                Assert.Equal(calls.Count, calls.Select(c => c.CallId).Distinct().Count());
                Assert.Equal("", response.Text);
                foreach (var call in calls)
                {
                    var tool = (AIFunctionDeclaration)tools.Single(t => t.Name == call.Name);
                    var args = JsonSerializer.SerializeToElement(call.Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!));
                    Assert.Null(MiniSchemaValidator.Validate(tool.JsonSchema, args));
                }
                most = Math.Max(most, calls.Count);

                // Streamed: no text, all the calls in the last update with the finish reason; the same calls as the
                // whole response (same seed, same tokens), with ids of their own.
                var updates = await client.GetStreamingResponseAsync("How many verses have Psalm 23 and Psalm 24?", options).ToListAsync();
                Assert.All(updates, u => Assert.Equal("", u.Text));
                var streamed = updates[^1].Contents.OfType<FunctionCallContent>().ToList();
                Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
                Assert.Equal(calls.Select(c => c.Name + JsonSerializer.Serialize(c.Arguments)), streamed.Select(c => c.Name + JsonSerializer.Serialize(c.Arguments)));
                Assert.Empty(streamed.Select(c => c.CallId).Intersect(calls.Select(c => c.CallId)));
                Assert.Equal(streamed.Count, updates.ToChatResponse().Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Count());
                if (temperature == 0) break;
            }
        Assert.True(most >= 2, "some reply held several calls");

        // Explicitly one call (false), as by default (null): one call, and the one-call preamble.
        foreach (bool? allow in new bool?[] { false, null })
        {
            var one = await client.GetResponseAsync("How many verses have Psalm 23 and Psalm 24?",
                new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = allow, Temperature = 1, Seed = 1, MaxOutputTokens = 300 });
            Assert.Single(one.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        }
        Assert.Contains("to call several, one such object a line", ToolPlan.For(new ChatOptions { Tools = tools, AllowMultipleToolCalls = true })!.Preamble);
        Assert.DoesNotContain("several", ToolPlan.For(new ChatOptions { Tools = tools })!.Preamble);
        Assert.Equal(ToolPlan.For(new ChatOptions { Tools = tools })!.Preamble, ToolPlan.For(new ChatOptions { Tools = tools, AllowMultipleToolCalls = false })!.Preamble);
    }

    [Fact]
    public void SeveralCallsAndTheirResultsAreRenderedOneALine()
    {
        using var model = Load();
        var c1 = new FunctionCallContent("c1", "count", new Dictionary<string, object?> { ["n"] = 23 });
        var c2 = new FunctionCallContent("c2", "verse", new Dictionary<string, object?> { ["book"] = "Job" });
        var options = new ChatOptions { Tools = [FindVerse(), CountPsalms()], AllowMultipleToolCalls = true };
        string preamble = ToolPlan.For(options)!.Preamble;
        ChatMessage User() => new(ChatRole.User, "How long are Psalm 23 and Job?");
        // FunctionInvokingChatClient's shape (the results in one tool message) and OpenAI's (a tool message per result).
        List<ChatMessage> oneMessage = [User(), new(ChatRole.Assistant, [c1, c2]), new(ChatRole.Tool, [new FunctionResultContent("c1", 6), new FunctionResultContent("c2", "42 chapters")])];
        List<ChatMessage> twoMessages = [User(), new(ChatRole.Assistant, [c1, c2]), new(ChatRole.Tool, [new FunctionResultContent("c1", 6)]), new(ChatRole.Tool, [new FunctionResultContent("c2", "42 chapters")])];
        var ids = MistralChatPrompt.Encode(model.Tokenizer, oneMessage, preamble);
        Assert.Equal(ids, MistralChatPrompt.Encode(model.Tokenizer, twoMessages, preamble));
        string text = model.Tokenizer.Decode(ids);
        output.WriteLine(text);
        string expected =
            "[INST] " + preamble + "\n\nHow long are Psalm 23 and Job? [/INST]" +
            """{"name": "count", "arguments": {"n":23}}""" + "\n" + """{"name": "verse", "arguments": {"book":"Job"}}""" +
            " [INST] Function result (count): 6\nFunction result (verse): 42 chapters [/INST]";
        Assert.Equal(expected, text.TrimStart());
        Assert.Equal(1, ids.Count(i => i == model.Tokenizer.EosId));
        // A user message after a tool message is still its own paragraph.
        var withUser = MistralChatPrompt.Encode(model.Tokenizer, [.. twoMessages, new(ChatRole.User, "Thanks.")], preamble);
        Assert.EndsWith("Function result (verse): 42 chapters\n\nThanks. [/INST]", model.Tokenizer.Decode(withUser));
    }

    /// <summary>
    /// <see cref="FunctionInvokingChatClient"/> over the chat client with several calls allowed: every call of the first
    /// reply is invoked, in order, with its parsed arguments; the next request carries the calls (one assistant
    /// message) and their results (in the calls' order), rendered one a line. (That request is the loop's last, which
    /// Microsoft.Extensions.AI sends without tools, so its prompt has no preamble; the one-call test checks the cache.
    /// Its answer is only checked to be the assistant's, so it is cut at a few tokens: a free-text answer of the demo
    /// model runs to hundreds.)
    /// </summary>
    [Fact]
    public async Task FunctionInvokingChatClientRunsSeveralCallsOfOneTurn()
    {
        using var model = Load();
        foreach (bool streaming in new[] { false, true })
        {
            var invoked = new List<int>();
            var recorder = new RecordingChatClient(new EurusChatClient(model)) { LaterMaxOutputTokens = 4 };
            // One round trip: the calls, their results, and one more request (the loop's last: it ends there).
            using IChatClient client = new FunctionInvokingChatClient(recorder) { MaximumIterationsPerRequest = 1 };
            var options = new ChatOptions { Tools = [CountPsalms(invoked.Add)], ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = true, Temperature = 0.8f, Seed = 5, MaxOutputTokens = 800 };
            ChatResponse response = streaming
                ? (await client.GetStreamingResponseAsync("How many verses have Psalm 23 and Psalm 24?", options).ToListAsync()).ToChatResponse()
                : await client.GetResponseAsync("How many verses have Psalm 23 and Psalm 24?", options);
            foreach (var m in response.Messages) output.WriteLine($"{(streaming ? "streamed " : "")}{m.Role}: {string.Join(" ", m.Contents.Select(Describe))}");

            var firstTurn = response.Messages.First(m => m.Contents.OfType<FunctionCallContent>().Any());
            var calls = firstTurn.Contents.OfType<FunctionCallContent>().ToList();
            Assert.True(calls.Count >= 2, $"{calls.Count} calls");
            Assert.Equal(calls.Select(c => ((JsonElement)c.Arguments!["n"]!).GetInt32()), invoked);
            var results = response.Messages.First(m => m.Role == ChatRole.Tool).Contents.OfType<FunctionResultContent>().ToList();
            Assert.Equal(calls.Select(c => c.CallId), results.Select(r => r.CallId));

            Assert.True(recorder.Requests.Count >= 2);
            var second = recorder.Requests[1];
            Assert.Equal([ChatRole.User, ChatRole.Assistant, ChatRole.Tool], second.Select(m => m.Role));
            Assert.Equal(calls.Select(c => c.CallId), second[1].Contents.OfType<FunctionCallContent>().Select(c => c.CallId));
            Assert.Equal(calls.Select(c => c.CallId), second[2].Contents.OfType<FunctionResultContent>().Select(r => r.CallId));
            string rendered = model.Tokenizer.Decode(EurusChatClient.EncodePrompt(model.Tokenizer, second));
            string callLines = string.Join("\n", calls.Select(c => "{\"name\": \"count\", \"arguments\": {\"n\":" + ((JsonElement)c.Arguments!["n"]!).GetRawText() + "}}"));
            string resultLines = string.Join("\n", invoked.Select(n => $"Function result (count): \"Psalm {n} has some verses\""));
            Assert.Contains("[/INST]" + callLines + " [INST] " + resultLines + " [/INST]", rendered);
            Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        }
    }

    private sealed class RecordingChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public List<List<ChatMessage>> Requests { get; } = [];

        /// <summary>When set, the most tokens of every request after the first (whose answer the test does not read).</summary>
        public int? LaterMaxOutputTokens { get; init; }

        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Requests.Add([.. messages]);
            return base.GetResponseAsync(messages, Later(options), cancellationToken);
        }

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Requests.Add([.. messages]);
            return base.GetStreamingResponseAsync(messages, Later(options), cancellationToken);
        }

        private ChatOptions? Later(ChatOptions? options)
        {
            if (Requests.Count < 2 || LaterMaxOutputTokens is not int max) return options;
            var later = options?.Clone() ?? new ChatOptions();
            later.MaxOutputTokens = max;
            return later;
        }
    }

    private static string Describe(AIContent c) => c switch
    {
        FunctionCallContent f => $"call {f.Name}({JsonSerializer.Serialize(f.Arguments)})",
        FunctionResultContent r => $"result {r.Result}",
        TextContent t => $"text '{t.Text}'",
        _ => c.GetType().Name,
    };
}
