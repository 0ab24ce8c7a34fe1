namespace Eurus.Cpu.Tests.Shared;

/// <summary>
/// A copy of the demo model whose <c>llama.context_length</c> says more than its 256 positions (same weights: past 256
/// positions its text gets worse, which does not matter for the mechanics the tests check). Used by the tool-calling
/// tests of both test projects (this file is linked into Eurus.Server.Tests): the demo vocabulary spends about a token
/// per JSON character, so 256 positions cannot hold the tool preamble and a function-calling round trip.
/// </summary>
internal static class LongContextCopy
{
    /// <summary>Writes the copy of <paramref name="demoModel"/> with <paramref name="contextLength"/> next to it and returns its path.</summary>
    public static string Write(string demoModel, uint contextLength)
    {
        byte[] file = File.ReadAllBytes(demoModel);
        byte[] key = System.Text.Encoding.UTF8.GetBytes("llama.context_length");
        int at = file.AsSpan().IndexOf(key);
        Assert.True(at > 8 && BitConverter.ToUInt64(file, at - 8) == (ulong)key.Length, "no llama.context_length key");
        Assert.Equal(4u, BitConverter.ToUInt32(file, at + key.Length)); // GGUF type UINT32
        Assert.Equal(256u, BitConverter.ToUInt32(file, at + key.Length + 4));
        BitConverter.TryWriteBytes(file.AsSpan(at + key.Length + 4), contextLength);
        // Next to the demo model in the test output (one file, rewritten each run; renamed into place, so a reader never
        // sees it half written).
        string path = Path.Combine(Path.GetDirectoryName(demoModel)!, $"{Path.GetFileNameWithoutExtension(demoModel)}-ctx{contextLength}.gguf");
        string temp = path + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, file);
        File.Move(temp, path, overwrite: true);
        return path;
    }
}
