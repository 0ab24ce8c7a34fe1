using Eurus.Cpu.Generation;

namespace Eurus.Server.Tests;

/// <summary>
/// The demo model from a copy whose <c>llama.context_length</c> says 1024 instead of 256 (as Eurus.Cpu.Tests'
/// ToolCallingTests make it): its small vocabulary spends about a token per JSON character, so 256 positions cannot
/// hold the tool preamble and a function-calling round trip. Same weights; past 256 positions its text gets worse,
/// which does not matter for the mechanics the server tests check.
/// </summary>
internal static class LongContextModel
{
    public const int ContextLength = 1024;

    public static string Path => s_path.Value;

    public static EurusModel Load() => EurusModel.Load(Path, new ModelOptions { Threads = 1, ContextLength = ContextLength });

    private static readonly Lazy<string> s_path = new(() =>
    {
        byte[] file = File.ReadAllBytes(TestServer.ModelPath);
        byte[] key = System.Text.Encoding.UTF8.GetBytes("llama.context_length");
        int at = file.AsSpan().IndexOf(key);
        Assert.True(at > 8 && BitConverter.ToUInt64(file, at - 8) == (ulong)key.Length, "no llama.context_length key");
        Assert.Equal(4u, BitConverter.ToUInt32(file, at + key.Length)); // GGUF type UINT32
        Assert.Equal(256u, BitConverter.ToUInt32(file, at + key.Length + 4));
        BitConverter.TryWriteBytes(file.AsSpan(at + key.Length + 4), (uint)ContextLength);
        // Next to the demo model in the test output, renamed into place (a reader never sees it half written).
        string path = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(TestServer.ModelPath)!, "kjv-tiny-Q8_0-ctx1024.gguf");
        string temp = path + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, file);
        File.Move(temp, path, overwrite: true);
        return path;
    });
}
