using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.HuggingFace;

/// <summary>Options for <see cref="HfConverter.Convert"/>.</summary>
public sealed record HfConversionOptions
{
    /// <summary>
    /// Type of the 2-D weight matrices: Q8_0 (default), Q4_0, Q5_0, Q4_K, Q5_K, Q6_K, F16, BF16 or F32 (every matrix the
    /// same type; llama-quantize's <c>--pure</c>). Norms are always F32. Matrices whose rows do not fit the type's blocks
    /// fall back as llama.cpp's do: to F16 when rows are not a multiple of 32, and K-quants to Q8_0 when rows are not a
    /// multiple of 256. Ignored when <see cref="Mix"/> is set.
    /// </summary>
    public GgmlType WeightType { get; init; } = GgmlType.Q8_0;

    /// <summary>
    /// A llama-quantize mixture (Q4_K_M, Q5_K_M, Q6_K, or the default Q4_0/Q5_0/Q8_0 files with a Q6_K output layer)
    /// choosing each matrix's type by <see cref="QuantMixRules.TensorType"/>, as the files people download are made.
    /// When set, <see cref="WeightType"/> is ignored.
    /// </summary>
    public QuantMix? Mix { get; init; }

    /// <summary>Threads encoding rows; default: all cores.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Receives the fraction of weight bytes done, 0 to 1.</summary>
    public IProgress<double>? Progress { get; init; }

    internal void Validate()
    {
        if (Mix is { } mix)
        {
            if (!Enum.IsDefined(mix)) throw new ArgumentOutOfRangeException(nameof(Mix), mix, "Unknown mixture.");
        }
        else if (!IsSupported(WeightType))
            throw new ArgumentException($"Cannot convert to {WeightType}; choose Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K, F16, BF16 or F32.", nameof(WeightType));
        if (Threads is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 1 to 1024.");
    }

    /// <summary>Whether <paramref name="type"/> is a matrix type the converter writes.</summary>
    internal static bool IsSupported(GgmlType type) => type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0
        or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.F16 or GgmlType.BF16 or GgmlType.F32;
}
