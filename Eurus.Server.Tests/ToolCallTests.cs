using System.ClientModel;
using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Sampling;
using OpenAI;
using OpenAI.Chat;
using Meai = Microsoft.Extensions.AI;

namespace Eurus.Server.Tests;

/// <summary>
/// OpenAI's <c>tools</c> and <c>tool_choice</c> on /v1/chat/completions, through the official OpenAI .NET client. The
/// demo model knows no tool format (neither does Eurus-7B-KTO; the format is Eurus.Cpu's own), so these check the
/// mechanics: calls come back as OpenAI tool calls whose arguments are valid for the tool's schema, greedy requests
/// give exactly what the library's <see cref="EurusChatClient"/> gives for the same conversation and tools, a
/// conversation with a call and its result is rendered in the library's format, and bad requests are 400s. These ask
/// for one call per reply (<c>parallel_tool_calls: false</c>, the library's default); several calls are
/// <see cref="ParallelToolCallTests"/>'.
/// </summary>
public sealed class ToolCallTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // Small schemas (the preamble describes each tool with its schema); bounded strings, which the tiny model closes.
    private const string VerseSchema = """
        {"type":"object","properties":{"book":{"enum":["Job","Psalms"]},"note":{"type":["string","null"],"maxLength":4}},"required":["book"]}
        """;
    private const string CountSchema = """{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}""";
    private const string Question = "Where is the verse about the shepherd?";

    private static ChatTool[] Tools() =>
    [
        ChatTool.CreateFunctionTool("verse", null, BinaryData.FromString(VerseSchema)),
        ChatTool.CreateFunctionTool("count", "Counts verses.", BinaryData.FromString(CountSchema)),
    ];

    private static Meai.AITool[] LibraryTools() =>
    [
        Meai.AIFunctionFactory.CreateDeclaration("verse", null, JsonDocument.Parse(VerseSchema).RootElement),
        Meai.AIFunctionFactory.CreateDeclaration("count", "Counts verses.", JsonDocument.Parse(CountSchema).RootElement),
    ];

    private static Task<TestServer> Start(int parallel = 1) =>
        TestServer.StartAsync(new ServerOptions { Parallel = parallel }, modelPath: LongContextModel.Path, contextLength: LongContextModel.ContextLength);

    private static ChatClient Client(TestServer server) =>
        new("kjv-tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl + "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    /// <summary>The arguments are a JSON object valid for the named tool's schema (written out for these two schemas).</summary>
    private static void AssertValidArguments(string name, string arguments)
    {
        using var doc = JsonDocument.Parse(arguments);
        var a = doc.RootElement;
        Assert.Equal(JsonValueKind.Object, a.ValueKind);
        var keys = a.EnumerateObject().Select(p => p.Name).ToList();
        if (name == "verse")
        {
            Assert.Contains(a.GetProperty("book").GetString(), new[] { "Job", "Psalms" });
            Assert.Equal(JsonValueKind.String, a.GetProperty("book").ValueKind);
            if (a.TryGetProperty("note", out var note))
                Assert.True(note.ValueKind == JsonValueKind.Null || note.ValueKind == JsonValueKind.String && note.GetString()!.Length <= 4, arguments);
            Assert.Empty(keys.Except(["book", "note"]));
        }
        else
        {
            Assert.Equal("count", name);
            Assert.True(a.GetProperty("n").TryGetInt64(out _), arguments);
            Assert.Equal(["n"], keys);
        }
    }

    [Fact]
    public async Task RequiredCallsComeBackAsToolCallsWhoseArgumentsMatchTheSchemaAsTheLibraryMakesThem()
    {
        await using var server = await Start(parallel: 2);
        var client = Client(server);
        // Greedy: the same call as the library's chat client makes for the same conversation and tools.
        using (var model = LongContextModel.Load())
        using (var library = new EurusChatClient(model))
        {
            var expected = await library.GetResponseAsync([new Meai.ChatMessage(Meai.ChatRole.User, Question)], new Meai.ChatOptions
            {
                Tools = LibraryTools(), ToolMode = Meai.ChatToolMode.RequireAny, Temperature = 0, MaxOutputTokens = 300,
            });
            var expectedCall = Assert.Single(expected.Messages.SelectMany(m => m.Contents).OfType<Meai.FunctionCallContent>());
            var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 300, ToolChoice = ChatToolChoice.CreateRequiredChoice(), AllowParallelToolCalls = false };
            foreach (var t in Tools()) options.Tools.Add(t);
            ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage(Question)], options);
            Assert.Equal(ChatFinishReason.ToolCalls, whole.FinishReason);
            Assert.Empty(whole.Content);
            var call = Assert.Single(whole.ToolCalls);
            output.WriteLine($"greedy: {call.FunctionName} {call.FunctionArguments}");
            Assert.StartsWith("call_", call.Id);
            Assert.Equal(expectedCall.Name, call.FunctionName);
            Assert.Equal(JsonSerializer.Serialize(expectedCall.Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!)),
                JsonSerializer.Serialize(JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement));
            AssertValidArguments(call.FunctionName, call.FunctionArguments.ToString());
            Assert.Equal(expected.Usage!.InputTokenCount, whole.Usage.InputTokenCount);
        }

        // Sampled, and a required specific function: always a call, always valid.
        for (int seed = 0; seed < 3; seed++)
        {
            var options = new ChatCompletionOptions
            {
                Temperature = 1.2f, Seed = seed, MaxOutputTokenCount = 300, AllowParallelToolCalls = false,
                ToolChoice = seed == 2 ? ChatToolChoice.CreateFunctionChoice("count") : ChatToolChoice.CreateRequiredChoice(),
            };
            foreach (var t in Tools()) options.Tools.Add(t);
            ChatCompletion c = await client.CompleteChatAsync([new UserChatMessage(Question)], options);
            var call = Assert.Single(c.ToolCalls);
            output.WriteLine($"seed {seed}: {call.FunctionName} {call.FunctionArguments}");
            Assert.Equal(ChatFinishReason.ToolCalls, c.FinishReason);
            if (seed == 2) Assert.Equal("count", call.FunctionName);
            AssertValidArguments(call.FunctionName, call.FunctionArguments.ToString());
        }

        // n = 2: each choice is a call of its own (raw HTTP: the official client reads only the first choice).
        using var resp = await server.PostAsync("/v1/chat/completions", $$$"""
            {"messages": [{"role": "user", "content": "{{{Question}}}"}], "n": 2, "temperature": 1.2, "seed": 5, "max_tokens": 300,
             "tool_choice": "required", "parallel_tool_calls": false, "tools": [{"type": "function", "function": {"name": "verse", "parameters": {{{VerseSchema}}}}},
             {"type": "function", "function": {"name": "count", "parameters": {{{CountSchema}}}}}]}
            """);
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.IsSuccessStatusCode, body);
        using var doc = JsonDocument.Parse(body);
        var choices = doc.RootElement.GetProperty("choices");
        Assert.Equal(2, choices.GetArrayLength());
        foreach (var choice in choices.EnumerateArray())
        {
            Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
            var message = choice.GetProperty("message");
            Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
            var call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray().ToList());
            Assert.Equal("function", call.GetProperty("type").GetString());
            var f = call.GetProperty("function");
            AssertValidArguments(f.GetProperty("name").GetString()!, f.GetProperty("arguments").GetString()!);
        }
    }

    [Fact]
    public async Task StreamedCallsComeWholeInOneDeltaAtTheEnd()
    {
        await using var server = await Start();
        var client = Client(server);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 300, ToolChoice = ChatToolChoice.CreateFunctionChoice("verse"), AllowParallelToolCalls = false };
        foreach (var t in Tools()) options.Tools.Add(t);
        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage(Question)], options);
        var wholeCall = Assert.Single(whole.ToolCalls);

        var updates = new List<StreamingChatToolCallUpdate>();
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var u in client.CompleteChatStreamingAsync([new UserChatMessage(Question)], options))
        {
            updates.AddRange(u.ToolCallUpdates);
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
            finish ??= u.FinishReason;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal("", text.ToString()); // the call's JSON is not streamed as text
        var update = Assert.Single(updates);
        Assert.Equal(0, update.Index);
        Assert.StartsWith("call_", update.ToolCallId);
        Assert.Equal("verse", update.FunctionName);
        Assert.Equal(wholeCall.FunctionArguments.ToString(), update.FunctionArgumentsUpdate.ToString());
        AssertValidArguments("verse", update.FunctionArgumentsUpdate.ToString());

        // The raw stream: the call's delta, then a last chunk with finish_reason tool_calls.
        var events = await server.StreamAsync("/v1/chat/completions", $$$"""
            {"messages": [{"role": "user", "content": "{{{Question}}}"}], "stream": true, "temperature": 0, "max_tokens": 300, "parallel_tool_calls": false,
             "tool_choice": {"type": "function", "function": {"name": "verse"}}, "tools": [{"type": "function", "function": {"name": "verse", "parameters": {{{VerseSchema}}}}}]}
            """);
        var choices = events.Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        int withCall = choices.FindIndex(c => c.GetProperty("delta").TryGetProperty("tool_calls", out _));
        Assert.True(withCall > 0);
        Assert.Equal("tool_calls", choices[^1].GetProperty("finish_reason").GetString());
        Assert.Equal(withCall, choices.Count - 2);

        // n = 2 streamed: each choice gets its own call delta (index 0 within the choice) before its tool_calls finish.
        await using var two = await Start(parallel: 2);
        events = await two.StreamAsync("/v1/chat/completions", $$$"""
            {"messages": [{"role": "user", "content": "{{{Question}}}"}], "stream": true, "n": 2, "temperature": 1.2, "seed": 3, "max_tokens": 300,
             "tool_choice": "required", "parallel_tool_calls": false, "tools": [{"type": "function", "function": {"name": "verse", "parameters": {{{VerseSchema}}}}}]}
            """);
        choices = events.Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        for (int i = 0; i < 2; i++)
        {
            var mine = choices.Where(c => c.GetProperty("index").GetInt32() == i).ToList();
            var delta = Assert.Single(mine, c => c.GetProperty("delta").TryGetProperty("tool_calls", out _)).GetProperty("delta").GetProperty("tool_calls")[0];
            Assert.Equal(0, delta.GetProperty("index").GetInt32());
            AssertValidArguments("verse", delta.GetProperty("function").GetProperty("arguments").GetString()!);
            Assert.Equal("tool_calls", mine[^1].GetProperty("finish_reason").GetString());
            Assert.DoesNotContain(mine, c => c.GetProperty("delta").TryGetProperty("content", out var t) && t.GetString() is { Length: > 0 });
        }
    }

    [Fact]
    public async Task ToolResultsAreRenderedInTheLibraryFormatAndAnsweredInText()
    {
        await using var server = await Start();
        var client = Client(server);
        using var model = LongContextModel.Load();
        const string Arguments = """{"book":"Psalms"}""";
        List<ChatMessage> conversation =
        [
            new UserChatMessage(Question),
            new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall("call_1", "verse", BinaryData.FromString(Arguments))]),
            new ToolChatMessage("call_1", "Psalm 23"),
        ];
        List<Meai.ChatMessage> libraryConversation =
        [
            new(Meai.ChatRole.User, Question),
            new(Meai.ChatRole.Assistant, [new Meai.FunctionCallContent("call_1", "verse", new Dictionary<string, object?> { ["book"] = JsonDocument.Parse("\"Psalms\"").RootElement })]),
            new(Meai.ChatRole.Tool, [new Meai.FunctionResultContent("call_1", "Psalm 23")]),
        ];

        // tool_choice none: the tools are described, the reply is text.
        var prompt = EurusToolCalling.Create(LibraryTools(), Meai.ChatToolMode.None)!.EncodePrompt(model.Tokenizer, libraryConversation);
        string rendered = model.Tokenizer.Decode(prompt);
        Assert.Contains("""{"name": "verse", "arguments": {"book":"Psalms"}}""", rendered);
        Assert.Contains("Function result (verse): Psalm 23", rendered);
        Assert.Contains("- count: Counts verses.", rendered);
        string expected = await TestServer.LibraryText(model, prompt, SamplingSettings.Greedy with { MaxTokens = 24 });
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24, ToolChoice = ChatToolChoice.CreateNoneChoice(), AllowParallelToolCalls = false };
        foreach (var t in Tools()) options.Tools.Add(t);
        ChatCompletion answer = await client.CompleteChatAsync(conversation, options);
        output.WriteLine($"none: {answer.Content[0].Text}");
        Assert.Empty(answer.ToolCalls);
        Assert.True(answer.FinishReason is ChatFinishReason.Stop or ChatFinishReason.Length);
        Assert.Equal(expected, answer.Content[0].Text);
        Assert.Equal(prompt.Count, answer.Usage.InputTokenCount);

        // tool_choice auto: whatever the greedy reply is (a call or text), it is the library client's.
        using var library = new EurusChatClient(model);
        var libraryAnswer = await library.GetResponseAsync(libraryConversation, new Meai.ChatOptions { Tools = LibraryTools(), Temperature = 0, MaxOutputTokens = 64 });
        options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 64, AllowParallelToolCalls = false };
        foreach (var t in Tools()) options.Tools.Add(t);
        ChatCompletion auto = await client.CompleteChatAsync(conversation, options);
        var libraryCall = libraryAnswer.Messages.SelectMany(m => m.Contents).OfType<Meai.FunctionCallContent>().SingleOrDefault();
        output.WriteLine($"auto: {(libraryCall is null ? libraryAnswer.Text : libraryCall.Name)}");
        if (libraryCall is null)
        {
            Assert.Empty(auto.ToolCalls);
            Assert.Equal(libraryAnswer.Text, auto.Content.Count == 0 ? "" : auto.Content[0].Text);
        }
        else
        {
            Assert.Equal(ChatFinishReason.ToolCalls, auto.FinishReason);
            Assert.Equal(libraryCall.Name, Assert.Single(auto.ToolCalls).FunctionName);
        }
    }

    [Theory]
    [InlineData("""{"tool_choice": {"type": "function", "function": {"name": "psalm"}}, "tools": [VERSE]}""", "psalm", "tool_choice")]
    [InlineData("""{"tools": [VERSE, VERSE]}""", "Two tools are named 'verse'", "tools")]
    [InlineData("""{"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "patternProperties": {}}}}]}""", "patternProperties", "tools")]
    [InlineData("""{"tools": [VERSE], "grammar": "root ::= \"x\""}""", "grammar", "tools")]
    [InlineData("""{"tools": [{"type": "code_interpreter"}]}""", "code_interpreter", "tools")]
    [InlineData("""{"tools": [{"type": "function", "function": {"name": "a b"}}]}""", "a b", "tools")]
    [InlineData("""{"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}""", "parameters", "tools")]
    [InlineData("""{"tool_choice": "required"}""", "no 'tools'", "tool_choice")]
    [InlineData("""{"tool_choice": "sometimes", "tools": [VERSE]}""", "sometimes", "tool_choice")]
    [InlineData("""{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "verse", "arguments": "{nope"}}]}, {"role": "tool", "tool_call_id": "c", "content": "r"}], "tools": [VERSE]}""", "arguments", "messages")]
    [InlineData("""{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "verse", "arguments": "{}"}}]}, {"role": "tool", "content": "r"}], "tools": [VERSE]}""", "tool_call_id", "messages")]
    [InlineData("""{"messages": [{"role": "user", "content": "x", "tool_calls": []}], "tools": [VERSE]}""", "assistant", "messages")]
    public async Task BadToolRequestsAre400sThatSayWhy(string json, string mentioned, string param)
    {
        await using var server = await TestServer.StartAsync();
        var request = JsonDocument.Parse(json.Replace("VERSE", $$$"""{"type": "function", "function": {"name": "verse", "parameters": {{{VerseSchema}}}}}""")).RootElement;
        var body = new Dictionary<string, JsonElement>();
        foreach (var p in request.EnumerateObject()) body[p.Name] = p.Value;
        body.TryAdd("messages", JsonDocument.Parse("""[{"role": "user", "content": "x"}]""").RootElement);
        using var resp = await server.PostAsync("/v1/chat/completions", JsonSerializer.Serialize(body));
        string text = await resp.Content.ReadAsStringAsync();
        output.WriteLine(text);
        Assert.Equal(400, (int)resp.StatusCode);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Contains(mentioned, error.GetProperty("message").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
    }
}
