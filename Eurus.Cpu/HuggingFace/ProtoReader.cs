using System.Buffers.Binary;
using System.Text;

namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// A minimal protobuf wire-format reader over a byte span: varints, fixed32/64 and length-delimited fields. Every read
/// is bounds-checked; malformed input fails with <see cref="HuggingFaceFormatException"/> naming the file and offset.
/// </summary>
internal ref struct ProtoReader
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _file;
    private readonly long _base;
    private int _pos;

    public ProtoReader(ReadOnlySpan<byte> data, string file, long baseOffset = 0)
    {
        _data = data;
        _file = file;
        _base = baseOffset;
        _pos = 0;
    }

    public readonly bool AtEnd => _pos >= _data.Length;

    /// <summary>Absolute offset of the next byte in the file.</summary>
    public readonly long Offset => _base + _pos;

    public readonly HuggingFaceFormatException Error(string problem) => new(_file, $"at byte {Offset}: {problem}");

    /// <summary>Reads a field key: field number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        ulong key = ReadVarint();
        int wire = (int)(key & 7);
        ulong field = key >> 3;
        if (field == 0 || field > 536_870_911) throw Error($"invalid field number {field}.");
        if (wire is not (Varint or Fixed64 or LengthDelimited or Fixed32))
            throw Error($"unsupported wire type {wire} for field {field}.");
        return ((int)field, wire);
    }

    public ulong ReadVarint()
    {
        ulong v = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= _data.Length) throw Error("truncated varint.");
            byte b = _data[_pos++];
            if (shift == 63 && b > 1) throw Error("varint overflows 64 bits.");
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
        throw Error("varint longer than 10 bytes.");
    }

    /// <summary>An int32 field (negative values are sign-extended to ten bytes on the wire).</summary>
    public int ReadInt32() => unchecked((int)(long)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat()
    {
        if (_data.Length - _pos < 4) throw Error("truncated fixed32.");
        float v = BinaryPrimitives.ReadSingleLittleEndian(_data[_pos..]);
        _pos += 4;
        return v;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong n = ReadVarint();
        if (n > (ulong)(_data.Length - _pos)) throw Error($"length {n} runs past the end of the enclosing message ({_data.Length - _pos} bytes left).");
        var s = _data.Slice(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    /// <summary>A length-delimited sub-message, as a reader over its bytes.</summary>
    public ProtoReader ReadMessage()
    {
        var bytes = ReadBytes();
        // The sub-reader reports offsets in the file: its bytes end where this reader now stands.
        return new ProtoReader(bytes, _file, Offset - bytes.Length);
    }

    public string ReadString()
    {
        long at = Offset;
        var bytes = ReadBytes();
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new HuggingFaceFormatException(_file, $"at byte {at}: string is not valid UTF-8.");
        }
    }

    /// <summary>Skips a field of the given wire type.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64:
                if (_data.Length - _pos < 8) throw Error("truncated fixed64.");
                _pos += 8;
                break;
            case Fixed32:
                if (_data.Length - _pos < 4) throw Error("truncated fixed32.");
                _pos += 4;
                break;
            default: ReadBytes(); break;
        }
    }

    /// <summary>Checks that field <paramref name="field"/> came with the wire type <paramref name="expected"/>.</summary>
    public readonly void Expect(int field, int wireType, int expected)
    {
        if (wireType != expected) throw Error($"field {field} has wire type {wireType}, expected {expected}.");
    }
}
