using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Eurus.Cli;

/// <summary>A KL-divergence base file that is not one, or not one for this text, context or vocabulary.</summary>
internal sealed class KlDivergenceBaseException(string message) : IOException(message);

/// <summary>
/// The base model's log-probabilities saved by <c>eurus perplexity --kl-divergence-base FILE</c>: a header — the 8 bytes
/// <c>EURUSKLD</c>, format version (uint32, 1), context, vocabulary, chunk count (int32 each), then the evaluated token
/// stream (chunks × context int32) — followed by, for each chunk, the log-probabilities (float32 × vocabulary) of each
/// scored position (the second half of the chunk, as perplexity scores it). Little-endian. Reading checks the header
/// against this run and the length against the header, so a foreign, mismatched or truncated file is a
/// <see cref="KlDivergenceBaseException"/>, not a wrong answer. Full floats (llama.cpp stores 16-bit quantized log-probs):
/// twice the size, and a model compared with itself gives a KLD of exactly 0.
/// </summary>
internal sealed class KlDivergenceBase : IDisposable
{
    private static ReadOnlySpan<byte> Magic => "EURUSKLD"u8;
    private const uint Version = 1;

    private readonly FileStream _stream;
    private readonly byte[] _row;
    private readonly string _path;

    private KlDivergenceBase(FileStream stream, int vocab, string path) => (_stream, _row, _path) = (stream, new byte[vocab * sizeof(float)], path);

    private static long HeaderBytes(int[] tokens) => 8 + 4 * 4 + 4L * tokens.Length;

    private static long Rows(int ctx, int chunks) => (long)chunks * (ctx - 1 - ctx / 2);

    /// <summary>Creates <paramref name="path"/> with the header of this run.</summary>
    public static KlDivergenceBase Create(string path, int ctx, int vocab, int[] tokens)
    {
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        try
        {
            var header = new byte[HeaderBytes(tokens)];
            Magic.CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Version);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), ctx);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), vocab);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(20), tokens.Length / ctx);
            for (int i = 0; i < tokens.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24 + 4 * i), tokens[i]);
            stream.Write(header);
            return new KlDivergenceBase(stream, vocab, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/> and checks it was made for this context, vocabulary and token stream.</summary>
    public static KlDivergenceBase OpenRead(string path, int ctx, int vocab, int[] tokens)
    {
        if (!File.Exists(path)) throw new CliUsageException($"KL-divergence base file not found: {path}");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            var fixedPart = new byte[24];
            if (stream.Length < fixedPart.Length || stream.ReadAtLeast(fixedPart, fixedPart.Length, false) < fixedPart.Length || !fixedPart.AsSpan(0, 8).SequenceEqual(Magic))
                throw new KlDivergenceBaseException($"{path} is not a KL-divergence base file made by eurus perplexity --kl-divergence-base.");
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart.AsSpan(8));
            if (version != Version) throw new KlDivergenceBaseException($"{path} has format version {version}; this eurus reads version {Version}.");
            int fileCtx = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(12));
            int fileVocab = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(16));
            int fileChunks = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(20));
            if (fileCtx != ctx) throw new KlDivergenceBaseException($"{path} was made with -c {fileCtx}; this run uses -c {ctx}.");
            if (fileVocab != vocab) throw new KlDivergenceBaseException($"{path} was made by a model with {fileVocab} tokens; this one has {vocab}.");
            if (fileChunks != tokens.Length / ctx) throw new KlDivergenceBaseException($"{path} holds {fileChunks} chunks; this text gives {tokens.Length / ctx}.");
            long expected = HeaderBytes(tokens) + Rows(ctx, fileChunks) * vocab * sizeof(float);
            if (stream.Length != expected)
                throw new KlDivergenceBaseException($"{path} is {stream.Length} bytes; its header says {expected} (truncated or not a base file).");
            var stored = new byte[4L * tokens.Length];
            stream.ReadExactly(stored);
            for (int i = 0; i < tokens.Length; i++)
                if (BinaryPrimitives.ReadInt32LittleEndian(stored.AsSpan(4 * i)) != tokens[i])
                    throw new KlDivergenceBaseException($"{path} was made from other tokens (token {i} differs): another text or tokenizer.");
            return new KlDivergenceBase(stream, vocab, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends one scored position's log-probabilities.</summary>
    public void Write(ReadOnlySpan<float> logProbs)
    {
        for (int i = 0; i < logProbs.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(_row.AsSpan(4 * i), logProbs[i]);
        _stream.Write(_row);
    }

    /// <summary>Reads the next scored position's log-probabilities.</summary>
    public void Read(Span<float> logProbs)
    {
        if (_stream.ReadAtLeast(_row, _row.Length, false) < _row.Length) throw new KlDivergenceBaseException($"{_path} ended early.");
        if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(_row).CopyTo(logProbs);
        else for (int i = 0; i < logProbs.Length; i++) logProbs[i] = BinaryPrimitives.ReadSingleLittleEndian(_row.AsSpan(4 * i));
    }

    /// <summary>Flushes a written file.</summary>
    public void Complete() => _stream.Flush();

    public void Dispose() => _stream.Dispose();
}
