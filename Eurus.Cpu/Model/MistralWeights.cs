using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Model;

/// <summary>All weights of a Mistral model as views into a mapped GGUF file (validated by <see cref="MistralConfig"/>).</summary>
internal sealed unsafe class MistralWeights : IDisposable
{
    /// <summary>Token embedding table, [vocab rows × dim].</summary>
    public required WeightMatrix TokenEmbedding { get; init; }
    /// <summary>Final RMSNorm, [dim].</summary>
    public required float* OutputNorm { get; init; }
    /// <summary>Output projection (lm_head), [vocab rows × dim]; the embedding table when the file ties them.</summary>
    public required WeightMatrix Output { get; init; }
    /// <summary>Transformer blocks.</summary>
    public required LayerWeights[] Layers { get; init; }

    /// <summary>Repacked copies of the matrices (Q4_0/Q8_0/Q5_0/Q4_1/Q5_1, and Q4_K/Q5_K/Q6_K on AVX-VNNI machines), freed with the model.</summary>
    private readonly List<IDisposable> _packed = [];

    /// <summary>The kernel options the matrices were prepared with; the forward passes over these weights use them too.</summary>
    public KernelOptions Kernels { get; private set; } = KernelOptions.Default;

    /// <summary>Bytes held by repacked matrices.</summary>
    public long PackedBytes => _packed.Sum(p => p switch
    {
        PackedMatrix m => m.Bytes, QmKPacked k => k.Bytes, Q6KPacked k6 => k6.Bytes, OffsetQuantMatrix o => o.Q8.Bytes + o.Q8.Rows * (o.Q8.Cols / 32) * 4L, _ => 0,
    });

    /// <summary>
    /// Views of every weight. Q4_0 and Q8_0 matrices (not the embedding table, which is only read a row at a time)
    /// are repacked by reading the file, so the file's pages never enter the resident set twice; the matrices are
    /// repacked on <paramref name="threads"/> threads (the repacking, not the reading, is what a load waits for).
    /// <paramref name="reporter"/> hears of every matrix repacked and may cancel between matrices (what was repacked is freed).
    /// </summary>
    public static MistralWeights FromGguf(GgufFile f, MistralConfig c, int threads = 1, KernelOptions? kernels = null,
        Generation.LoadReporter? reporter = null)
    {
        kernels ??= KernelOptions.Default;
        bool interleaveQ8 = kernels.InterleaveQ8;
        using var handle = File.OpenHandle(f.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        // Every matrix the forward pass multiplies by (the output projection may be the tied embedding table).
        var names = new List<string>();
        for (int l = 0; l < c.Layers; l++)
            foreach (var n in new[] { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down" })
                names.Add($"blk.{l}.{n}.weight");
        names.Add(f.TryGetTensor("output.weight", out _) ? "output.weight" : "token_embd.weight");
        var toPack = names.Distinct().Select(f.GetTensor).Where(t => t.Type is GgmlType.Q4_0 or GgmlType.Q8_0 or GgmlType.Q5_0
            or GgmlType.Q4_1 or GgmlType.Q5_1
            || (t.Type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K && (kernels.RepackKQuants || kernels.UseRowQuads))).ToArray();
        var packedByName = new IDisposable?[toPack.Length];
        int done = 0;
        try
        {
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads), CancellationToken = reporter?.CancellationToken ?? default };
            Parallel.For(0, toPack.Length, parallel, i =>
            {
                var t = toPack[i];
                // Q5_0 runs as the Q8_0 matrix of the same values (lossless, 34/22 of the size): a packed-only view.
                // Q4_K, Q5_K and Q6_K are repacked for the VNNI-layout kernels (AVX-VNNI or AVX2) or in row quads (ARM64 with
                // DotProd); elsewhere they run from the mapping.
                packedByName[i] = t.Type switch
                {
                    GgmlType.Q5_0 => PackedMatrix.FromBlocks(GgmlType.Q8_0, (int)t.RowCount, (int)t.RowLength,
                        Quantization.Q5_0Reference.WidenToQ8_0(f.GetTensorData(t), t.RowCount * t.RowLength), interleaveQ8, kernels.UseRowQuads),
                    // Q4_1 / Q5_1 (q·d + m) run as a Q8_0 matrix of the same quants plus per-block minimums (lossless).
                    GgmlType.Q4_1 or GgmlType.Q5_1 => OffsetQuantMatrix.FromBlocks(t.Type, (int)t.RowCount, (int)t.RowLength, f.GetTensorData(t), interleaveQ8),
                    GgmlType.Q4_K or GgmlType.Q5_K => QmKPacked.FromFile(handle, t.FileOffset, t.Type, (int)t.RowCount, (int)t.RowLength, kernels.UseRowQuads),
                    GgmlType.Q6_K => Q6KPacked.FromFile(handle, t.FileOffset, (int)t.RowCount, (int)t.RowLength, kernels.UseCompactQ6K, kernels.UseRowQuads),
                    // Q4_0 and Q8_0 interleaved for AVX-VNNI or AVX2 multiply-adds.
                    _ => PackedMatrix.FromFile(handle, t.FileOffset, t.Type, (int)t.RowCount, (int)t.RowLength,
                        t.Type == GgmlType.Q4_0 ? kernels.InterleaveQ4 : interleaveQ8, kernels.UseRowQuads),
                };
                reporter?.Report((double)Interlocked.Increment(ref done) / toPack.Length);
            });
        }
        catch (AggregateException e)
        {
            foreach (var p in packedByName) p?.Dispose();
            // Reports that saw the cancellation only: the load was cancelled, not broken.
            var first = e.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException)
                        ?? new OperationCanceledException(reporter?.CancellationToken ?? default);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
        catch (OperationCanceledException)
        {
            foreach (var p in packedByName) p?.Dispose();
            throw;
        }
        var lookup = new Dictionary<string, IDisposable>();
        for (int i = 0; i < toPack.Length; i++) lookup[toPack[i].Name] = packedByName[i]!;
        var packed = lookup.Values.ToList();
        WeightMatrix M(string name, bool pack = true)
        {
            var t = f.GetTensor(name);
            var p = pack && lookup.TryGetValue(name, out var m) ? m : null;
            // Q5_0, Q4_1 and Q5_1 run on their Q8_0 repack (Q4_1/Q5_1 with per-block minimums); the file's bytes are not read again.
            if (p is PackedMatrix q5 && t.Type == GgmlType.Q5_0) return new WeightMatrix(null, t.Type, (int)t.RowCount, (int)t.RowLength, q5, kernels: kernels);
            if (p is OffsetQuantMatrix o) return new WeightMatrix(null, t.Type, (int)t.RowCount, (int)t.RowLength, o.Q8, mins: o.Mins, kernels: kernels);
            return new WeightMatrix(f.GetPointer(t), t.Type, (int)t.RowCount, (int)t.RowLength, p as PackedMatrix, p as QmKPacked, p as Q6KPacked, kernels: kernels);
        }
        try
        {
            var weights = Build(f, c, M, packed);
            weights.Kernels = kernels;
            return weights;
        }
        catch
        {
            foreach (var p in packed) p.Dispose();
            throw;
        }
    }

    private static MistralWeights Build(GgufFile f, MistralConfig c, Func<string, bool, WeightMatrix> M0, List<IDisposable> packed)
    {
        WeightMatrix M(string name, bool pack = true) => M0(name, pack);
        float* V(string name) => (float*)f.GetPointer(f.GetTensor(name));
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            layers[l] = new LayerWeights
            {
                AttnNorm = V($"blk.{l}.attn_norm.weight"),
                Wq = M($"blk.{l}.attn_q.weight"),
                Wk = M($"blk.{l}.attn_k.weight"),
                Wv = M($"blk.{l}.attn_v.weight"),
                Wo = M($"blk.{l}.attn_output.weight"),
                FfnNorm = V($"blk.{l}.ffn_norm.weight"),
                Gate = M($"blk.{l}.ffn_gate.weight"),
                Up = M($"blk.{l}.ffn_up.weight"),
                Down = M($"blk.{l}.ffn_down.weight"),
            };
        }
        var weights = new MistralWeights
        {
            TokenEmbedding = M("token_embd.weight", pack: false),
            OutputNorm = V("output_norm.weight"),
            Output = f.TryGetTensor("output.weight", out _) ? M("output.weight") : M("token_embd.weight"),
            Layers = layers,
        };
        weights._packed.AddRange(packed);
        return weights;
    }

    /// <summary>Forward passes enter this before reading any weight and leave after (see <see cref="UseGate"/>).</summary>
    public UseGate Gate { get; } = new();

    /// <summary>Waits for running forward passes to finish their step, then frees the repacked matrices.</summary>
    public void Dispose()
    {
        if (!Gate.Close()) return;
        foreach (var p in _packed) p.Dispose();
        _packed.Clear();
    }
}
