using System.ClientModel;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Sampling;
using OpenAI;
using OpenAI.Chat;
using MeaiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using MeaiChatRole = Microsoft.Extensions.AI.ChatRole;

namespace Eurus.Server.Tests;

/// <summary>The official OpenAI .NET client talks to the server, whole and streamed.</summary>
public class OpenAiClientTests
{
    [Fact]
    public async Task OfficialClientCompletesAndStreams()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = "k" });
        using var model = TestServer.LoadModel();
        var client = new ChatClient("kjv-tiny-Q8_0", new ApiKeyCredential("k"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl + "/v1") });
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 };
        var prompt = EurusChatClient.EncodePrompt(model.Tokenizer, [new MeaiChatMessage(MeaiChatRole.User, "Who made the heaven?")]);
        string expected = await TestServer.LibraryText(model, prompt, SamplingSettings.Greedy with { MaxTokens = 16 });

        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Who made the heaven?")], options);
        Assert.Equal(expected, whole.Content.Count == 0 ? "" : whole.Content[0].Text);
        Assert.Equal(prompt.Count, whole.Usage.InputTokenCount);
        Assert.True(whole.FinishReason is ChatFinishReason.Stop or ChatFinishReason.Length);

        var streamed = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Who made the heaven?")], options))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(expected, streamed.ToString());
        Assert.Equal(whole.FinishReason, finish);

        // Log probabilities and several choices, read by the official client.
        var lpOptions = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8, IncludeLogProbabilities = true, TopLogProbabilityCount = 2 };
        ChatCompletion withLogprobs = await client.CompleteChatAsync([new UserChatMessage("Who made the heaven?")], lpOptions);
        Assert.NotEmpty(withLogprobs.ContentTokenLogProbabilities);
        foreach (var t in withLogprobs.ContentTokenLogProbabilities)
        {
            Assert.True(t.LogProbability <= 0);
            Assert.Equal(2, t.TopLogProbabilities.Count);
            Assert.Equal(t.LogProbability, t.TopLogProbabilities[0].LogProbability); // greedy: the most likely token
        }
        Assert.Equal(withLogprobs.Content[0].Text, System.Text.Encoding.UTF8.GetString(withLogprobs.ContentTokenLogProbabilities.SelectMany(t => t.Utf8Bytes!.Value.ToArray()).ToArray()));
        Assert.StartsWith(withLogprobs.Content[0].Text, whole.Content[0].Text);

        var wrongKey = new ChatClient("m", new ApiKeyCredential("nope"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl + "/v1") });
        var e = await Assert.ThrowsAsync<ClientResultException>(() => wrongKey.CompleteChatAsync([new UserChatMessage("hi")], options));
        Assert.Equal(401, e.Status);
    }
}
