using System.Buffers.Binary;
using System.Security.Cryptography;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Generation;

/// <summary>
/// The file format of <see cref="InferenceSession.SaveState"/> (little-endian):
/// <c>"EURUSSES"</c>, format version (u32), the model's identity (SHA-256, <see cref="EurusModel.Identity"/>), KV type
/// (u8), context, KV capacity, sliding window (-1: none), layers, KV width, head size, token count and cache slots
/// (i32 each), the tokens (i32 each), then per layer and KV head the keys and then the values of those slots as stored,
/// and last a SHA-256 of everything before it. Reading checks each field against the session before it touches the
/// cache, and the checksum at the end; any mismatch, truncation or corruption is a <see cref="SessionStateException"/>.
/// </summary>
internal static class SessionStateFormat
{
    private static ReadOnlySpan<byte> Magic => "EURUSSES"u8;

    /// <summary>The version this library writes and reads.</summary>
    public const uint Version = 1;

    private const int HeaderInts = 9;

    /// <summary>Slots of the cache a state of <paramref name="tokens"/> tokens saves: every position, or the whole ring.</summary>
    private static int SlotsFor(KvCache cache, int? window, int tokens) => window is null ? tokens : cache.Capacity;

    public static void Write(Stream stream, EurusModel model, KvCache cache, int? window, IReadOnlyList<int> tokens)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Put(ReadOnlySpan<byte> bytes)
        {
            hash.AppendData(bytes);
            stream.Write(bytes);
        }
        int slots = SlotsFor(cache, window, tokens.Count);
        Span<byte> head = stackalloc byte[8 + 4 + 32 + 1 + 4 * HeaderInts];
        Magic.CopyTo(head);
        BinaryPrimitives.WriteUInt32LittleEndian(head[8..], Version);
        model.Identity.CopyTo(head[12..]);
        head[44] = (byte)cache.Type;
        var ints = head[45..];
        int[] fields = [model.ContextLength, cache.Capacity, window ?? -1, cache.Layers, cache.KvDim, cache.HeadDim, tokens.Count, slots, 0];
        for (int i = 0; i < HeaderInts; i++) BinaryPrimitives.WriteInt32LittleEndian(ints[(4 * i)..], fields[i]);
        Put(head);
        var buffer = new byte[4096];
        for (int i = 0; i < tokens.Count; i += buffer.Length / 4)
        {
            int n = Math.Min(buffer.Length / 4, tokens.Count - i);
            for (int j = 0; j < n; j++) BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4 * j), tokens[i + j]);
            Put(buffer.AsSpan(0, 4 * n));
        }
        RequireLittleEndian();
        for (int l = 0; l < cache.Layers; l++)
            for (int h = 0; h < cache.KvDim / cache.HeadDim; h++)
            {
                Put(cache.HeadBytes(l, values: false, h, slots));
                Put(cache.HeadBytes(l, values: true, h, slots));
            }
        stream.Write(hash.GetHashAndReset());
    }

    /// <summary>
    /// Reads a state into <paramref name="cache"/> and returns its tokens. Throws <see cref="SessionStateException"/>
    /// (the cache may then hold part of the state: the caller empties the session).
    /// </summary>
    public static int[] Read(Stream stream, EurusModel model, KvCache cache, int? window)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Get(Span<byte> bytes)
        {
            try { stream.ReadExactly(bytes); }
            catch (EndOfStreamException e) { throw new SessionStateException("The session state is truncated.", e); }
            hash.AppendData(bytes);
        }
        Span<byte> head = stackalloc byte[8 + 4 + 32 + 1 + 4 * HeaderInts];
        Get(head[..12]);
        if (!head[..8].SequenceEqual(Magic)) throw new SessionStateException("This is not a Eurus.Cpu session state (its first bytes are not \"EURUSSES\").");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
        if (version != Version) throw new SessionStateException($"The session state is format version {version}; this library reads version {Version}.");
        Get(head[12..]);
        if (!head.Slice(12, 32).SequenceEqual(model.Identity))
            throw new SessionStateException("The session state was saved from a different model (its shape, tensors or tokenizer differ from this one's).");
        var type = (KvCacheType)head[44];
        Span<int> f = stackalloc int[HeaderInts];
        for (int i = 0; i < HeaderInts; i++) f[i] = BinaryPrimitives.ReadInt32LittleEndian(head[(45 + 4 * i)..]);
        int context = f[0], capacity = f[1], savedWindow = f[2], layers = f[3], kvDim = f[4], headDim = f[5], count = f[6], slots = f[7];
        if (type != cache.Type || context != model.ContextLength || capacity != cache.Capacity || savedWindow != (window ?? -1))
            throw new SessionStateException($"The session state was saved with a {type} KV cache of {capacity} slots, context {context}, window {Window(savedWindow)}; " +
                                            $"this session has a {cache.Type} cache of {cache.Capacity} slots, context {model.ContextLength}, window {Window(window ?? -1)}. " +
                                            "Load the model with the options it was saved with.");
        if (layers != cache.Layers || kvDim != cache.KvDim || headDim != cache.HeadDim || f[8] != 0)
            throw new SessionStateException("The session state's cache shape does not match this model's.");
        if (count < 0 || count > model.ContextLength || slots != SlotsFor(cache, window, count))
            throw new SessionStateException($"The session state's token count ({count}) or cache slots ({slots}) are invalid for a context of {model.ContextLength}.");
        var tokens = new int[count];
        var bytes = new byte[4096];
        int vocab = model.Config.Vocab;
        for (int i = 0; i < count; i += bytes.Length / 4)
        {
            int n = Math.Min(bytes.Length / 4, count - i);
            Get(bytes.AsSpan(0, 4 * n));
            for (int j = 0; j < n; j++)
            {
                int t = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * j));
                if ((uint)t >= (uint)vocab) throw new SessionStateException($"The session state holds token id {t}, outside the vocabulary (0..{vocab - 1}).");
                tokens[i + j] = t;
            }
        }
        RequireLittleEndian();
        for (int l = 0; l < cache.Layers; l++)
            for (int h = 0; h < cache.KvDim / cache.HeadDim; h++)
            {
                Get(cache.HeadBytes(l, values: false, h, slots));
                Get(cache.HeadBytes(l, values: true, h, slots));
            }
        Span<byte> expected = stackalloc byte[32];
        hash.GetHashAndReset(expected);
        Span<byte> saved = stackalloc byte[32];
        try { stream.ReadExactly(saved); }
        catch (EndOfStreamException e) { throw new SessionStateException("The session state is truncated (its checksum is missing).", e); }
        if (!saved.SequenceEqual(expected)) throw new SessionStateException("The session state is corrupted (its checksum does not match its contents).");
        return tokens;
    }

    private static string Window(int w) => w < 0 ? "none" : w.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The cache's floats and halves are written as they lie in memory: the format is little-endian.</summary>
    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Session states are saved and read on little-endian machines only.");
    }
}
