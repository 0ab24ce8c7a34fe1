namespace Eurus.Cpu.Gguf;

/// <summary>Tensor element types as numbered by ggml (the <c>type</c> field of a GGUF tensor info).</summary>
public enum GgmlType : uint
{
    /// <summary>32-bit IEEE float.</summary>
    F32 = 0,
    /// <summary>16-bit IEEE half float.</summary>
    F16 = 1,
    /// <summary>4-bit blocks of 32: fp16 scale + 16 bytes of nibbles (18 bytes).</summary>
    Q4_0 = 2,
    /// <summary>4-bit blocks of 32 with scale and min.</summary>
    Q4_1 = 3,
    /// <summary>5-bit blocks of 32.</summary>
    Q5_0 = 6,
    /// <summary>5-bit blocks of 32 with min.</summary>
    Q5_1 = 7,
    /// <summary>8-bit blocks of 32: fp16 scale + 32 signed bytes (34 bytes).</summary>
    Q8_0 = 8,
    /// <summary>8-bit blocks of 32 with sum.</summary>
    Q8_1 = 9,
    /// <summary>K-quant, 2 bits.</summary>
    Q2_K = 10,
    /// <summary>K-quant, 3 bits.</summary>
    Q3_K = 11,
    /// <summary>K-quant, 4 bits.</summary>
    Q4_K = 12,
    /// <summary>K-quant, 5 bits.</summary>
    Q5_K = 13,
    /// <summary>K-quant, 6 bits.</summary>
    Q6_K = 14,
    /// <summary>K-quant activations, 8 bits.</summary>
    Q8_K = 15,
    /// <summary>i-quant.</summary>
    IQ2_XXS = 16,
    /// <summary>i-quant.</summary>
    IQ2_XS = 17,
    /// <summary>i-quant.</summary>
    IQ3_XXS = 18,
    /// <summary>i-quant.</summary>
    IQ1_S = 19,
    /// <summary>i-quant.</summary>
    IQ4_NL = 20,
    /// <summary>i-quant.</summary>
    IQ3_S = 21,
    /// <summary>i-quant.</summary>
    IQ2_S = 22,
    /// <summary>i-quant.</summary>
    IQ4_XS = 23,
    /// <summary>8-bit integer.</summary>
    I8 = 24,
    /// <summary>16-bit integer.</summary>
    I16 = 25,
    /// <summary>32-bit integer.</summary>
    I32 = 26,
    /// <summary>64-bit integer.</summary>
    I64 = 27,
    /// <summary>64-bit float.</summary>
    F64 = 28,
    /// <summary>i-quant.</summary>
    IQ1_M = 29,
    /// <summary>bfloat16 (upper half of an IEEE float).</summary>
    BF16 = 30,
    /// <summary>Ternary quant.</summary>
    TQ1_0 = 34,
    /// <summary>Ternary quant.</summary>
    TQ2_0 = 35,
    /// <summary>Microscaling FP4.</summary>
    MXFP4 = 39,
}

/// <summary>Block geometry of each <see cref="GgmlType"/>.</summary>
public static class GgmlTypeInfo
{
    /// <summary>
    /// Elements per block and bytes per block of <paramref name="type"/>; false for a type number ggml does not define.
    /// </summary>
    public static bool TryGetBlock(GgmlType type, out int blockElements, out int blockBytes)
    {
        (blockElements, blockBytes) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.BF16 => (1, 2),
            GgmlType.Q4_0 => (32, 18),
            GgmlType.Q4_1 => (32, 20),
            GgmlType.Q5_0 => (32, 22),
            GgmlType.Q5_1 => (32, 24),
            GgmlType.Q8_0 => (32, 34),
            GgmlType.Q8_1 => (32, 36),
            GgmlType.Q2_K => (256, 84),
            GgmlType.Q3_K => (256, 110),
            GgmlType.Q4_K => (256, 144),
            GgmlType.Q5_K => (256, 176),
            GgmlType.Q6_K => (256, 210),
            GgmlType.Q8_K => (256, 292),
            GgmlType.IQ2_XXS => (256, 66),
            GgmlType.IQ2_XS => (256, 74),
            GgmlType.IQ3_XXS => (256, 98),
            GgmlType.IQ1_S => (256, 50),
            GgmlType.IQ4_NL => (32, 18),
            GgmlType.IQ3_S => (256, 110),
            GgmlType.IQ2_S => (256, 82),
            GgmlType.IQ4_XS => (256, 136),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.F64 => (1, 8),
            GgmlType.IQ1_M => (256, 56),
            GgmlType.TQ1_0 => (256, 54),
            GgmlType.TQ2_0 => (256, 66),
            GgmlType.MXFP4 => (32, 17),
            _ => (0, 0),
        };
        return blockElements != 0;
    }

    /// <summary>True for the types whose tensors the engine can compute with today.</summary>
    public static bool IsSupported(GgmlType type) =>
        type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0
            or GgmlType.Q5_0 or GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Elements per block (1 for plain float types).</summary>
    public static int BlockElements(GgmlType type) =>
        TryGetBlock(type, out int e, out _) ? e : throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown ggml type.");

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(GgmlType type) =>
        TryGetBlock(type, out _, out int b) ? b : throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown ggml type.");

    /// <summary>Bytes taken by a row of <paramref name="elements"/> elements (must be a multiple of the block size).</summary>
    public static long RowBytes(GgmlType type, long elements)
    {
        TryGetBlock(type, out int e, out int b);
        if (e == 0) throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown ggml type.");
        if (elements % e != 0) throw new ArgumentException($"{elements} elements is not a multiple of the {type} block size {e}.", nameof(elements));
        return elements / e * b;
    }
}
