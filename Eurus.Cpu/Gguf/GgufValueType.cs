namespace Eurus.Cpu.Gguf;

/// <summary>Metadata value types of the GGUF format.</summary>
public enum GgufValueType : uint
{
    /// <summary>8-bit unsigned integer.</summary>
    UInt8 = 0,
    /// <summary>8-bit signed integer.</summary>
    Int8 = 1,
    /// <summary>16-bit unsigned integer.</summary>
    UInt16 = 2,
    /// <summary>16-bit signed integer.</summary>
    Int16 = 3,
    /// <summary>32-bit unsigned integer.</summary>
    UInt32 = 4,
    /// <summary>32-bit signed integer.</summary>
    Int32 = 5,
    /// <summary>32-bit float.</summary>
    Float32 = 6,
    /// <summary>Boolean stored as one byte (0 or 1).</summary>
    Bool = 7,
    /// <summary>UTF-8 string: uint64 length + bytes, no terminator.</summary>
    String = 8,
    /// <summary>Array: element type (uint32), count (uint64), elements.</summary>
    Array = 9,
    /// <summary>64-bit unsigned integer.</summary>
    UInt64 = 10,
    /// <summary>64-bit signed integer.</summary>
    Int64 = 11,
    /// <summary>64-bit float.</summary>
    Float64 = 12,
}
