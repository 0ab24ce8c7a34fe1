using Eurus.Cpu.Model;

namespace Eurus.Cpu.Generation;

/// <summary>Options for loading a model (see <see cref="EurusModel.Load(string, ModelOptions?)"/>).</summary>
public sealed record ModelOptions
{
    /// <summary>Worker threads for the matmuls and attention; default: all cores.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>
    /// Context length (positions per session). 0 (the default) uses <see cref="DefaultContextLength"/> (4096) or the
    /// model's trained length if that is smaller, as llama.cpp does: a 7B session then reserves 1 GiB of F32 KV cache
    /// (0.5 GiB F16) instead of 8 GiB at Mistral's 32768. Capped at the model's trained length.
    /// <see cref="EurusModel.SessionMemoryBytes"/> tells what a session of the length in effect holds.
    /// </summary>
    public int ContextLength { get; init; }
    /// <summary>
    /// Key/value cache element type: F16 (default, as llama.cpp's; half the memory of F32) or F32.
    /// </summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F16;
    /// <summary>
    /// Sliding attention window. Null uses the file's <c>llama.attention.sliding_window</c> if it has one, else full
    /// causal attention. Eurus-7B / Mistral-7B-v0.1 GGUFs carry no window: set 4096 to run them past 4096 tokens as trained.
    /// </summary>
    public int? SlidingWindow { get; init; }
    /// <summary>
    /// Type the weight matrices are converted to when <see cref="EurusModel.Load(string, ModelOptions?)"/> is given a Hugging Face model folder:
    /// Q8_0 (default), Q4_0, Q5_0, Q4_K, Q5_K, Q6_K, F16, BF16 or F32 (see <see cref="HuggingFace.HfConversionOptions.WeightType"/>).
    /// Ignored for GGUF files, and when <see cref="Mix"/> is set.
    /// </summary>
    public Gguf.GgmlType WeightType { get; init; } = Gguf.GgmlType.Q8_0;
    /// <summary>
    /// A llama-quantize mixture (for example Q4_K_M) the matrices of a Hugging Face model folder are converted to; when set
    /// it overrides <see cref="WeightType"/>. Ignored for GGUF files.
    /// </summary>
    public Quantization.QuantMix? Mix { get; init; }
    /// <summary>Receives the conversion progress (0 to 1) when loading a Hugging Face model folder.</summary>
    public IProgress<double>? LoadProgress { get; init; }
    /// <summary>Most prompt tokens evaluated per forward call (prefill batch).</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>The context a session gets when <see cref="ContextLength"/> is 0 (capped at the model's trained length).</summary>
    public const int DefaultContextLength = 4096;

    /// <summary>The default of <see cref="BatchSize"/>.</summary>
    internal const int DefaultBatchSize = 64;

    /// <summary>Kernel choices and profiling for this model (tests and benchmarks switch paths per model here).</summary>
    internal Kernels.KernelOptions Kernels { get; init; } = Eurus.Cpu.Kernels.KernelOptions.Default;

    internal void Validate()
    {
        if (Threads < 1 || Threads > 1024) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 1 to 1024.");
        if (ContextLength < 0) throw new ArgumentOutOfRangeException(nameof(ContextLength), ContextLength, "ContextLength must be ≥ 0.");
        if (SlidingWindow is < 1) throw new ArgumentOutOfRangeException(nameof(SlidingWindow), SlidingWindow, "SlidingWindow must be positive.");
        if (BatchSize < 1 || BatchSize > 4096) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be 1 to 4096.");
        ArgumentNullException.ThrowIfNull(Kernels);
        Kernels.Validate();
    }
}
