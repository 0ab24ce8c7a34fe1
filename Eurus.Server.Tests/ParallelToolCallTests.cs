using System.ClientModel;
using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Sampling;
using OpenAI;
using OpenAI.Chat;
using Meai = Microsoft.Extensions.AI;

namespace Eurus.Server.Tests;

/// <summary>
/// OpenAI's <c>parallel_tool_calls</c> on /v1/chat/completions: true lets a reply hold several calls — up to
/// <see cref="EurusToolCalling.MaxCallsPerReply"/>, one a line in the library's format — that come back as several
/// <c>tool_calls</c> (streamed: one delta each, <c>index</c> 0..n-1); false or absent (llama-server's default) allows one. The demo model, when
/// several are allowed, writes calls until the grammar stops it, so its replies hold the most calls allowed.
/// </summary>
public sealed class ParallelToolCallTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string CountSchema = """{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}""";
    private const string Question = "How many verses have Psalm 23 and Psalm 24?";
    private const string CountTool = $$$"""{"type": "function", "function": {"name": "count", "description": "Counts verses.", "parameters": {{{CountSchema}}}}}""";

    private static Meai.AITool[] LibraryTools() =>
        [Meai.AIFunctionFactory.CreateDeclaration("count", "Counts verses.", JsonDocument.Parse(CountSchema).RootElement)];

    private static Task<TestServer> Start() =>
        TestServer.StartAsync(new ServerOptions { Parallel = 2 }, modelPath: LongContextModel.Path, contextLength: LongContextModel.ContextLength);

    private static ChatClient Client(TestServer server) =>
        new("kjv-tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl + "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    private static ChatCompletionOptions Options(bool? parallel, float temperature = 0, long? seed = null)
    {
        var options = new ChatCompletionOptions
        {
            Temperature = temperature, Seed = seed, MaxOutputTokenCount = 700, ToolChoice = ChatToolChoice.CreateRequiredChoice(), AllowParallelToolCalls = parallel,
        };
        options.Tools.Add(ChatTool.CreateFunctionTool("count", "Counts verses.", BinaryData.FromString(CountSchema)));
        return options;
    }

    private static string Compact(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);

    [Fact]
    public async Task SeveralCallsComeAsToolCallsAsTheLibraryMakesThem()
    {
        await using var server = await Start();
        var client = Client(server);
        // Greedy, parallel_tool_calls true: the library's calls with AllowMultipleToolCalls, in order.
        using var model = LongContextModel.Load();
        using var library = new EurusChatClient(model);
        var expected = await library.GetResponseAsync([new Meai.ChatMessage(Meai.ChatRole.User, Question)], new Meai.ChatOptions
        {
            Tools = LibraryTools(), ToolMode = Meai.ChatToolMode.RequireAny, AllowMultipleToolCalls = true, Temperature = 0, MaxOutputTokens = 700,
        });
        var expectedCalls = expected.Messages.SelectMany(m => m.Contents).OfType<Meai.FunctionCallContent>().ToList();
        Assert.True(expectedCalls.Count >= 2, $"{expectedCalls.Count} calls");

        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage(Question)], Options(parallel: true));
        output.WriteLine(string.Join(" ", whole.ToolCalls.Select(c => $"{c.Id} {c.FunctionName}{c.FunctionArguments}")));
        Assert.Equal(ChatFinishReason.ToolCalls, whole.FinishReason);
        Assert.Empty(whole.Content);
        Assert.Equal(expectedCalls.Count, whole.ToolCalls.Count);
        Assert.Equal(whole.ToolCalls.Count, whole.ToolCalls.Select(c => c.Id).Distinct().Count());
        for (int i = 0; i < expectedCalls.Count; i++)
        {
            Assert.StartsWith("call_", whole.ToolCalls[i].Id);
            Assert.Equal("count", whole.ToolCalls[i].FunctionName);
            Assert.Equal(JsonSerializer.Serialize(expectedCalls[i].Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!)),
                Compact(whole.ToolCalls[i].FunctionArguments.ToString()));
            Assert.True(JsonDocument.Parse(whole.ToolCalls[i].FunctionArguments.ToString()).RootElement.GetProperty("n").TryGetInt64(out _));
        }
        Assert.Equal(expected.Usage!.InputTokenCount, whole.Usage.InputTokenCount); // the preamble that allows several calls


        // Streamed: one delta per call, index 0..n-1, each whole; then the last chunk with finish_reason tool_calls.
        var updates = new List<StreamingChatToolCallUpdate>();
        ChatFinishReason? finish = null;
        await foreach (var u in client.CompleteChatStreamingAsync([new UserChatMessage(Question)], Options(parallel: true)))
        {
            updates.AddRange(u.ToolCallUpdates);
            Assert.All(u.ContentUpdate, part => Assert.Equal("", part.Text));
            finish ??= u.FinishReason;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal(Enumerable.Range(0, whole.ToolCalls.Count), updates.Select(u => u.Index));
        Assert.Equal(updates.Count, updates.Select(u => u.ToolCallId).Distinct().Count());
        Assert.Equal(whole.ToolCalls.Select(c => c.FunctionArguments.ToString()), updates.Select(u => u.FunctionArgumentsUpdate.ToString()));

        var events = await server.StreamAsync("/v1/chat/completions", $$"""
            {"messages": [{"role": "user", "content": "{{Question}}"}], "stream": true, "temperature": 0, "max_tokens": 700,
             "tool_choice": "required", "parallel_tool_calls": true, "tools": [{{CountTool}}]}
            """);
        var choices = events.Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        var deltas = choices.Where(c => c.GetProperty("delta").TryGetProperty("tool_calls", out _)).ToList();
        Assert.Equal(whole.ToolCalls.Count, deltas.Count);
        for (int i = 0; i < deltas.Count; i++)
        {
            var call = Assert.Single(deltas[i].GetProperty("delta").GetProperty("tool_calls").EnumerateArray().ToList());
            Assert.Equal(i, call.GetProperty("index").GetInt32());
            Assert.Equal("function", call.GetProperty("type").GetString());
            Assert.Equal("count", call.GetProperty("function").GetProperty("name").GetString());
        }
        Assert.Equal("tool_calls", choices[^1].GetProperty("finish_reason").GetString());
        Assert.Equal(choices.Count - 2, choices.IndexOf(deltas[^1]));
    }

    [Fact]
    public async Task ParallelToolCallsFalseOrAbsentGivesOneCall()
    {
        await using var server = await Start();
        var client = Client(server);
        using var model = LongContextModel.Load();
        using var library = new EurusChatClient(model);
        var expected = await library.GetResponseAsync([new Meai.ChatMessage(Meai.ChatRole.User, Question)], new Meai.ChatOptions
        {
            Tools = LibraryTools(), ToolMode = Meai.ChatToolMode.RequireAny, Temperature = 0, MaxOutputTokens = 700,
        });
        var expectedCall = Assert.Single(expected.Messages.SelectMany(m => m.Contents).OfType<Meai.FunctionCallContent>());
        ChatCompletion one = await client.CompleteChatAsync([new UserChatMessage(Question)], Options(parallel: false));
        var call = Assert.Single(one.ToolCalls);
        // Absent: the same one call (llama-server's default; the library's with AllowMultipleToolCalls unset).
        ChatCompletion absent = await client.CompleteChatAsync([new UserChatMessage(Question)], Options(parallel: null));
        Assert.Equal(call.FunctionArguments.ToString(), Assert.Single(absent.ToolCalls).FunctionArguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, one.FinishReason);
        Assert.Equal(JsonSerializer.Serialize(expectedCall.Arguments!.ToDictionary(k => k.Key, k => (JsonElement)k.Value!)), Compact(call.FunctionArguments.ToString()));
        Assert.Equal(expected.Usage!.InputTokenCount, one.Usage.InputTokenCount); // the one-call preamble, the library's default

        // Sampled, and n = 2 (raw: the official client reads the first choice): at most one call per choice.
        using var resp = await server.PostAsync("/v1/chat/completions", $$"""
            {"messages": [{"role": "user", "content": "{{Question}}"}], "n": 2, "temperature": 1.2, "seed": 4, "max_tokens": 300,
             "tool_choice": "required", "parallel_tool_calls": false, "tools": [{{CountTool}}]}
            """);
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.IsSuccessStatusCode, body);
        foreach (var choice in JsonDocument.Parse(body).RootElement.GetProperty("choices").EnumerateArray())
        {
            Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
            Assert.Single(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray().ToList());
        }
        var events = await server.StreamAsync("/v1/chat/completions", $$"""
            {"messages": [{"role": "user", "content": "{{Question}}"}], "stream": true, "temperature": 0, "max_tokens": 300,
             "tool_choice": "required", "parallel_tool_calls": false, "tools": [{{CountTool}}]}
            """);
        Assert.Single(events, e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("tool_calls", out _));
    }

    /// <summary>An assistant message with two calls and a tool message per result: rendered as the library renders them.</summary>
    [Fact]
    public async Task SeveralCallsAndTheirResultsAreRenderedInTheLibraryFormat()
    {
        await using var server = await Start();
        var client = Client(server);
        using var model = LongContextModel.Load();
        List<ChatMessage> conversation =
        [
            new UserChatMessage(Question),
            new AssistantChatMessage([
                ChatToolCall.CreateFunctionToolCall("call_1", "count", BinaryData.FromString("""{"n":23}""")),
                ChatToolCall.CreateFunctionToolCall("call_2", "count", BinaryData.FromString("""{"n":24}"""))]),
            new ToolChatMessage("call_1", "6"),
            new ToolChatMessage("call_2", "10"),
        ];
        List<Meai.ChatMessage> libraryConversation =
        [
            new(Meai.ChatRole.User, Question),
            new(Meai.ChatRole.Assistant, [
                new Meai.FunctionCallContent("call_1", "count", new Dictionary<string, object?> { ["n"] = 23 }),
                new Meai.FunctionCallContent("call_2", "count", new Dictionary<string, object?> { ["n"] = 24 })]),
            new(Meai.ChatRole.Tool, [new Meai.FunctionResultContent("call_1", "6"), new Meai.FunctionResultContent("call_2", "10")]),
        ];
        var prompt = EurusToolCalling.Create(LibraryTools(), Meai.ChatToolMode.None, allowMultipleCalls: true)!.EncodePrompt(model.Tokenizer, libraryConversation);
        string rendered = model.Tokenizer.Decode(prompt);
        output.WriteLine(rendered);
        Assert.Contains("""{"name": "count", "arguments": {"n":23}}""" + "\n" + """{"name": "count", "arguments": {"n":24}}""", rendered);
        Assert.Contains("Function result (count): 6\nFunction result (count): 10 [/INST]", rendered);

        string expected = await TestServer.LibraryText(model, prompt, SamplingSettings.Greedy with { MaxTokens = 16 });
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16, ToolChoice = ChatToolChoice.CreateNoneChoice(), AllowParallelToolCalls = true };
        options.Tools.Add(ChatTool.CreateFunctionTool("count", "Counts verses.", BinaryData.FromString(CountSchema)));
        ChatCompletion answer = await client.CompleteChatAsync(conversation, options);
        Assert.Equal(prompt.Count, answer.Usage.InputTokenCount);
        Assert.Equal(expected, answer.Content[0].Text);
    }
}
