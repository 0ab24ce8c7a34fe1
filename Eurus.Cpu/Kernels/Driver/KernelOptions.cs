namespace Eurus.Cpu.Kernels;

/// <summary>
/// Kernel choices and profiling of one model, instead of process-global switches: two models in one process may differ,
/// and tests or benchmarks switch a path for the model they build without touching any other. Set through
/// <see cref="Generation.ModelOptions"/> (internal: for the tests and benchmarks). Each flag can only turn a path off;
/// what the CPU lacks is never used.
/// </summary>
internal sealed record KernelOptions
{
    /// <summary>The defaults: every path the CPU runs, tokens in chunks of 64, no profile.</summary>
    public static KernelOptions Default { get; } = new();

    /// <summary>Use the AVX-VNNI repacks and tiles (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) where the CPU has AVX-VNNI.</summary>
    public bool Vnni { get; init; } = true;

    /// <summary>
    /// Where the CPU has AVX2 but not AVX-VNNI (see <see cref="UseMadd"/>): run Q4_0, Q4_K, Q5_K and Q6_K through the VNNI
    /// repacks and tiles with AVX2 multiply-adds in place of <c>VPDPBUSD</c> (<see cref="MaddByteDot"/>).
    /// </summary>
    public bool MaddTiles { get; init; } = true;

    /// <summary>Use the AVX-512BW prompt tiles (Q4_0/Q8_0 and the K-quants in the file's layout) where the CPU has AVX-512BW.</summary>
    public bool Avx512Tiles { get; init; } = true;

    /// <summary>
    /// Use the 128-bit prompt tiles (Q4_0, Q8_0 and the K-quants: one row × four tokens over ARM64 SDOT or portable Vector128) where the
    /// 128-bit row kernels are the widest this CPU runs: ARM64, and x64 without AVX2.
    /// </summary>
    public bool Tiles128 { get; init; } = true;

    /// <summary>
    /// Repack Q6_K in its compact form (<see cref="Q6Compact"/>: 210 bytes per super-block, as the file) rather than one
    /// byte per quant (274) where the multiply-add form runs (see <see cref="UseCompactQ6K"/>); on by default. Decoding
    /// reads the compact form (fewer bytes: the whole model's Q6_K decode time fell by 8–29%); a prompt's tiles read
    /// each row block expanded to bytes once per token chunk (<see cref="Q6KPacked.ExpandRows"/>), so prefill stays as
    /// fast as with the byte form. Measured on Zen 4, 2 threads: see the README (Performance, decode on the
    /// multiply-add classes).
    /// </summary>
    public bool CompactQ6K { get; init; } = true;

    /// <summary>
    /// Repack Q4_0, Q8_0 (and Q5_0, run as Q8_0), Q4_K, Q5_K and Q6_K in row quads (<see cref="PackedMatrix.Quads"/>,
    /// <see cref="QmKPacked.Quads"/>, <see cref="Q6KPacked.Quads"/>) where ARM64's DotProd runs (see
    /// <see cref="UseRowQuads"/>): four rows per by-element <c>SDOT</c> (<see cref="QuadDot"/>, <see cref="KQuantQuads"/>, <see cref="Q6KQuads"/>).
    /// </summary>
    public bool RowQuads { get; init; } = true;

    /// <summary>
    /// Decode's row kernels on the multiply-add classes prefetch rows longer than <see cref="MaddByteDot.LongRowCols"/>
    /// far ahead into L2 rather than near into L1 (<see cref="MaddByteDot.PrefetchWeights"/>); on by default.
    /// </summary>
    public bool FarPrefetch { get; init; } = true;

    /// <summary>Tokens per chunk of a matmul: a chunk's prepared activations stay in L2 while the rows stream past.</summary>
    public int TokenBlock { get; init; } = 64;

    /// <summary>When set, the forward passes of this model add their time per weight type and for attention here.</summary>
    public KernelProfile? Profile { get; init; }

    /// <summary>Whether the VNNI repacks apply on this CPU with these options.</summary>
    public bool UseVnni => Vnni && VnniDot.Supported;

    /// <summary>
    /// Whether the VNNI-layout kernels run on AVX2 multiply-adds (<see cref="MaddTiles"/>) on this CPU with these options:
    /// wherever AVX-VNNI does not run — AVX2-only CPUs, and AVX-512 CPUs without AVX-VNNI (Zen 4), where they measured
    /// faster than the AVX-512BW tiles and rows.
    /// </summary>
    public bool UseMadd => MaddTiles && !UseVnni && MaddByteDot.IsSupported;

    /// <summary>Whether Q4_0 matrices are repacked interleaved (for AVX-VNNI or the multiply-add form).</summary>
    public bool InterleaveQ4 => UseVnni || UseMadd;

    /// <summary>
    /// Whether Q8_0 matrices (and Q5_0/Q4_1/Q5_1, run as Q8_0) are repacked interleaved: for AVX-VNNI (the +128 weights)
    /// or the multiply-add form (the signed weights, <see cref="MaddByteDot.DpQ8"/>).
    /// </summary>
    public bool InterleaveQ8 => UseVnni || UseMadd;

    /// <summary>
    /// Whether Q4_K, Q5_K and Q6_K matrices are repacked (for AVX-VNNI or the multiply-add form): wherever either runs,
    /// Zen 4 included (there the multiply-add K-quant path measured faster than the AVX-512BW tiles and rows: pp128 17.6 vs
    /// 16.5, tg16 5.9 vs 5.0 t/s on the 7B Q4_K_M). Both paths equal the scalar reference to float rounding; their
    /// perplexities on the demo model's K-quant files differ from llama.cpp's by at most 0.081% over the 480 scored tokens
    /// of docs/genesis-1.txt, with either sign (see PerplexityCommandTests).
    /// </summary>
    public bool RepackKQuants => UseVnni || UseMadd;

    /// <summary>
    /// Whether Q6_K is repacked compact (<see cref="Q6KPacked"/>): asked for (<see cref="CompactQ6K"/>) and on the
    /// multiply-add classes; the AVX-VNNI class keeps the byte form it was measured with.
    /// </summary>
    public bool UseCompactQ6K => CompactQ6K && UseMadd;

    /// <summary>Whether the 128-bit tiles apply: allowed, no AVX2 (whose row kernels are wider), and Vector128 in hardware.</summary>
    public bool UseTiles128 => Tiles128 && !System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated;

    /// <summary>Whether the quantized formats are repacked in row quads: allowed, the 128-bit tiles apply, and the CPU has ARM64 DotProd.</summary>
    public bool UseRowQuads => RowQuads && UseTiles128 && SdotByteDot128.IsSupported;

    /// <summary>Whether the AVX-512BW tiles apply on this CPU with these options.</summary>
    public bool UseAvx512Tiles => Avx512Tiles && System.Runtime.Intrinsics.X86.Avx512BW.IsSupported;

    internal void Validate()
    {
        if (TokenBlock < 4 || TokenBlock > 4096) throw new ArgumentOutOfRangeException(nameof(TokenBlock), TokenBlock, "TokenBlock must be 4 to 4096.");
    }
}

/// <summary>Stopwatch ticks a model's forward passes spent, per weight type (index = (int)type), preparing activations and in attention.</summary>
internal sealed class KernelProfile
{
    /// <summary>Whether passes record now (a benchmark profiles one prompt, not its warm-up or timed rounds).</summary>
    public bool Enabled { get; set; }

    /// <summary>Ticks per slot: a weight type's multiplies at (int)type, <see cref="PrepareIndex"/>, <see cref="AttentionIndex"/>.</summary>
    public long[] Ticks { get; } = new long[64];

    /// <summary>The slot for activation preparation.</summary>
    public const int PrepareIndex = 63;

    /// <summary>The slot for attention.</summary>
    public const int AttentionIndex = 62;

    /// <summary>Sets every slot to zero.</summary>
    public void Clear() => Array.Clear(Ticks);
}
