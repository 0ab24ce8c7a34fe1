using System.Collections;

namespace Eurus.Cpu.Gguf;

/// <summary>
/// The key/value metadata of a GGUF file with typed accessors. Every accessor that fails names the key,
/// what was expected and what was found.
/// </summary>
public sealed class GgufMetadata : IReadOnlyDictionary<string, GgufValue>
{
    private readonly Dictionary<string, GgufValue> _values;
    private readonly List<string> _order;
    private readonly string _filePath;

    internal GgufMetadata(string filePath, Dictionary<string, GgufValue> values, List<string> order)
    {
        _filePath = filePath;
        _values = values;
        _order = order;
    }

    /// <summary>Keys in file order.</summary>
    public IEnumerable<string> Keys => _order;

    /// <summary>Values in file order.</summary>
    public IEnumerable<GgufValue> Values => _order.Select(k => _values[k]);

    /// <inheritdoc />
    public int Count => _order.Count;

    /// <inheritdoc />
    public GgufValue this[string key] => _values.TryGetValue(key, out var v) ? v : throw Missing(key);

    /// <inheritdoc />
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out GgufValue value) => _values.TryGetValue(key, out value);

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, GgufValue>> GetEnumerator() =>
        _order.Select(k => new KeyValuePair<string, GgufValue>(k, _values[k])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>A string value.</summary>
    public string GetString(string key) => Get(key) is { Value: string s } ? s : throw WrongType(key, "string");

    /// <summary>A string value, or <paramref name="fallback"/> when the key is absent.</summary>
    public string? GetStringOrDefault(string key, string? fallback = null) => _values.ContainsKey(key) ? GetString(key) : fallback;

    /// <summary>A boolean value.</summary>
    public bool GetBool(string key) => Get(key) is { Value: bool b } ? b : throw WrongType(key, "bool");

    /// <summary>A boolean value, or <paramref name="fallback"/> when the key is absent.</summary>
    public bool GetBoolOrDefault(string key, bool fallback) => _values.ContainsKey(key) ? GetBool(key) : fallback;

    /// <summary>Any integer value (of any GGUF integer width) that fits in a <see cref="uint"/>.</summary>
    public uint GetUInt32(string key)
    {
        long v = GetInt64(key);
        return v is >= 0 and <= uint.MaxValue ? (uint)v : throw OutOfRange(key, v, "uint32");
    }

    /// <summary>An integer value, or <paramref name="fallback"/> when the key is absent.</summary>
    public uint GetUInt32OrDefault(string key, uint fallback) => _values.ContainsKey(key) ? GetUInt32(key) : fallback;

    /// <summary>Any integer value that fits in a <see cref="long"/>.</summary>
    public long GetInt64(string key)
    {
        var v = Get(key);
        return v.Value switch
        {
            byte x => x, sbyte x => x, ushort x => x, short x => x, uint x => x, int x => x, long x => x,
            ulong x => x <= long.MaxValue ? (long)x : throw OutOfRange(key, (double)x, "int64"),
            _ => throw WrongType(key, "integer"),
        };
    }

    /// <summary>A float value (float32 or float64; integers are accepted too).</summary>
    public float GetFloat32(string key)
    {
        var v = Get(key);
        return v.Value switch
        {
            float f => f,
            double d => (float)d,
            byte or sbyte or ushort or short or uint or int or long or ulong => GetInt64(key),
            _ => throw WrongType(key, "float"),
        };
    }

    /// <summary>A float value, or <paramref name="fallback"/> when the key is absent.</summary>
    public float GetFloat32OrDefault(string key, float fallback) => _values.ContainsKey(key) ? GetFloat32(key) : fallback;

    /// <summary>An array of strings.</summary>
    public string[] GetStringArray(string key) => Get(key) is { Value: string[] a } ? a : throw WrongType(key, "array of string");

    /// <summary>An array of float32.</summary>
    public float[] GetFloat32Array(string key) => Get(key) is { Value: float[] a } ? a : throw WrongType(key, "array of float32");

    /// <summary>An array of any 32-bit-or-narrower integer type, widened to <see cref="int"/>.</summary>
    public int[] GetInt32Array(string key)
    {
        var v = Get(key);
        return v.Value switch
        {
            int[] a => a,
            uint[] a => a.Select(x => x <= int.MaxValue ? (int)x : throw OutOfRange(key, x, "int32")).ToArray(),
            short[] a => a.Select(x => (int)x).ToArray(),
            ushort[] a => a.Select(x => (int)x).ToArray(),
            sbyte[] a => a.Select(x => (int)x).ToArray(),
            byte[] a => a.Select(x => (int)x).ToArray(),
            _ => throw WrongType(key, "array of integers"),
        };
    }

    private GgufValue Get(string key) => _values.TryGetValue(key, out var v) ? v : throw Missing(key);

    private GgufFormatException Missing(string key) => new(_filePath, -1, $"metadata key '{key}' is missing.");

    private GgufFormatException WrongType(string key, string expected)
    {
        var v = _values[key];
        string found = v.Type == GgufValueType.Array ? $"array of {v.ElementType}" : v.Type.ToString();
        return new(_filePath, -1, $"metadata key '{key}' should be {expected} but is {found}.");
    }

    private GgufFormatException OutOfRange(string key, double value, string expected) =>
        new(_filePath, -1, $"metadata key '{key}' value {value} does not fit in {expected}.");
}
