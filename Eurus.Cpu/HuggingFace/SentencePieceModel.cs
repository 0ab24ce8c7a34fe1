namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// The parts of a SentencePiece <c>tokenizer.model</c> (a serialized <c>ModelProto</c>) that a GGUF vocabulary needs:
/// the pieces with their scores and types, the trainer's model type and special ids, and the normalizer's
/// dummy-prefix flag. Parsed directly from the protobuf wire format; unknown fields are skipped.
/// </summary>
public sealed class SentencePieceModel
{
    /// <summary>File name in a model folder.</summary>
    public const string FileName = "tokenizer.model";

    /// <summary>A SentencePiece piece type (<c>SentencePiece.Type</c> in the proto).</summary>
    public enum PieceType
    {
        /// <summary>Ordinary piece.</summary>
        Normal = 1,
        /// <summary>The unknown piece.</summary>
        Unknown = 2,
        /// <summary>Control symbol such as BOS/EOS.</summary>
        Control = 3,
        /// <summary>User-defined symbol.</summary>
        UserDefined = 4,
        /// <summary>Unused piece.</summary>
        Unused = 5,
        /// <summary>Byte-fallback piece.</summary>
        Byte = 6,
    }

    /// <summary>One vocabulary entry.</summary>
    /// <param name="Piece">The piece text (<c>▁</c> for a space).</param>
    /// <param name="Score">Its score (merge priority for BPE).</param>
    /// <param name="Type">Its type.</param>
    public readonly record struct Entry(string Piece, float Score, PieceType Type);

    // Most pieces accepted; far above any real vocabulary, it stops hostile files before large allocations.
    private const int MaxPieces = 1 << 22;
    private const long MaxFileBytes = 256L << 20;

    private SentencePieceModel(IReadOnlyList<Entry> pieces) => Pieces = pieces;

    /// <summary>The vocabulary in id order.</summary>
    public IReadOnlyList<Entry> Pieces { get; }

    /// <summary>Trainer model type: 1 unigram, 2 BPE, 3 word, 4 char (proto default 1).</summary>
    public int ModelType { get; private set; } = 1;

    /// <summary>Unknown-token id (default 0).</summary>
    public int UnkId { get; private set; }

    /// <summary>BOS id (default 1; -1 when disabled).</summary>
    public int BosId { get; private set; } = 1;

    /// <summary>EOS id (default 2; -1 when disabled).</summary>
    public int EosId { get; private set; } = 2;

    /// <summary>Padding id (default -1: none).</summary>
    public int PadId { get; private set; } = -1;

    /// <summary>Whether unknown characters fall back to byte pieces.</summary>
    public bool ByteFallback { get; private set; }

    /// <summary>Whether the normalizer puts a space before the text (default true).</summary>
    public bool AddDummyPrefix { get; private set; } = true;

    /// <summary>Reads <paramref name="path"/>; throws <see cref="HuggingFaceFormatException"/> for malformed content.</summary>
    public static SentencePieceModel Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new HuggingFaceFormatException(path, $"the file is {length} bytes, more than the {MaxFileBytes}-byte limit.");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses a serialized <c>ModelProto</c>; <paramref name="name"/> is used in error messages.</summary>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data, string name)
    {
        var pieces = new List<Entry>();
        var r = new ProtoReader(data, name);
        int modelType = 1, unk = 0, bos = 1, eos = 2, pad = -1;
        bool byteFallback = false, dummyPrefix = true;
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case 1:
                    r.Expect(field, wire, ProtoReader.LengthDelimited);
                    if (pieces.Count >= MaxPieces) throw r.Error($"more than {MaxPieces} pieces.");
                    pieces.Add(ReadPiece(r.ReadMessage(), pieces.Count));
                    break;
                case 2:
                {
                    r.Expect(field, wire, ProtoReader.LengthDelimited);
                    var t = r.ReadMessage();
                    while (!t.AtEnd)
                    {
                        var (f, w) = t.ReadTag();
                        switch (f)
                        {
                            case 3: t.Expect(f, w, ProtoReader.Varint); modelType = t.ReadInt32(); break;
                            case 35: t.Expect(f, w, ProtoReader.Varint); byteFallback = t.ReadBool(); break;
                            case 40: t.Expect(f, w, ProtoReader.Varint); unk = t.ReadInt32(); break;
                            case 41: t.Expect(f, w, ProtoReader.Varint); bos = t.ReadInt32(); break;
                            case 42: t.Expect(f, w, ProtoReader.Varint); eos = t.ReadInt32(); break;
                            case 43: t.Expect(f, w, ProtoReader.Varint); pad = t.ReadInt32(); break;
                            default: t.Skip(w); break;
                        }
                    }
                    break;
                }
                case 3:
                {
                    r.Expect(field, wire, ProtoReader.LengthDelimited);
                    var n = r.ReadMessage();
                    while (!n.AtEnd)
                    {
                        var (f, w) = n.ReadTag();
                        if (f == 3) { n.Expect(f, w, ProtoReader.Varint); dummyPrefix = n.ReadBool(); }
                        else n.Skip(w);
                    }
                    break;
                }
                default:
                    r.Skip(wire);
                    break;
            }
        }
        if (pieces.Count == 0) throw new HuggingFaceFormatException(name, "the model has no pieces; not a SentencePiece model.");
        if (modelType is not (1 or 2))
            throw new HuggingFaceFormatException(name, $"SentencePiece model type {modelType} is not supported (only BPE and unigram).");
        foreach (var (what, id) in new[] { ("unk_id", unk), ("bos_id", bos), ("eos_id", eos), ("pad_id", pad) })
            if (id < -1 || id >= pieces.Count || (what == "unk_id" && id < 0))
                throw new HuggingFaceFormatException(name, $"trainer_spec.{what} = {id} is outside the vocabulary of {pieces.Count} pieces.");
        return new SentencePieceModel(pieces)
        {
            ModelType = modelType,
            UnkId = unk,
            BosId = bos,
            EosId = eos,
            PadId = pad,
            ByteFallback = byteFallback,
            AddDummyPrefix = dummyPrefix,
        };
    }

    private static Entry ReadPiece(ProtoReader r, int index)
    {
        string? piece = null;
        float score = 0;
        int type = (int)PieceType.Normal;
        while (!r.AtEnd)
        {
            var (f, w) = r.ReadTag();
            switch (f)
            {
                case 1: r.Expect(f, w, ProtoReader.LengthDelimited); piece = r.ReadString(); break;
                case 2: r.Expect(f, w, ProtoReader.Fixed32); score = r.ReadFloat(); break;
                case 3: r.Expect(f, w, ProtoReader.Varint); type = r.ReadInt32(); break;
                default: r.Skip(w); break;
            }
        }
        if (piece is null) throw r.Error($"piece {index} has no text.");
        if (type is < 1 or > 6) throw r.Error($"piece {index} ('{piece}') has unknown type {type}.");
        // The tokenizer decodes a byte piece from its text: SentencePiece writes them as <0x00>..<0xFF>.
        if (type == (int)PieceType.Byte && !Tokenization.Tokenizer.IsByteToken(piece))
            throw r.Error($"piece {index} ('{piece}') is a byte piece but is not of the form <0xXX>.");
        if (!float.IsFinite(score)) throw r.Error($"piece {index} ('{piece}') has score {score}.");
        return new Entry(piece, score, (PieceType)type);
    }
}
