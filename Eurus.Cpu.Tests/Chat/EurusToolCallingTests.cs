using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grammars;
using Microsoft.Extensions.AI;
using Xunit;

namespace Eurus.Cpu.Tests.Chat;

/// <summary><see cref="EurusToolCalling"/>, the public face of the tool format for hosts (the server): the same prompt,
/// grammar and parsing as <see cref="EurusChatClient"/>'s.</summary>
public sealed class EurusToolCallingTests
{
    private static AITool Verse() => AIFunctionFactory.CreateDeclaration("verse", "Finds a verse.",
        JsonDocument.Parse("""{"type":"object","properties":{"book":{"enum":["Job","Psalms"]}},"required":["book"]}""").RootElement);

    [Fact]
    public void PromptGrammarAndParsingAreTheChatClients()
    {
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1 });
        Assert.Null(EurusToolCalling.Create(null, null));
        Assert.Null(EurusToolCalling.Create([], ChatToolMode.RequireAny));

        var auto = EurusToolCalling.Create([Verse()], null)!;
        ChatMessage[] conversation = [new(ChatRole.User, "Where?")];
        var ids = auto.EncodePrompt(model.Tokenizer, conversation);
        string text = model.Tokenizer.Decode(ids);
        Assert.Contains("- verse: Finds a verse.", text);
        Assert.True(ids.Count > EurusChatClient.EncodePrompt(model.Tokenizer, conversation).Count);

        // The reply grammar is the one the chat client samples under (same text, so the same language).
        using var client = new EurusChatClient(model);
        var clientGrammar = client.ToSamplingSettings(new ChatOptions { Tools = [Verse()], ToolMode = ChatToolMode.RequireAny }).Grammar!;
        var required = EurusToolCalling.Create([Verse()], ChatToolMode.RequireAny)!;
        Assert.NotNull(required.ReplyGbnf);
        Assert.Equal(clientGrammar.ToString(), Grammar.Parse(required.ReplyGbnf!).ToString());
        Assert.Contains("[^{]", auto.ReplyGbnf); // auto: a text answer too

        var call = auto.ParseCall("""{"name": "verse", "arguments": {"book":"Job"}}""");
        Assert.NotNull(call);
        Assert.Equal("verse", call!.Name);
        Assert.Equal("Job", ((JsonElement)call.Arguments!["book"]!).GetString());
        Assert.Null(auto.ParseCall("""{"name": "other", "arguments": {}}"""));
        Assert.Null(auto.ParseCall("""{"name": "verse", "arguments": {"book":"Job"""));

        // none: described, not callable; no grammar, no calls.
        var none = EurusToolCalling.Create([Verse()], ChatToolMode.None)!;
        Assert.Null(none.ReplyGbnf);
        Assert.Null(none.ParseCall("""{"name": "verse", "arguments": {"book":"Job"}}"""));
        Assert.Equal(ids, none.EncodePrompt(model.Tokenizer, conversation)); // the preamble does not depend on the mode

        Assert.Throws<ArgumentException>(() => EurusToolCalling.Create([Verse()], ChatToolMode.RequireSpecific("psalm")));
        Assert.Throws<ArgumentException>(() => EurusToolCalling.Create([Verse(), Verse()], null));
        Assert.Throws<JsonSchemaGrammarException>(() => EurusToolCalling.Create(
            [AIFunctionFactory.CreateDeclaration("f", null, JsonDocument.Parse("""{"type":"object","patternProperties":{}}""").RootElement)], null));
    }
}
