using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// The "file types" of llama-quantize that Eurus.Cpu can write: a mixture naming a type for every 2-D tensor
/// (1-D norms always stay F32). <see cref="QuantMixRules.TensorType"/> says which tensor gets which type.
/// </summary>
public enum QuantMix
{
    /// <summary>Q4_0 matrices, output.weight in Q6_K (llama-quantize's default "Q4_0", not <c>--pure</c>).</summary>
    Q4_0,
    /// <summary>Q5_0 matrices, output.weight in Q6_K (llama-quantize's default "Q5_0").</summary>
    Q5_0,
    /// <summary>Q8_0 everywhere, output.weight included.</summary>
    Q8_0,
    /// <summary>Q4_K, with Q6_K for output.weight and for attn_v and ffn_down of the "more bits" layers.</summary>
    Q4_K_M,
    /// <summary>Q5_K, with Q6_K for output.weight and for attn_v and ffn_down of the "more bits" layers.</summary>
    Q5_K_M,
    /// <summary>Q6_K everywhere.</summary>
    Q6_K,
}

/// <summary>
/// llama-quantize's per-tensor type choice (<c>llama_tensor_get_type</c>, no importance matrix, dense llama-architecture
/// models) for the mixtures in <see cref="QuantMix"/>:
/// <list type="bullet">
/// <item>output.weight (or token_embd.weight when the file has no output.weight) is Q6_K unless the mixture is Q8_0;
/// if its rows are not a multiple of 256 long it is Q8_0 instead.</item>
/// <item>For Q4_K_M and Q5_K_M, attn_v.weight and ffn_down.weight of layer i of n are Q6_K when i &lt; n/8, or
/// i ≥ 7n/8, or (i − n/8) mod 3 = 2 ("use_more_bits": the first and last eighth and every third layer between).</item>
/// <item>Every other matrix has the mixture's base type (token_embd.weight included); K-quant rows that are not a
/// multiple of 256 long fall back to Q5_0 (for Q4_K) or Q8_0 (for Q6_K).</item>
/// </list>
/// The tests check these rules against the types in files llama.cpp itself quantizes.
/// </summary>
public static class QuantMixRules
{
    /// <summary>The <c>general.file_type</c> code llama.cpp writes for <paramref name="mix"/>.</summary>
    public static uint FileType(QuantMix mix) => mix switch
    {
        QuantMix.Q4_0 => 2,
        QuantMix.Q5_0 => 8,
        QuantMix.Q8_0 => 7,
        QuantMix.Q4_K_M => 15,
        QuantMix.Q5_K_M => 17,
        QuantMix.Q6_K => 18,
        _ => throw new ArgumentOutOfRangeException(nameof(mix)),
    };

    /// <summary>The mixture's base type.</summary>
    public static GgmlType BaseType(QuantMix mix) => mix switch
    {
        QuantMix.Q4_0 => GgmlType.Q4_0,
        QuantMix.Q5_0 => GgmlType.Q5_0,
        QuantMix.Q8_0 => GgmlType.Q8_0,
        QuantMix.Q4_K_M => GgmlType.Q4_K,
        QuantMix.Q5_K_M => GgmlType.Q5_K,
        QuantMix.Q6_K => GgmlType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(mix)),
    };

    /// <summary>
    /// The type of the 2-D tensor <paramref name="name"/> (GGUF naming, <c>blk.N.…</c>) in a model of
    /// <paramref name="layers"/> layers whose rows are <paramref name="rowLength"/> long.
    /// <paramref name="hasOutput"/> is false for tied embeddings (then token_embd.weight is treated as the output).
    /// </summary>
    public static GgmlType TensorType(QuantMix mix, string name, int layers, long rowLength, bool hasOutput = true)
    {
        ArgumentNullException.ThrowIfNull(name);
        var type = BaseType(mix);
        bool isOutput = name == "output.weight" || (!hasOutput && name == "token_embd.weight");
        if (isOutput)
        {
            if (rowLength % 256 != 0) return GgmlType.Q8_0;
            return type == GgmlType.Q8_0 ? type : GgmlType.Q6_K;
        }
        if (mix is QuantMix.Q4_K_M or QuantMix.Q5_K_M && (name.EndsWith(".attn_v.weight", StringComparison.Ordinal) || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal)))
        {
            int layer = LayerOf(name);
            if (layer >= 0 && UseMoreBits(layer, layers)) type = GgmlType.Q6_K;
        }
        if (rowLength % 256 != 0 && type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K)
        {
            // llama-quantize falls back to Q5_0 / Q5_1 / Q8_0 here; Q5_1 is not supported.
            if (type == GgmlType.Q6_K) return GgmlType.Q8_0;
            if (type == GgmlType.Q4_K) return GgmlType.Q5_0;
            throw new NotSupportedException($"Tensor '{name}' has rows of {rowLength}, not a multiple of 256: {type} cannot hold it " +
                                            "(llama-quantize would fall back to Q5_1, which Eurus.Cpu does not write).");
        }
        return type;
    }

    /// <summary>llama.cpp's <c>use_more_bits</c>: the first and last eighth of the layers and every third one between.</summary>
    public static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static int LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        int dot = name.IndexOf('.', 4);
        return dot > 4 && int.TryParse(name.AsSpan(4, dot - 4), out int l) ? l : -1;
    }
}
