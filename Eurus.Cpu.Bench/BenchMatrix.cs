using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Bench;

/// <summary>A matrix of random rows (64 quantized, repeated), repacked as a model load repacks it on this CPU.</summary>
internal sealed unsafe class BenchMatrix : IDisposable
{
    private byte[] _data = [];
    private IDisposable? _packed;
    public WeightMatrix Weights { get; private set; }
    /// <summary>The bytes a multiply reads: the repack's where there is one, else the file's.</summary>
    public long Bytes { get; private set; }
    /// <summary>The matrix's bytes in the file's layout.</summary>
    public long FileBytes { get; private set; }
    /// <summary>How it was repacked, for a benchmark's line: " (repacked)", " (repacked compact)", " (vnni)" or "".</summary>
    public string Label { get; private set; } = "";

    public static BenchMatrix Make(GgmlType type, int rows, int cols, KernelOptions options)
    {
        var m = new BenchMatrix();
        long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        m._data = GC.AllocateArray<byte>(checked((int)(rowBytes * rows)), pinned: true);
        var rng = new Random(1);
        var rowF = new float[cols];
        for (int r = 0; r < 64; r++)
        {
            for (int i = 0; i < cols; i++) rowF[i] = (float)(rng.NextDouble() * 2 - 1);
            RowCodec.Encode(type, rowF, m._data.AsSpan((int)(r * rowBytes), (int)rowBytes));
        }
        for (int r = 64; r < rows; r++) m._data.AsSpan((int)(r % 64 * rowBytes), (int)rowBytes).CopyTo(m._data.AsSpan((int)(r * rowBytes)));
        fixed (byte* p = m._data)
        {
            var packed = type is GgmlType.Q4_0 or GgmlType.Q8_0 ? PackedMatrix.FromBlocks(type, rows, cols, m._data, type == GgmlType.Q4_0 ? options.InterleaveQ4 : options.InterleaveQ8) : null;
            var qmk = type is GgmlType.Q4_K or GgmlType.Q5_K && options.RepackKQuants ? QmKPacked.FromBlocks(type, rows, cols, m._data) : null;
            var q6k = type is GgmlType.Q6_K && options.RepackKQuants ? Q6KPacked.FromBlocks(rows, cols, m._data, options.UseCompactQ6K) : null;
            m._packed = (IDisposable?)packed ?? (IDisposable?)qmk ?? q6k;
            m.Bytes = packed?.Bytes ?? qmk?.Bytes ?? q6k?.Bytes ?? m._data.Length;
            m.FileBytes = m._data.Length;
            m.Label = (qmk is null && q6k is null ? "" : q6k is { Compact: true } ? " (repacked compact)" : " (repacked)") + (packed is { Interleaved: true } ? " (vnni)" : "");
            m.Weights = new WeightMatrix(p, type, rows, cols, packed, qmk, q6k);
        }
        if (m._packed is not null) m._data = []; // the kernels read the repack only
        return m;
    }

    public void Dispose() => _packed?.Dispose();
}
