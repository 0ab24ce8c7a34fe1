using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.HuggingFace;

/// <summary>Options for <see cref="HfConverter.Convert"/>.</summary>
public sealed record HfConversionOptions
{
    /// <summary>Type of the 2-D weight matrices: Q8_0 (default), Q4_0, F16, BF16 or F32. Norms are always F32.</summary>
    public GgmlType WeightType { get; init; } = GgmlType.Q8_0;

    /// <summary>Threads encoding rows; default: all cores.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Receives the fraction of weight bytes done, 0 to 1.</summary>
    public IProgress<double>? Progress { get; init; }

    internal void Validate()
    {
        if (WeightType is not (GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.F16 or GgmlType.BF16 or GgmlType.F32))
            throw new ArgumentException($"Cannot convert to {WeightType}; choose Q8_0, Q4_0, F16, BF16 or F32.", nameof(WeightType));
        if (Threads is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 1 to 1024.");
    }
}
