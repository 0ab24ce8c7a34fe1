using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Eurus.Server.Tests;

/// <summary>The dependency-injection recipe of the documentation, as an app would write it.</summary>
public class ChatClientInjectionTests
{
    [Fact]
    public async Task EurusChatClientResolvesThroughAddChatClientWithMiddleware()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(_ => TestServer.LoadModel());
        services.AddChatClient(sp => new EurusChatClient(sp.GetRequiredService<EurusModel>()))
            .UseLogging();
        await using var provider = services.BuildServiceProvider();

        var chat = provider.GetRequiredService<IChatClient>();
        Assert.IsNotType<EurusChatClient>(chat); // wrapped by the middleware
        Assert.NotNull(chat.GetService<EurusChatClient>());
        Assert.Equal("kjv-tiny-Q8_0", chat.GetService<ChatClientMetadata>()!.DefaultModelId);
        var answer = await chat.GetResponseAsync("Who made the earth?", new ChatOptions { Temperature = 0, MaxOutputTokens = 5 });
        Assert.Equal(5, answer.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, answer.FinishReason);
        Assert.False(string.IsNullOrEmpty(answer.Text));
    }
}
