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
/// Function calling through <see cref="EurusChatClient"/>: <see cref="ChatOptions.Tools"/> and every
/// <see cref="ChatToolMode"/>. The demo model knows only the King James Bible and no tool format (neither does
/// Eurus-7B-KTO), so these tests check the mechanics: the grammar makes every call parse and its arguments valid
/// against the tool's schema, <see cref="FunctionInvokingChatClient"/> invokes the function, feeds the result back and
/// gets a final text answer, and the prompt renders calls and results in the documented format.
/// </summary>
public sealed class ToolCallingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// The demo model from a copy whose <c>llama.context_length</c> says 1024 instead of 256: its small vocabulary spends
    /// about a token per JSON character, so 256 positions cannot hold the tool preamble and a function-calling round
    /// trip. Same weights; past 256 positions its text gets worse, which does not matter for the mechanics checked here.
    /// </summary>
    private static EurusModel Load() => EurusModel.Load(s_longContext.Value, new ModelOptions { Threads = 1, ContextLength = 1024 });

    private static readonly Lazy<string> s_longContext = new(() => Shared.LongContextCopy.Write(TestPaths.Q8, 1024));


    [Fact]
    public async Task RequiredCallsParseAndTheirArgumentsMatchTheSchema()
    {
        using var model = Load();
        using IChatClient client = new EurusChatClient(model);
        AITool[] tools = [FindVerse(), CountPsalms()];
        var names = new Dictionary<string, int>();
        int calls = 0;
        foreach (float temperature in new[] { 0f, 0.7f, 1.3f })
            for (int seed = 0; seed < 5; seed++)
            {
                var response = await client.GetResponseAsync("Where is the verse about the shepherd?",
                    new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireAny, Temperature = temperature, Seed = seed, MaxOutputTokens = 300 });
                output.WriteLine($"t={temperature} seed={seed}: {string.Join(" ", response.Messages.SelectMany(m => m.Contents).Select(Describe))}");
                Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
                var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
                Assert.StartsWith("call_", call.CallId);
                var tool = (AIFunctionDeclaration)tools.Single(t => t.Name == call.Name);
                var args = JsonSerializer.SerializeToElement(call.Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!));
                Assert.Null(MiniSchemaValidator.Validate(tool.JsonSchema, args));
                Assert.Equal("", response.Text);
                names[call.Name] = names.GetValueOrDefault(call.Name) + 1;
                calls++;
                if (temperature == 0) break;
            }
        Assert.Equal(11, calls);
        output.WriteLine(string.Join(", ", names.Select(n => $"{n.Key}: {n.Value}")));
    }

    /// <summary>
    /// Without the model's preferences: 300 random walks through the RequireAny reply grammar (random logits, so
    /// whitespace, nulls, odd strings and long numbers all come up) over the demo vocabulary. Every walk that ends is a
    /// call that parses, names a tool and has arguments an independent validator accepts for that tool's schema.
    /// </summary>
    [Fact]
    public void EverySentenceOfTheCallGrammarIsAValidCall()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        var tools = new List<AIFunctionDeclaration> { FindVerse(), CountPsalms() };
        var grammar = client.ToSamplingSettings(new ChatOptions { Tools = [.. tools], ToolMode = ChatToolMode.RequireAny }).Grammar!;
        var tok = model.Tokenizer;
        var logits = new float[tok.VocabSize];
        var rng = new Random(7);
        var seen = new HashSet<string>();
        for (int walk = 0; walk < 300; walk++)
        {
            var constraint = new GrammarConstraint(grammar, tok);
            var sampler = new Eurus.Cpu.Sampling.Sampler(new Eurus.Cpu.Sampling.SamplingSettings { Seed = (ulong)walk, Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0 }, tok.VocabSize);
            var ids = new List<int>();
            for (int step = 0; ; step++)
            {
                Assert.True(step < 1000, "a walk did not end");
                for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 6);
                int t = sampler.Sample(logits, [], constraint.Allowed());
                if (t == tok.EosId) break;
                constraint.Accept(t);
                ids.Add(t);
            }
            string text = tok.Decode(ids);
            var call = ToolCallFormat.TryParseCall(text, tools);
            Assert.True(call is not null, text);
            var tool = tools.Single(f => f.Name == call!.Name);
            var args = JsonSerializer.SerializeToElement(call!.Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!));
            Assert.Null(MiniSchemaValidator.Validate(tool.JsonSchema, args));
            seen.Add(call.Name + ":" + string.Join(",", call.Arguments!.Keys.Order()));
        }
        output.WriteLine(string.Join("; ", seen));
        // Both tools, and the verse with and without its optional note, came up.
        Assert.Contains("count:n", seen);
        Assert.Contains("verse:book", seen);
        Assert.Contains("verse:book,note", seen);
    }

    [Fact]
    public async Task RequireSpecificCallsThatFunctionAndStreamsTheCallAtTheEnd()
    {
        using var model = Load();
        using IChatClient client = new EurusChatClient(model);
        AITool[] tools = [FindVerse(), CountPsalms()];
        for (int seed = 0; seed < 4; seed++)
        {
            var options = new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireSpecific("count"), Temperature = 1, Seed = seed, MaxOutputTokens = 200 };
            var updates = new List<ChatResponseUpdate>();
            await foreach (var u in client.GetStreamingResponseAsync("How long is the first psalm?", options)) updates.Add(u);
            // Nothing is streamed as text: the call comes whole, in the last update, with the finish reason.
            Assert.All(updates, u => Assert.Equal("", u.Text));
            var call = Assert.IsType<FunctionCallContent>(Assert.Single(updates[^1].Contents.OfType<FunctionCallContent>()));
            Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
            Assert.Equal("count", call.Name);
            var args = JsonSerializer.SerializeToElement(call.Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!));
            Assert.Null(MiniSchemaValidator.Validate(((AIFunction)tools[1]).JsonSchema, args));
            // The whole response holds the same call (same seed, same tokens).
            var whole = await client.GetResponseAsync("How long is the first psalm?", options);
            var again = Assert.Single(whole.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
            Assert.Equal(JsonSerializer.Serialize(call.Arguments), JsonSerializer.Serialize(again.Arguments));
        }
    }

    [Fact]
    public async Task AutoGivesEitherAWholeCallOrTextNotStartingWithABrace()
    {
        using var model = Load();
        using IChatClient client = new EurusChatClient(model);
        AITool[] tools = [FindVerse(), CountPsalms()];
        int text = 0, calls = 0;
        for (int seed = 0; seed < 8; seed++)
        {
            var response = await client.GetResponseAsync("Count the verses of Psalm 23.",
                new ChatOptions { Tools = tools, ToolMode = ChatToolMode.Auto, Temperature = 1, Seed = seed, MaxOutputTokens = 40 });
            output.WriteLine($"seed={seed} {response.FinishReason}: {string.Join(" ", response.Messages.SelectMany(m => m.Contents).Select(Describe))}");
            var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().SingleOrDefault();
            if (call is not null)
            {
                Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
                calls++;
            }
            else
            {
                Assert.NotEqual(ChatFinishReason.ToolCalls, response.FinishReason);
                // A reply starting with '{' is a call attempt: only a cut-short one (token budget) stays text.
                if (response.Text.StartsWith('{')) Assert.Equal(ChatFinishReason.Length, response.FinishReason);
                text++;
            }
        }
        Assert.Equal(8, text + calls);
        output.WriteLine($"{calls} calls, {text} texts");
        // The grammar lets both through: a forced '{' start must continue as a call of one of the tools.
        var settings = ((EurusChatClient)client).ToSamplingSettings(new ChatOptions { Tools = tools });
        Assert.True(settings.Grammar!.Matches("In the beginning"));
        Assert.True(settings.Grammar.Matches(""));
        Assert.True(settings.Grammar.Matches("""{"name": "count", "arguments": {"n": 23}}"""));
        Assert.True(settings.Grammar.Matches("""{"name": "verse", "arguments": {"book": "Psalms", "note": null}}"""));
        Assert.False(settings.Grammar.Matches("""{"name": "count", "arguments": {"n": "x"}}"""));
        Assert.False(settings.Grammar.Matches("""{"name": "verse", "arguments": {"book": "Psalms", "note": "too long"}}"""));
        Assert.False(settings.Grammar.Matches("""{"name": "delete_everything", "arguments": {}}"""));
        Assert.False(settings.Grammar.Matches("{ hello"));
    }

    [Fact]
    public async Task NoneOffersTheToolsButNeverCalls()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        AITool[] tools = [FindVerse(), CountPsalms()];
        var options = new ChatOptions { Tools = tools, ToolMode = ChatToolMode.None, Temperature = 1, Seed = 3, MaxOutputTokens = 12 };
        Assert.Null(client.ToSamplingSettings(options).Grammar);
        var response = await client.GetResponseAsync("Count the verses of Psalm 23.", options);
        Assert.NotEqual(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Empty(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        // The preamble is in the prompt whatever the mode (so a function-calling loop keeps its cached prefix).
        var none = MistralChatPrompt.Encode(model.Tokenizer, [new(ChatRole.User, "x")], ToolPlan.For(options)!.Preamble);
        var auto = MistralChatPrompt.Encode(model.Tokenizer, [new(ChatRole.User, "x")], ToolPlan.For(new ChatOptions { Tools = tools })!.Preamble);
        Assert.Equal(auto, none);
        Assert.Equal(response.Usage!.InputTokenCount, MistralChatPrompt.Encode(model.Tokenizer, [new(ChatRole.User, "Count the verses of Psalm 23.")], ToolPlan.For(options)!.Preamble).Count);
    }

    [Fact]
    public async Task FunctionInvokingChatClientRunsTheLoop()
    {
        using var model = Load();
        foreach (bool streaming in new[] { false, true })
        {
            var invoked = new List<int>();
            using IChatClient client = new ChatClientBuilder(new EurusChatClient(model)).UseFunctionInvocation().Build();
            // The grammar bounds a call (at most a newline and 20 indentation characters between JSON tokens, 16 digits per
            // number part), so the token budgets here hold any call of these tools, whatever path sampling takes.
            var options = new ChatOptions { Tools = [CountPsalms(invoked.Add)], ToolMode = ChatToolMode.RequireAny, Temperature = 0.8f, Seed = 5, MaxOutputTokens = 200 };
            ChatResponse response;
            if (streaming)
            {
                var updates = new List<ChatResponseUpdate>();
                await foreach (var u in client.GetStreamingResponseAsync("How many verses has Psalm 23?", options)) updates.Add(u);
                response = updates.ToChatResponse();
            }
            else response = await client.GetResponseAsync("How many verses has Psalm 23?", options);
            foreach (var m in response.Messages) output.WriteLine($"{(streaming ? "streamed " : "")}{m.Role}: {string.Join(" ", m.Contents.Select(Describe))}");

            // The call, its result (the function really ran, once, with the parsed argument), then a text answer.
            int n = Assert.Single(invoked);
            var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
            Assert.Equal(n, ((JsonElement)call.Arguments!["n"]!).GetInt32());
            var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>());
            Assert.Equal(call.CallId, result.CallId);
            Assert.Contains($" {n} has ", result.Result?.ToString());
            Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
            Assert.NotEqual(ChatFinishReason.ToolCalls, response.FinishReason);
            Assert.False(string.IsNullOrEmpty(response.Messages[^1].Text));
            // The second request (its mode switched from RequireAny to auto by the loop) reused the cached first prompt:
            // the preamble does not depend on the mode.
            var inner = client.GetService<EurusChatClient>()!;
            int first = MistralChatPrompt.Encode(model.Tokenizer, [new(ChatRole.User, "How many verses has Psalm 23?")], ToolPlan.For(options)!.Preamble).Count;
            output.WriteLine($"reused {inner.LastReusedTokens} of the first prompt's {first} tokens");
            Assert.True(inner.LastReusedTokens >= first, $"{inner.LastReusedTokens} < {first}");
        }
    }

    [Fact]
    public void CallsAndResultsAreRenderedInTheDocumentedFormat()
    {
        using var model = Load();
        var call = new FunctionCallContent("c1", "count", new Dictionary<string, object?> { ["n"] = 23 });
        List<ChatMessage> conversation =
        [
            new(ChatRole.System, "Be brief."),
            new(ChatRole.User, "How long is Psalm 23?"),
            new(ChatRole.Assistant, [call]),
            new(ChatRole.Tool, [new FunctionResultContent("c1", 6)]),
            new(ChatRole.Assistant, "Six verses."),
            new(ChatRole.User, "And Psalm 24?"),
            new(ChatRole.Assistant, [new FunctionCallContent("c2", "count", new Dictionary<string, object?> { ["n"] = 24 })]),
            new(ChatRole.Tool, [new FunctionResultContent("c2", null) { Exception = new InvalidOperationException("no such psalm") }]),
        ];
        string preamble = ToolPlan.For(new ChatOptions { Tools = [CountPsalms()] })!.Preamble;
        var ids = MistralChatPrompt.Encode(model.Tokenizer, conversation, preamble);
        string text = model.Tokenizer.Decode(ids);
        output.WriteLine(text);
        string expected =
            "[INST] Be brief.\n\n" + preamble + "\n\nHow long is Psalm 23? [/INST]" +
            """{"name": "count", "arguments": {"n":23}}""" +
            " [INST] Function result (count): 6 [/INST]Six verses." +
            " [INST] And Psalm 24? [/INST]" + """{"name": "count", "arguments": {"n":24}}""" +
            " [INST] Function count failed: no such psalm [/INST]";
        Assert.Equal(expected, text.TrimStart());
        Assert.Contains("- count: Counts verses.\n", preamble);
        Assert.Contains("\"n\":{\"description\":\"psalm\",\"type\":\"integer\"}", preamble);
        output.WriteLine($"{ids.Count} tokens");
        // BOS, and EOS after each answered exchange: the special ids are there, never parsed from text.
        Assert.Equal(model.Tokenizer.BosId, ids[0]);
        Assert.Equal(3, ids.Count(i => i == model.Tokenizer.EosId));
    }

    [Fact]
    public void BadToolsAreTypedErrors()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        var pattern = AIFunctionFactory.CreateDeclaration("lookup", null,
            JsonDocument.Parse("""{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]+$"}}}""").RootElement);
        var e = Assert.Throws<JsonSchemaGrammarException>(() => client.ToSamplingSettings(new ChatOptions { Tools = [FindVerse(), pattern] }));
        Assert.Equal("pattern", e.Keyword);
        Assert.Equal("/properties/code", e.SchemaPath);
        Assert.Contains("tool 'lookup'", e.Message);
        // With ToolMode.None no grammar is built, so the unsupported schema does not matter.
        Assert.Null(client.ToSamplingSettings(new ChatOptions { Tools = [pattern], ToolMode = ChatToolMode.None }).Grammar);
        Assert.Throws<NotSupportedException>(() => client.ToSamplingSettings(new ChatOptions { Tools = [new HostedCodeInterpreterTool()] }));
        Assert.Throws<ArgumentException>(() => client.ToSamplingSettings(new ChatOptions { Tools = [CountPsalms(), CountPsalms()] }));
        Assert.Throws<ArgumentException>(() => client.ToSamplingSettings(new ChatOptions { Tools = [CountPsalms()], ToolMode = ChatToolMode.RequireSpecific("nope") }));
        // A schema whose $refs resolve within each tool: two tools with a definition of one name get distinct rules.
        var a = AIFunctionFactory.CreateDeclaration("a", null, JsonDocument.Parse("""{"type":"object","properties":{"x":{"$ref":"#/$defs/T"}},"required":["x"],"$defs":{"T":{"type":"integer"}}}""").RootElement);
        var b = AIFunctionFactory.CreateDeclaration("b", null, JsonDocument.Parse("""{"type":"object","properties":{"x":{"$ref":"#/$defs/T"}},"required":["x"],"$defs":{"T":{"type":"boolean"}}}""").RootElement);
        var g = client.ToSamplingSettings(new ChatOptions { Tools = [a, b], ToolMode = ChatToolMode.RequireAny }).Grammar!;
        Assert.True(g.Matches("""{"name": "a", "arguments": {"x":1}}"""));
        Assert.True(g.Matches("""{"name": "b", "arguments": {"x":true}}"""));
        Assert.False(g.Matches("""{"name": "a", "arguments": {"x":true}}"""));
        Assert.False(g.Matches("""{"name": "b", "arguments": {"x":1}}"""));
        Assert.False(g.Matches("Hello"));
    }

    [Fact]
    public async Task AFunctionWithoutParametersIsCalledWithNoArgumentsAndOddNamesSurvive()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        int calls = 0;
        var amen = AIFunctionFactory.Create(() => { calls++; return "Amen"; }, "say \"amen\"\n\\", "Says amen.");
        Assert.Contains("\"properties\":{}", ToolCallFormat.SchemaText(amen));
        for (int seed = 0; seed < 3; seed++)
        {
            var response = await client.GetResponseAsync("Pray.", new ChatOptions { Tools = [amen], ToolMode = ChatToolMode.RequireAny, Temperature = 1.2f, Seed = seed, MaxOutputTokens = 150 });
            var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
            Assert.Equal(amen.Name, call.Name);
            Assert.Empty(call.Arguments!);
            Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        }
        var g = client.ToSamplingSettings(new ChatOptions { Tools = [amen], ToolMode = ChatToolMode.RequireAny }).Grammar!;
        Assert.True(g.Matches("{\"name\": \"say \\\"amen\\\"\\n\\\\\", \"arguments\": {}}"));
        Assert.False(g.Matches("{\"name\": \"say \\\"amen\\\"\\n\\\\\", \"arguments\": {\"x\": 1}}"));
        // Invoked through the loop, it runs once.
        using IChatClient loop = new ChatClientBuilder(new EurusChatClient(model)).UseFunctionInvocation().Build();
        await loop.GetResponseAsync("Pray.", new ChatOptions { Tools = [amen], ToolMode = ChatToolMode.RequireAny, Seed = 1, MaxOutputTokens = 150 });
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task ToolsWithAJsonResponseFormatAnswerInThatSchema()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        var format = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}""").RootElement);
        var options = new ChatOptions { Tools = [CountPsalms()], ResponseFormat = format, Temperature = 1, Seed = 1, MaxOutputTokens = 80 };
        var g = client.ToSamplingSettings(options).Grammar!;
        Assert.True(g.Matches("""{"ok":true}"""));
        Assert.True(g.Matches("""{"name": "count", "arguments": {"n": 1}}"""));
        Assert.False(g.Matches("plain text"));
        var response = await client.GetResponseAsync("Is Psalm 23 long?", options);
        var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().SingleOrDefault();
        if (call is null) Assert.True(g.Matches(response.Text) || response.FinishReason == ChatFinishReason.Length, response.Text);
    }

    private static string Describe(AIContent c) => c switch
    {
        FunctionCallContent f => $"call {f.Name}({JsonSerializer.Serialize(f.Arguments)})",
        FunctionResultContent r => $"result {r.Result}",
        TextContent t => $"text '{t.Text}'",
        _ => c.GetType().Name,
    };
}
