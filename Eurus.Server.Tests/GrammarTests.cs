using System.Net;
using System.Text.Json;

namespace Eurus.Server.Tests;

/// <summary>
/// Grammar-constrained answers over HTTP: OpenAI's response_format (json_schema, json_object), llama-server's grammar
/// and json_schema fields, streamed and whole; bad grammars and schemas are 400s that say where the problem is.
/// </summary>
public class GrammarTests
{
    private const string Schema = """{"type":"object","properties":{"name":{"type":"string","maxLength":10},"age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},"required":["name","age","tags"],"additionalProperties":false}""";

    [Fact]
    public async Task JsonSchemaResponseFormatGivesValidJson()
    {
        await using var server = await TestServer.StartAsync();
        for (int seed = 0; seed < 3; seed++)
        {
            string body = "{\"messages\": [{\"role\": \"user\", \"content\": \"Who art thou?\"}], \"seed\": " + seed + ", \"temperature\": 1, \"max_tokens\": 200, " +
                "\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"person\", \"strict\": true, \"schema\": " + Schema + "}}}";
            using var resp = await server.PostAsync("/v1/chat/completions", body);
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            var choice = doc.RootElement.GetProperty("choices")[0];
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
            using var answer = JsonDocument.Parse(choice.GetProperty("message").GetProperty("content").GetString()!);
            var a = answer.RootElement;
            Assert.True(a.GetProperty("name").GetString()!.Length <= 10);
            Assert.True(a.GetProperty("age").TryGetInt64(out _));
            Assert.All(a.GetProperty("tags").EnumerateArray(), t => Assert.Contains(t.GetString(), new[] { "a", "b" }));
            Assert.Equal(3, a.EnumerateObject().Count());

            // Streamed, the same answer.
            var events = await server.StreamAsync("/v1/chat/completions", body.Replace("\"seed\"", "\"stream\": true, \"seed\"", StringComparison.Ordinal));
            Assert.Equal(choice.GetProperty("message").GetProperty("content").GetString(), TestServer.StreamText(events));
        }
    }

    [Fact]
    public async Task GrammarAndJsonObjectConstrainCompletions()
    {
        await using var server = await TestServer.StartAsync();
        using (var resp = await server.PostAsync("/v1/completions", """{"prompt": "And God said", "seed": 2, "max_tokens": 50, "grammar": "root ::= \"Lo, \" (\"light\" | \"darkness\") \".\""}"""))
        {
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            Assert.Matches("^Lo, (light|darkness)\\.$", doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        using (var resp = await server.PostAsync("/v1/completions", """{"prompt": "And God said", "seed": 2, "max_tokens": 200, "json_schema": {"type": "array", "items": {"type": "integer"}, "maxItems": 3}}"""))
        {
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            using var answer = JsonDocument.Parse(doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!);
            Assert.Equal(JsonValueKind.Array, answer.RootElement.ValueKind);
        }
        using (var resp = await server.PostAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "Speak."}], "seed": 2, "max_tokens": 30, "response_format": {"type": "json_object"}}"""))
        {
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            string text = doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
            Assert.StartsWith("{", text); // unbounded strings: cut at max_tokens, still the start of an object
            if (doc.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "stop")
                Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
        }
    }

    [Theory]
    [InlineData("\"grammar\": \"root ::= \\\"a\\\" missing\"", "grammar", "line 1, column 14: rule 'missing' is used but not defined")]
    [InlineData("\"grammar\": \"root ::= \\\"a\\\" | root2\\nroot2 ::= root2 \\\"b\\\"\"", "grammar", "can never complete")]
    [InlineData("\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"schema\": {\"type\": \"string\", \"pattern\": \"x\"}}}", "response_format", "the keyword 'pattern' is not supported")]
    [InlineData("\"response_format\": {\"type\": \"yaml\"}", "response_format", "'yaml' is not supported")]
    [InlineData("\"response_format\": {\"type\": \"json_schema\"}", "response_format", "needs 'json_schema'")]
    [InlineData("\"response_format\": {\"type\": \"json_object\"}, \"grammar\": \"root ::= \\\"x\\\"\"", "grammar", "both constrain")]
    public async Task BadGrammarsAreBadRequests(string field, string param, string message)
    {
        await using var server = await TestServer.StartAsync();
        using var resp = await server.PostAsync("/v1/chat/completions", $$"""{"messages": [{"role": "user", "content": "x"}], "max_tokens": 5, {{field}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
    }
}
