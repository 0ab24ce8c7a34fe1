using Eurus.Cpu.Generation;

namespace Eurus.Server.Tests;

/// <summary>
/// The demo model from a copy whose <c>llama.context_length</c> says 1024 instead of 256 (written by the
/// LongContextCopy both test projects share): its small vocabulary spends about a token per JSON character, so 256 positions cannot
/// hold the tool preamble and a function-calling round trip. Same weights; past 256 positions its text gets worse,
/// which does not matter for the mechanics the server tests check.
/// </summary>
internal static class LongContextModel
{
    public const int ContextLength = 1024;

    public static string Path => s_path.Value;

    public static EurusModel Load() => EurusModel.Load(Path, new ModelOptions { Threads = 1, ContextLength = ContextLength });

    private static readonly Lazy<string> s_path = new(() => Eurus.Cpu.Tests.Shared.LongContextCopy.Write(TestServer.ModelPath, ContextLength));
}
