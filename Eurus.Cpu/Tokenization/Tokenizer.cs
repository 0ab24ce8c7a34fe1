using System.Buffers;
using System.Text;
using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Tokenization;

/// <summary>
/// The SentencePiece BPE tokenizer of llama/Mistral GGUF models (<c>tokenizer.ggml.model = "llama"</c>), producing the
/// same ids as llama.cpp's SPM tokenizer with special-token parsing off:
/// <list type="bullet">
/// <item>user-defined tokens (type 4) are split out of the text first; control and unknown tokens are not, so text
/// such as <c>"&lt;s&gt;"</c> is tokenized as ordinary characters;</item>
/// <item>a space is put before each raw-text fragment that starts the text or follows a user-defined token (when
/// <see cref="AddSpacePrefix"/>), and every space becomes <c>▁</c> (U+2581);</item>
/// <item>characters are merged pairwise, highest-scoring vocabulary token first (ties: leftmost);</item>
/// <item>characters that are not tokens fall back to <c>&lt;0xXX&gt;</c> byte tokens (or the unknown token).</item>
/// </list>
/// Text is taken as UTF-8 the way <see cref="Encoding.UTF8"/> writes it: a lone surrogate counts as U+FFFD.
/// Instances are immutable and thread-safe.
/// </summary>
public sealed class Tokenizer
{
    /// <summary>GGUF key of the tokenizer model name, which must be <c>"llama"</c>.</summary>
    public const string ModelKey = "tokenizer.ggml.model";
    /// <summary>GGUF key of the token strings.</summary>
    public const string TokensKey = "tokenizer.ggml.tokens";
    /// <summary>GGUF key of the token scores (optional; 0 when absent).</summary>
    public const string ScoresKey = "tokenizer.ggml.scores";
    /// <summary>GGUF key of the token types (optional; all <see cref="TokenType.Normal"/> when absent).</summary>
    public const string TokenTypeKey = "tokenizer.ggml.token_type";
    /// <summary>GGUF key of the BOS id (default 1).</summary>
    public const string BosKey = "tokenizer.ggml.bos_token_id";
    /// <summary>GGUF key of the EOS id (default 2).</summary>
    public const string EosKey = "tokenizer.ggml.eos_token_id";
    /// <summary>GGUF key of the unknown-token id (default 0).</summary>
    public const string UnknownKey = "tokenizer.ggml.unknown_token_id";
    /// <summary>GGUF key of the add-BOS flag (default true).</summary>
    public const string AddBosKey = "tokenizer.ggml.add_bos_token";
    /// <summary>GGUF key of the add-EOS flag (default false).</summary>
    public const string AddEosKey = "tokenizer.ggml.add_eos_token";
    /// <summary>GGUF key of the add-space-prefix flag (default true).</summary>
    public const string AddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";

    private const char SpaceMarker = '\u2581';

    private readonly string[] _tokens;
    private readonly float[] _scores;
    private readonly TokenType[] _types;
    private readonly byte[] _pieces;
    private readonly int[] _pieceStart;
    private readonly int[] _userDefined;
    private readonly SpmBpeEncoder _encoder;

    private Tokenizer(string[] tokens, float[] scores, TokenType[] types, int bos, int eos, int unk,
        bool addBos, bool addEos, bool addSpacePrefix)
    {
        _tokens = tokens;
        _scores = scores;
        _types = types;
        BosId = bos;
        EosId = eos;
        UnknownId = unk;
        AddBos = addBos;
        AddEos = addEos;
        AddSpacePrefix = addSpacePrefix;

        // Text to id over all token types; a duplicated text maps to its last id, as in llama.cpp.
        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) ids[tokens[i]] = i;

        // Byte fallback: "<0xXX>", else the byte itself as a one-character token (ASCII only), else unknown.
        var byteTokens = new int[256];
        for (int b = 0; b < 256; b++)
        {
            byteTokens[b] = ids.TryGetValue($"<0x{b:X2}>", out int id) ? id
                : b < 0x80 && ids.TryGetValue(((char)b).ToString(), out id) ? id
                : unk;
        }
        _encoder = new SpmBpeEncoder(ids, scores, byteTokens);

        // Decoded bytes of every token, packed in one array.
        _pieceStart = new int[tokens.Length + 1];
        var pieces = new ArrayBufferWriter<byte>(tokens.Length * 4);
        for (int i = 0; i < tokens.Length; i++)
        {
            _pieceStart[i] = pieces.WrittenCount;
            switch (types[i])
            {
                case TokenType.Normal:
                    pieces.Write(Encoding.UTF8.GetBytes(tokens[i].Replace(SpaceMarker, ' ')));
                    break;
                case TokenType.UserDefined:
                    pieces.Write(Encoding.UTF8.GetBytes(tokens[i]));
                    break;
                case TokenType.Byte:
                    pieces.Write([ParseByteToken(tokens[i])]);
                    break;
            }
            MaxPieceByteCount = Math.Max(MaxPieceByteCount, pieces.WrittenCount - _pieceStart[i]);
        }
        _pieceStart[tokens.Length] = pieces.WrittenCount;
        _pieces = pieces.WrittenSpan.ToArray();

        // User-defined tokens, longest (in UTF-8 bytes) first; equal lengths by id.
        _userDefined = Enumerable.Range(0, tokens.Length)
            .Where(i => types[i] == TokenType.UserDefined)
            .OrderByDescending(i => Encoding.UTF8.GetByteCount(tokens[i]))
            .ThenBy(i => i)
            .ToArray();
    }

    /// <summary>Number of tokens in the vocabulary.</summary>
    public int VocabSize => _tokens.Length;

    /// <summary>Id of the beginning-of-sequence token.</summary>
    public int BosId { get; }

    /// <summary>Id of the end-of-sequence token.</summary>
    public int EosId { get; }

    /// <summary>Id of the unknown token.</summary>
    public int UnknownId { get; }

    /// <summary>Whether encoding puts BOS first (when the caller asks for special tokens).</summary>
    public bool AddBos { get; }

    /// <summary>Whether encoding puts EOS last (when the caller asks for special tokens).</summary>
    public bool AddEos { get; }

    /// <summary>Whether a space is put before raw text at the start and after each user-defined token.</summary>
    public bool AddSpacePrefix { get; }

    /// <summary>The longest <see cref="GetPieceBytes"/> of any token, in bytes.</summary>
    public int MaxPieceByteCount { get; }

    /// <summary>
    /// Reads the tokenizer of a GGUF file. Throws <see cref="GgufFormatException"/> naming the key when the model is
    /// not <c>"llama"</c>, the vocabulary is empty, the arrays disagree in length, a token type is outside 0..6, a
    /// byte token is not <c>&lt;0xXX&gt;</c>, or a special id is outside the vocabulary.
    /// </summary>
    public static Tokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var m = file.Metadata;
        string model = m.GetString(ModelKey);
        if (model != "llama")
            throw new GgufFormatException(file.FilePath, -1, $"metadata key '{ModelKey}' is '{model}'; only the SentencePiece tokenizer 'llama' is supported.");
        string[] tokens = m.GetStringArray(TokensKey);
        float[]? scores = m.ContainsKey(ScoresKey) ? m.GetFloat32Array(ScoresKey) : null;
        int[]? types = m.ContainsKey(TokenTypeKey) ? m.GetInt32Array(TokenTypeKey) : null;
        return Build(problem => new GgufFormatException(file.FilePath, -1, problem),
            tokens, scores, types,
            SpecialId(m, BosKey, 1), SpecialId(m, EosKey, 2), SpecialId(m, UnknownKey, 0),
            m.GetBoolOrDefault(AddBosKey, true), m.GetBoolOrDefault(AddEosKey, false), m.GetBoolOrDefault(AddSpacePrefixKey, true));
    }

    /// <summary>
    /// Builds a tokenizer from vocabulary arrays laid out as in GGUF. Throws <see cref="ArgumentException"/> (naming the
    /// GGUF key concerned) for the problems <see cref="FromGguf"/> rejects.
    /// </summary>
    /// <param name="tokens">Token strings, <c>▁</c> for a space.</param>
    /// <param name="scores">Merge score of each token.</param>
    /// <param name="tokenTypes">Type of each token (<see cref="TokenType"/> values 0..6).</param>
    /// <param name="bos">BOS id.</param>
    /// <param name="eos">EOS id.</param>
    /// <param name="unk">Unknown-token id.</param>
    /// <param name="addBos">Whether encoding puts BOS first.</param>
    /// <param name="addSpacePrefix">Whether a space is put before raw text.</param>
    /// <param name="addEos">Whether encoding puts EOS last.</param>
    public static Tokenizer Create(string[] tokens, float[] scores, int[] tokenTypes, int bos, int eos, int unk,
        bool addBos = true, bool addSpacePrefix = true, bool addEos = false)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(tokenTypes);
        return Build(problem => new ArgumentException(problem), tokens, scores, tokenTypes, bos, eos, unk, addBos, addEos, addSpacePrefix);
    }

    private static long SpecialId(GgufMetadata m, string key, long fallback) => m.ContainsKey(key) ? m.GetInt64(key) : fallback;

    private static Tokenizer Build(Func<string, Exception> error, string[] tokens, float[]? scores, int[]? types,
        long bos, long eos, long unk, bool addBos, bool addEos, bool addSpacePrefix)
    {
        int n = tokens.Length;
        if (n == 0) throw error($"metadata key '{TokensKey}' is empty; the vocabulary needs at least one token.");
        if (scores is not null && scores.Length != n)
            throw error($"metadata key '{ScoresKey}' has {scores.Length} entries but '{TokensKey}' has {n}.");
        if (types is not null && types.Length != n)
            throw error($"metadata key '{TokenTypeKey}' has {types.Length} entries but '{TokensKey}' has {n}.");
        foreach (var (key, id) in new[] { (BosKey, bos), (EosKey, eos), (UnknownKey, unk) })
        {
            if (id < 0 || id >= n)
                throw error($"metadata key '{key}' is {id}, outside the vocabulary of {n} tokens.");
        }

        var text = new string[n];
        var kinds = new TokenType[n];
        for (int i = 0; i < n; i++)
        {
            int t = types?[i] ?? (int)TokenType.Normal;
            if (t is < (int)TokenType.Undefined or > (int)TokenType.Byte)
                throw error($"metadata key '{TokenTypeKey}' entry {i} is {t}; token types are 0..6.");
            kinds[i] = (TokenType)t;
            // llama.cpp renames empty tokens so that they can never match text.
            text[i] = string.IsNullOrEmpty(tokens[i]) ? $"[EMPTY_{i}]" : tokens[i];
            if (kinds[i] == TokenType.Byte && !IsByteToken(text[i]))
                throw error($"metadata key '{TokenTypeKey}' marks token {i} ('{text[i]}' in '{TokensKey}') as a byte token, but it is not of the form <0xXX>.");
        }
        return new Tokenizer(text, scores is null ? new float[n] : (float[])scores.Clone(), kinds,
            (int)bos, (int)eos, (int)unk, addBos, addEos, addSpacePrefix);
    }

    /// <summary>Whether <paramref name="s"/> is a byte token's text, <c>&lt;0xXX&gt;</c>.</summary>
    internal static bool IsByteToken(string s) =>
        s.Length == 6 && s.StartsWith("<0x", StringComparison.Ordinal) && s[5] == '>' && char.IsAsciiHexDigit(s[3]) && char.IsAsciiHexDigit(s[4]);

    private static byte ParseByteToken(string s) => Convert.ToByte(s.Substring(3, 2), 16);

    /// <summary>
    /// Encodes <paramref name="text"/> into a new array. With <paramref name="addBos"/>, the special tokens the vocabulary
    /// asks for are added (BOS first when <see cref="AddBos"/>, EOS last when <see cref="AddEos"/>). The empty string
    /// gives just those.
    /// </summary>
    public int[] Encode(string text, bool addBos = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 2 + 2);
        Encode(text.AsSpan(), output, addBos);
        return output.ToArray();
    }

    /// <summary>Encodes <paramref name="text"/>, appending the ids to <paramref name="output"/>; see <see cref="Encode(string, bool)"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output, bool addBos = true)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (addBos && AddBos) output.Add(BosId);
        if (!text.IsEmpty)
        {
            string? repaired = HasLoneSurrogate(text) ? RepairSurrogates(text) : null;
            if (repaired is not null) text = repaired;
            if (_userDefined.Length == 0)
            {
                EncodeRaw(text, AddSpacePrefix, output);
            }
            else
            {
                bool afterSpecial = true;
                foreach (var f in TextFragment.Partition(text, _userDefined, _tokens))
                {
                    if (f.IsText)
                    {
                        EncodeRaw(text.Slice(f.Start, f.Length), AddSpacePrefix && afterSpecial, output);
                        afterSpecial = false;
                    }
                    else
                    {
                        output.Add(f.Token);
                        afterSpecial = true;
                    }
                }
            }
        }
        if (addBos && AddEos) output.Add(EosId);
    }

    /// <summary>
    /// Encodes text that continues earlier text (no space prefix, user-defined tokens not split out): used to re-append
    /// the tail of a reply cut at a stop string.
    /// </summary>
    internal void EncodeContinuation(ReadOnlySpan<char> text, List<int> output)
    {
        if (!text.IsEmpty) EncodeRaw(text, spacePrefix: false, output);
    }

    private void EncodeRaw(ReadOnlySpan<char> text, bool spacePrefix, List<int> output)
    {
        int length = text.Length + (spacePrefix ? 1 : 0);
        char[] buffer = ArrayPool<char>.Shared.Rent(length);
        try
        {
            var escaped = buffer.AsSpan(0, length);
            if (spacePrefix) escaped[0] = SpaceMarker;
            text.Replace(escaped[(spacePrefix ? 1 : 0)..], ' ', SpaceMarker);
            _encoder.Encode(escaped, output);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static bool HasLoneSurrogate(ReadOnlySpan<char> s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            else return true;
        }
        return false;
    }

    private static string RepairSurrogates(ReadOnlySpan<char> s)
    {
        var chars = s.ToArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (!char.IsSurrogate(chars[i])) continue;
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else chars[i] = '\uFFFD';
        }
        return new string(chars);
    }

    /// <summary>
    /// Decodes ids to text: the concatenated <see cref="GetPieceBytes"/> read as UTF-8 (invalid sequences become
    /// U+FFFD). Control, unknown and unused tokens give nothing; the space the encoder put in front stays (as with
    /// llama.cpp's <c>llama_token_to_piece</c>).
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new ArrayBufferWriter<byte>(256);
        foreach (int id in ids) bytes.Write(GetPieceBytes(id));
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <summary>
    /// The UTF-8 bytes that token <paramref name="id"/> stands for in text, as llama.cpp's <c>llama_token_to_piece</c>
    /// gives them without special rendering: <c>▁</c> becomes a space, <c>&lt;0xXX&gt;</c> is that one byte, a
    /// user-defined token is its text, and control/unknown/unused tokens are empty. Precomputed; does not allocate.
    /// </summary>
    public ReadOnlySpan<byte> GetPieceBytes(int id)
    {
        CheckId(id);
        return _pieces.AsSpan(_pieceStart[id], _pieceStart[id + 1] - _pieceStart[id]);
    }

    /// <summary>The vocabulary string of token <paramref name="id"/> (with <c>▁</c> for spaces).</summary>
    public string GetTokenText(int id)
    {
        CheckId(id);
        return _tokens[id];
    }

    /// <summary>The merge score of token <paramref name="id"/>.</summary>
    public float GetScore(int id)
    {
        CheckId(id);
        return _scores[id];
    }

    /// <summary>The type of token <paramref name="id"/>.</summary>
    public TokenType GetTokenType(int id)
    {
        CheckId(id);
        return _types[id];
    }

    /// <summary>Whether token <paramref name="id"/> is a control token (such as BOS or EOS).</summary>
    public bool IsControl(int id) => GetTokenType(id) == TokenType.Control;

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id outside the vocabulary of {_tokens.Length} tokens.");
    }
}
