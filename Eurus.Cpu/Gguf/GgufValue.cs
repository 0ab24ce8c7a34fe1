namespace Eurus.Cpu.Gguf;

/// <summary>
/// One GGUF metadata value. Scalars are boxed primitives (<see cref="byte"/>, <see cref="sbyte"/>, … <see cref="double"/>,
/// <see cref="bool"/>, <see cref="string"/>); arrays are typed CLR arrays (<c>uint[]</c>, <c>string[]</c>, …)
/// and arrays of arrays are <c>GgufValue[]</c>.
/// </summary>
public sealed class GgufValue
{
    private GgufValue(GgufValueType type, GgufValueType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        Value = value;
    }

    /// <summary>The value's type.</summary>
    public GgufValueType Type { get; }

    /// <summary>For arrays, the element type; otherwise equal to <see cref="Type"/>.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The payload (see the class remarks for the CLR types used).</summary>
    public object Value { get; }

    /// <summary>Number of elements for an array, 1 for a scalar.</summary>
    public long Count => Value is Array a ? a.LongLength : 1;

    /// <summary>Wraps a scalar; the GGUF type follows from the CLR type.</summary>
    public static GgufValue Scalar(object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var t = TypeOf(value.GetType()) ?? throw new ArgumentException($"{value.GetType()} is not a GGUF scalar type.", nameof(value));
        return new GgufValue(t, t, value);
    }

    /// <summary>Wraps a typed array (<c>int[]</c>, <c>float[]</c>, <c>string[]</c>, …; <c>GgufValue[]</c> of arrays for nesting).</summary>
    public static GgufValue Array(Array elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        var et = elements.GetType().GetElementType()!;
        GgufValueType elementType;
        if (et == typeof(GgufValue))
        {
            elementType = GgufValueType.Array;
            foreach (GgufValue v in (GgufValue[])elements)
                if (v is null || v.Type != GgufValueType.Array) throw new ArgumentException("Nested GGUF arrays must hold arrays.", nameof(elements));
        }
        else
        {
            elementType = TypeOf(et) ?? throw new ArgumentException($"{et} is not a GGUF element type.", nameof(elements));
        }
        return new GgufValue(GgufValueType.Array, elementType, elements);
    }

    internal static GgufValue FromParsed(GgufValueType type, GgufValueType elementType, object value) => new(type, elementType, value);

    internal static GgufValueType? TypeOf(Type t) =>
        t == typeof(byte) ? GgufValueType.UInt8 :
        t == typeof(sbyte) ? GgufValueType.Int8 :
        t == typeof(ushort) ? GgufValueType.UInt16 :
        t == typeof(short) ? GgufValueType.Int16 :
        t == typeof(uint) ? GgufValueType.UInt32 :
        t == typeof(int) ? GgufValueType.Int32 :
        t == typeof(float) ? GgufValueType.Float32 :
        t == typeof(bool) ? GgufValueType.Bool :
        t == typeof(string) ? GgufValueType.String :
        t == typeof(ulong) ? GgufValueType.UInt64 :
        t == typeof(long) ? GgufValueType.Int64 :
        t == typeof(double) ? GgufValueType.Float64 :
        null;

    /// <summary>Size in bytes of a fixed-size scalar of <paramref name="type"/>, 0 for strings and arrays.</summary>
    internal static int FixedSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    /// <inheritdoc />
    public override string ToString() => Value switch
    {
        string s => s.Length > 80 ? $"\"{s[..77]}...\"" : $"\"{s}\"",
        Array a => $"[{ElementType} × {a.LongLength}]",
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
