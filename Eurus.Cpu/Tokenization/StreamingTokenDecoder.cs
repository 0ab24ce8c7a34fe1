using System.Text;

namespace Eurus.Cpu.Tokenization;

/// <summary>
/// Decodes generated tokens one at a time. A character whose UTF-8 bytes are spread over several byte tokens is held
/// back until its last byte arrives, so every piece returned is complete text; invalid byte sequences become U+FFFD.
/// The concatenation of all pieces and of <see cref="Flush"/> equals <see cref="Tokenizer.Decode"/> of the same ids.
/// Not thread-safe: use one instance per generation stream.
/// </summary>
public sealed class StreamingTokenDecoder
{
    /// <summary>The most UTF-8 bytes the decoder can hold back between calls (the start of a 4-byte character).</summary>
    public const int MaxPendingBytes = 3;

    private readonly Tokenizer _tokenizer;
    private readonly Decoder _decoder;

    /// <summary>Creates a decoder for the tokens of <paramref name="tokenizer"/>.</summary>
    public StreamingTokenDecoder(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    }

    /// <summary>
    /// The largest number of chars one <see cref="Append(int, Span{char})"/> can write:
    /// <see cref="Tokenizer.MaxPieceByteCount"/> + <see cref="MaxPendingBytes"/> (each UTF-8 byte yields at most one
    /// UTF-16 char). For Llama/Mistral vocabularies this is well under 64.
    /// </summary>
    public int MaxCharsPerToken => _tokenizer.MaxPieceByteCount + MaxPendingBytes;

    /// <summary>
    /// Adds token <paramref name="tokenId"/> and writes the text completed by it to <paramref name="destination"/>,
    /// returning the number of chars written (0 while a character is incomplete, or for control tokens). Does not
    /// allocate. A destination of <see cref="MaxCharsPerToken"/> chars is always enough; a shorter one that cannot hold
    /// this token's text throws <see cref="ArgumentException"/> and leaves the decoder unchanged.
    /// </summary>
    public int Append(int tokenId, Span<char> destination)
    {
        var bytes = _tokenizer.GetPieceBytes(tokenId);
        if (bytes.IsEmpty) return 0;
        if (destination.Length < MaxCharsPerToken && _decoder.GetCharCount(bytes, flush: false) > destination.Length)
            throw new ArgumentException($"The destination holds {destination.Length} chars, too few for token {tokenId}; {MaxCharsPerToken} is always enough.", nameof(destination));
        _decoder.Convert(bytes, destination, flush: false, out _, out int chars, out _);
        return chars;
    }

    /// <summary>Adds token <paramref name="tokenId"/> and returns the text completed by it (possibly empty).</summary>
    public string Append(int tokenId)
    {
        int max = MaxCharsPerToken;
        Span<char> buffer = max <= 256 ? stackalloc char[max] : new char[max];
        int n = Append(tokenId, buffer);
        return n == 0 ? string.Empty : new string(buffer[..n]);
    }

    /// <summary>Ends the stream: returns U+FFFD for bytes still held back (an incomplete character), and resets.</summary>
    public string Flush()
    {
        Span<char> buffer = stackalloc char[MaxPendingBytes];
        _decoder.Convert(ReadOnlySpan<byte>.Empty, buffer, flush: true, out _, out int chars, out _);
        return chars == 0 ? string.Empty : new string(buffer[..chars]);
    }

    /// <summary>Drops any bytes held back, to start a new stream.</summary>
    public void Reset() => _decoder.Reset();
}
