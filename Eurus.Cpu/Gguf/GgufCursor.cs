using System.Text;

namespace Eurus.Cpu.Gguf;

/// <summary>
/// Bounds-checked little-endian reader over the mapped header region. Every read checks the remaining length
/// first, so nothing is read past what was checked; failures raise <see cref="GgufFormatException"/> with the offset.
/// </summary>
internal unsafe struct GgufCursor
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private readonly byte* _base;
    private readonly long _length;
    private readonly string _path;

    public GgufCursor(byte* basePointer, long length, string path)
    {
        _base = basePointer;
        _length = length;
        _path = path;
        Position = 0;
    }

    public long Position { get; private set; }

    public readonly long Remaining => _length - Position;

    public readonly GgufFormatException Error(string problem, long? at = null) => new(_path, at ?? Position, problem);

    private readonly void Need(long bytes, string what)
    {
        if (bytes < 0 || bytes > Remaining)
            throw Error($"file ends while reading {what}: needs {bytes} bytes, {Remaining} left.");
    }

    public T Read<T>(string what) where T : unmanaged
    {
        Need(sizeof(T), what);
        T v = System.Runtime.CompilerServices.Unsafe.ReadUnaligned<T>(_base + Position);
        Position += sizeof(T);
        return v;
    }

    /// <summary>Reads a uint64 count and checks that <paramref name="minBytesEach"/> × count still fits in the file.</summary>
    public long ReadCount(string what, long minBytesEach, long hardLimit)
    {
        long at = Position;
        ulong n = Read<ulong>(what);
        if (n > (ulong)hardLimit)
            throw Error($"{what} is {n}, over the limit of {hardLimit}.", at);
        if (minBytesEach > 0 && (long)n > Remaining / minBytesEach)
            throw Error($"{what} is {n}, but only {Remaining} bytes remain (each needs at least {minBytesEach}).", at);
        return (long)n;
    }

    public string ReadString(string what, bool strict, long maxLength = long.MaxValue)
    {
        long at = Position;
        ulong len = Read<ulong>($"length of {what}");
        if (len > (ulong)Remaining)
            throw Error($"length of {what} is {len}, but only {Remaining} bytes remain.", at);
        if ((long)len > maxLength)
            throw Error($"length of {what} is {len}, over the limit of {maxLength}.", at);
        if (len > int.MaxValue)
            throw Error($"length of {what} is {len}, too long for a string.", at);
        var span = new ReadOnlySpan<byte>(_base + Position, (int)len);
        string s;
        try
        {
            s = strict ? StrictUtf8.GetString(span) : Encoding.UTF8.GetString(span);
        }
        catch (DecoderFallbackException e)
        {
            throw new GgufFormatException(_path, Position, $"{what} is not valid UTF-8.", e);
        }
        Position += (long)len;
        return s;
    }

    public void ReadInto<T>(T[] destination, string what) where T : unmanaged
    {
        long bytes = (long)destination.Length * sizeof(T);
        Need(bytes, what);
        new ReadOnlySpan<T>(_base + Position, destination.Length).CopyTo(destination);
        Position += bytes;
    }

    public void Seek(long position) => Position = position;
}
