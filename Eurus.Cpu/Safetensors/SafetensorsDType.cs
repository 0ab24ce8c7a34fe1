namespace Eurus.Cpu.Safetensors;

/// <summary>The element types Eurus.Cpu reads from safetensors files (the ones LLM checkpoints store weights in).</summary>
public enum SafetensorsDType
{
    /// <summary>IEEE single precision (<c>"F32"</c>).</summary>
    F32,
    /// <summary>IEEE half precision (<c>"F16"</c>).</summary>
    F16,
    /// <summary>bfloat16, the upper half of an F32 (<c>"BF16"</c>).</summary>
    BF16,
}

/// <summary>Names and sizes of <see cref="SafetensorsDType"/> values.</summary>
public static class SafetensorsDTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int Size(SafetensorsDType t) => t == SafetensorsDType.F32 ? 4 : 2;

    /// <summary>Parses a header dtype string; false for anything but F32, F16 and BF16.</summary>
    public static bool TryParse(string s, out SafetensorsDType type)
    {
        switch (s)
        {
            case "F32": type = SafetensorsDType.F32; return true;
            case "F16": type = SafetensorsDType.F16; return true;
            case "BF16": type = SafetensorsDType.BF16; return true;
            default: type = default; return false;
        }
    }

    /// <summary>Whether <paramref name="s"/> is a dtype of the safetensors format that this engine does not read.</summary>
    internal static bool IsOtherKnown(string s) => s is "F64" or "I64" or "U64" or "I32" or "U32" or "I16" or "U16" or "I8" or "U8"
        or "BOOL" or "F8_E4M3" or "F8_E5M2" or "F8_E8M0" or "F6_E2M3" or "F6_E3M2" or "F4" or "C64";
}
