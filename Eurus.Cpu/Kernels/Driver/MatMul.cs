using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// y = W·x for one or many tokens. Activations are first converted to what the weight type's dot product consumes
/// (Q8_0 blocks for quantized weights, F16/BF16 for half weights), then output rows are split across threads; each
/// weight row is read once and applied to every token of the batch. Scratch memory is allocated once, up front.
/// </summary>
internal sealed unsafe class MatMul : IDisposable
{
    private readonly int _maxTokens;
    private readonly int _maxCols;
    private readonly PackedActivations _packedX;
    private readonly Half[] _f16;
    private readonly ushort[] _bf16;
    private readonly float[] _f16x, _bf16x; // the activations rounded to F16 / BF16, widened back to float
    private readonly WorkerPool _pool;
    private readonly bool _ownsPool;
    private readonly int _threads;
    private readonly RowWork _rowWork;
    private readonly PrepareWork _prepareWork;
    private readonly KPrepareWork _kPrepareWork;
    private readonly KernelOptions _options;
    private readonly KernelProfile? _profile;

    // What the activation buffers currently hold: the input they were made from and which forms are ready.
    private (nint X, int Tokens, int Cols) _preparedInput;
    private bool _q4Ready, _q8Ready, _vnniReady, _sumsReady, _f16Ready, _bf16Ready, _q8kReady, _q8kVnniReady;
    private KQuantActivations? _q8k; // Q8_K activations, created on the first K-quant multiply
    private float* _kScales;         // per row chunk: a row block's K-quant scales as floats (VnniKQuant.QmKScales/Q6KScales)
    private long _kScaleFloats;      // floats per chunk in _kScales
    private byte* _q6Expanded;       // per running chunk (one slot per thread): a compact Q6_K row block in the byte form
    private long _q6ExpandedBytes;   // bytes per slot in _q6Expanded
    private readonly int[] _q6Slots; // 1 while a chunk holds the slot

    /// <summary>A matmul with its own pool of <paramref name="threads"/> threads.</summary>
    public MatMul(int maxTokens, int maxCols, int threads, bool needHalf, bool needBFloat, KernelOptions? options = null)
        : this(maxTokens, maxCols, new WorkerPool(threads), needHalf, needBFloat, options) => _ownsPool = true;

    /// <summary>A matmul sharing <paramref name="pool"/> (owned by the caller) with the rest of a forward pass.</summary>
    public MatMul(int maxTokens, int maxCols, WorkerPool pool, bool needHalf, bool needBFloat, KernelOptions? options = null)
    {
        KernelStatics.Initialize();
        _options = options ?? KernelOptions.Default;
        _options.Validate();
        _profile = _options.Profile;
        _maxTokens = maxTokens;
        _maxCols = maxCols;
        _pool = pool;
        _threads = pool.Threads;
        _packedX = new PackedActivations(maxTokens, maxCols);
        _f16 = needHalf ? GC.AllocateArray<Half>(checked(maxTokens * maxCols), pinned: true) : [];
        _bf16 = needBFloat ? GC.AllocateArray<ushort>(checked(maxTokens * maxCols), pinned: true) : [];
        _f16x = needHalf ? GC.AllocateArray<float>(checked(maxTokens * maxCols), pinned: true) : [];
        _bf16x = needBFloat ? GC.AllocateArray<float>(checked(maxTokens * maxCols), pinned: true) : [];
        _rowWork = new RowWork();
        _prepareWork = new PrepareWork(_packedX);
        _kPrepareWork = new KPrepareWork();
        _q6Slots = new int[_threads];
    }

    /// <summary>
    /// <paramref name="y"/>[t·Rows + r] = W[r] · <paramref name="x"/>[t·Cols …] for t &lt; <paramref name="tokens"/>.
    /// <paramref name="sameInput"/> says <paramref name="x"/> is unchanged since the previous call (Q, K and V of one
    /// layer; gate and up), so activations already prepared from it are reused instead of quantized again.
    /// </summary>
    public void Multiply(in WeightMatrix w, ReadOnlySpan<float> x, int tokens, Span<float> y, bool sameInput = false)
    {
        if (tokens < 1 || tokens > _maxTokens || w.Cols > _maxCols) throw new ArgumentOutOfRangeException(nameof(tokens));
        if (x.Length < (long)tokens * w.Cols || y.Length < (long)tokens * w.Rows) throw new ArgumentException("Activation buffers are too small.");
        int cols = w.Cols;
        bool profile = _profile is { Enabled: true };
        long t0 = profile ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        fixed (float* px = x)
        fixed (float* py = y)
        {
            // 1. Prepare the activations once per input.
            var input = ((nint)px, tokens, cols);
            if (sameInput && input != _preparedInput)
                throw new InvalidOperationException("sameInput was passed for a different input than the previous multiply.");
            if (!sameInput)
            {
                _preparedInput = input;
                _q4Ready = _q8Ready = _vnniReady = _sumsReady = _f16Ready = _bf16Ready = _q8kReady = _q8kVnniReady = false;
            }
            var form = w.Kernel.Input();
            switch (form)
            {
                case KernelInput.Q8_0Interleaved or KernelInput.Q8_0ForQ4 or KernelInput.Q8_0:
                    bool q4 = form == KernelInput.Q8_0ForQ4, vnni = form == KernelInput.Q8_0Interleaved, sums = w.Mins != null;
                    if ((vnni ? !_vnniReady : q4 ? !_q4Ready : !_q8Ready) || (sums && !_sumsReady))
                    {
                        // Preparing one form leaves the others intact (the shared block scales are rewritten with equal
                        // values); the VNNI form serves both types. A prefill batch is quantized token by token across the pool.
                        _packedX.Begin(tokens, cols);
                        _prepareWork.Set((nint)px, cols, q4, vnni, sums);
                        _pool.Run(_prepareWork, tokens);
                        if (vnni) _vnniReady = true; else if (q4) _q4Ready = true; else _q8Ready = true;
                        _sumsReady |= sums;
                    }
                    break;
                case KernelInput.Q8_KInterleaved or KernelInput.Q8_K:
                    _q8k ??= new KQuantActivations(_maxTokens, _maxCols);
                    // The VNNI form includes the plain one; a batch is quantized token by token across the pool.
                    bool kv = form == KernelInput.Q8_KInterleaved;
                    if (kv && _kScales == null)
                    {
                        _kScaleFloats = (long)RowBlock * (_maxCols / 256) * VnniKQuant.ScaleFloats;
                        _kScales = (float*)NativeMemory.AlignedAlloc((nuint)(MaxChunks * _kScaleFloats * sizeof(float)), 64);
                    }
                    if (kv ? !_q8kVnniReady : !_q8kReady)
                    {
                        _q8k.Begin(tokens, cols);
                        _kPrepareWork.Set(_q8k, (nint)px, cols, kv);
                        _pool.Run(_kPrepareWork, tokens);
                        _q8kReady = true;
                        _q8kVnniReady |= kv;
                    }
                    if (ExpandsQ6K(w, tokens) && _q6Expanded == null)
                    {
                        _q6ExpandedBytes = (long)RowBlock * (_maxCols / 256) * Q6Bytes.Bytes;
                        _q6Expanded = (byte*)NativeMemory.AlignedAlloc((nuint)(_threads * _q6ExpandedBytes), 64);
                    }
                    break;
                case KernelInput.None:
                    throw new NotSupportedException($"No matmul for {w.Type} in this layout.");
                case KernelInput.F16:
                    if (_f16.Length == 0) throw new InvalidOperationException("This matmul was made without F16 buffers.");
                    if (!_f16Ready)
                    {
                        FloatConversion.SingleToHalf(x[..(tokens * cols)], _f16);
                        FloatConversion.HalfToSingle(_f16.AsSpan(0, tokens * cols), _f16x);
                    }
                    _f16Ready = true;
                    break;
                case KernelInput.BF16:
                    if (_bf16.Length == 0) throw new InvalidOperationException("This matmul was made without BF16 buffers.");
                    if (!_bf16Ready)
                    {
                        FloatConversion.SingleToBFloat16(x[..(tokens * cols)], _bf16);
                        FloatConversion.BFloat16ToSingle(_bf16.AsSpan(0, tokens * cols), _bf16x);
                    }
                    _bf16Ready = true;
                    break;
            }
            long t1 = profile ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            if (profile) _profile!.Ticks[KernelProfile.PrepareIndex] += t1 - t0;
            // 2. Rows in chunks across threads.
            int chunks = Math.Min(w.Rows, MaxChunks);
            _rowWork.Set(new Job(w, (nint)px, (nint)py, tokens, this), w.Rows, chunks);
            try { _pool.Run(_rowWork, chunks); }
            finally { _rowWork.Clear(); }
            if (profile) _profile!.Ticks[(int)w.Type & 63] += System.Diagnostics.Stopwatch.GetTimestamp() - t1;
        }
    }

    /// <summary>Row chunk c of the current job (reused: a step allocates nothing).</summary>
    private sealed class RowWork : IParallelWork
    {
        private Job _job;
        private int _rows, _chunks;

        public void Set(Job job, int rows, int chunks) => (_job, _rows, _chunks) = (job, rows, chunks);

        public void Clear() => _job = default;

        // Chunks start at multiples of four rows (the row-quad tiles read groups of four; every other kernel is indifferent).
        public void Execute(int c) => _job.Run(Start(c), c + 1 == _chunks ? _rows : Start(c + 1), c);

        private int Start(int c) => (int)((long)_rows * c / _chunks) & ~3;
    }

    /// <summary>Quantizes token t of the current input.</summary>
    private sealed class PrepareWork(PackedActivations packed) : IParallelWork
    {
        private nint _x;
        private int _cols;
        private bool _q4, _vnni, _sums;

        public void Set(nint x, int cols, bool q4, bool vnni, bool sums) => (_x, _cols, _q4, _vnni, _sums) = (x, cols, q4, vnni, sums);

        public void Execute(int t) =>
            packed.PrepareToken(new ReadOnlySpan<float>((float*)_x + (long)t * _cols, _cols), t,
                forQ4: _q4 && !_vnni, forQ8: !_q4 && !_vnni, forVnni: _vnni, forSums: _sums);
    }

    /// <summary>Quantizes token t of the current input to Q8_K.</summary>
    private sealed class KPrepareWork : IParallelWork
    {
        private KQuantActivations? _acts;
        private nint _x;
        private int _cols;
        private bool _vnni;

        public void Set(KQuantActivations acts, nint x, int cols, bool vnni) => (_acts, _x, _cols, _vnni) = (acts, x, cols, vnni);

        public void Execute(int t) => _acts!.PrepareToken(new ReadOnlySpan<float>((float*)_x + (long)t * _cols, _cols), t, _vnni);
    }

    /// <summary>
    /// Whether a multiply of <paramref name="w"/> by <paramref name="tokens"/> tokens may run the compact Q6_K kernel's
    /// tiles (four tokens), which read each row block expanded to bytes into a slot of <see cref="_q6Expanded"/>.
    /// </summary>
    private static bool ExpandsQ6K(in WeightMatrix w, int tokens) => w.Q6K is { Compact: true } && tokens >= 4;

    /// <summary>
    /// A free slot of <see cref="_q6Expanded"/> for the calling thread's chunk: at most one chunk per thread of the pool
    /// runs at a time, so one is always free.
    /// </summary>
    private int TakeSlot()
    {
        for (int i = 0; i < _q6Slots.Length; i++)
            if (Interlocked.CompareExchange(ref _q6Slots[i], 1, 0) == 0) return i;
        throw new InvalidOperationException("More matmul chunks ran at once than the pool has threads.");
    }

    /// <summary>Rows per block inside a chunk (see <see cref="Job.RunChunk"/>).</summary>
    private const int RowBlock = 32;

    /// <summary>Row chunks per multiply: one per thread alone, else eight per thread (uneven progress balances out).</summary>
    private int MaxChunks => _threads == 1 ? 1 : _threads * 8;

    /// <summary>Tokens per chunk of <see cref="Job.Run"/> (see there): <see cref="KernelOptions.TokenBlock"/>.</summary>
    internal int TokenBlock => _options.TokenBlock;

    private readonly struct Job(WeightMatrix w, nint x, nint y, int tokens, MatMul owner)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int rowStart, int rowEnd, int chunk)
        {
            // Tokens in chunks: a chunk's prepared activations stay in L2 while the rows stream past (a 512-token
            // prompt's are 2–7 MB); each weight row is then read once per chunk instead of once per multiply.
            int block = owner.TokenBlock;
            // A compact Q6_K matrix's prompt tiles read their row block expanded to bytes, in a slot of this thread's own.
            int slot = ExpandsQ6K(w, tokens) ? owner.TakeSlot() : -1;
            try
            {
                byte* expanded = slot < 0 ? null : owner._q6Expanded + slot * owner._q6ExpandedBytes;
                for (int c0 = 0; c0 < tokens; c0 += block)
                    RunChunk(rowStart, rowEnd, c0, Math.Min(tokens, c0 + block), chunk, expanded);
            }
            finally
            {
                if (slot >= 0) Volatile.Write(ref owner._q6Slots[slot], 0);
            }
            if (w.Mins != null) AddMins(rowStart, rowEnd);
        }

        /// <summary>
        /// Q4_1/Q5_1: y[t, r] += Σ_b m[r, b] · (d·Σq)[t, b] for this job's rows: one row's minimums against eight
        /// tokens' sums at a time (eight independent chains), the remaining tokens one by one; each (r, t) is the
        /// same chain of operations either way, so a batch equals decoding.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void AddMins(int rowStart, int rowEnd)
        {
            int nb = w.Cols / 32, rows = w.Rows;
            float* py = (float*)y;
            var x = owner._packedX;
            int t = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; t + 8 <= tokens; t += 8)
                {
                    float* s0 = x.Sums(t);
                    long ts = x.Sums(t + 1) - s0;
                    for (int r = rowStart; r < rowEnd; r++)
                    {
                        float* m = w.Mins + (long)r * nb;
                        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                        int b = 0;
                        for (; b + 8 <= nb; b += 8)
                        {
                            var mv = Vector256.Load(m + b);
                            float* s = s0 + b;
                            a0 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s), a0);
                            a1 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s + ts), a1);
                            a2 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s + 2 * ts), a2);
                            a3 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s + 3 * ts), a3);
                            a4 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s + 4 * ts), a4);
                            a5 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s + 5 * ts), a5);
                            a6 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s + 6 * ts), a6);
                            a7 = Vector256.FusedMultiplyAdd(mv, Vector256.Load(s + 7 * ts), a7);
                        }
                        py[(long)t * rows + r] += MinsTail(m, s0, b, nb, Vector256.Sum(a0));
                        py[(long)(t + 1) * rows + r] += MinsTail(m, s0 + ts, b, nb, Vector256.Sum(a1));
                        py[(long)(t + 2) * rows + r] += MinsTail(m, s0 + 2 * ts, b, nb, Vector256.Sum(a2));
                        py[(long)(t + 3) * rows + r] += MinsTail(m, s0 + 3 * ts, b, nb, Vector256.Sum(a3));
                        py[(long)(t + 4) * rows + r] += MinsTail(m, s0 + 4 * ts, b, nb, Vector256.Sum(a4));
                        py[(long)(t + 5) * rows + r] += MinsTail(m, s0 + 5 * ts, b, nb, Vector256.Sum(a5));
                        py[(long)(t + 6) * rows + r] += MinsTail(m, s0 + 6 * ts, b, nb, Vector256.Sum(a6));
                        py[(long)(t + 7) * rows + r] += MinsTail(m, s0 + 7 * ts, b, nb, Vector256.Sum(a7));
                    }
                }
            for (; t < tokens; t++)
            {
                float* s = x.Sums(t);
                for (int r = rowStart; r < rowEnd; r++)
                {
                    float* m = w.Mins + (long)r * nb;
                    int b = 0;
                    var a = Vector256<float>.Zero;
                    if (Vector256.IsHardwareAccelerated)
                        for (; b + 8 <= nb; b += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(m + b), Vector256.Load(s + b), a);
                    py[(long)t * rows + r] += MinsTail(m, s, b, nb, Vector256.IsHardwareAccelerated ? Vector256.Sum(a) : 0f);
                }
            }
        }

        /// <summary>sum + Σ m[b]·s[b] for b in [from, nb), in order.</summary>
        private static float MinsTail(float* m, float* s, int from, int nb, float sum)
        {
            for (int b = from; b < nb; b++) sum += m[b] * s[b];
            return sum;
        }

        /// <summary>
        /// Rows [rowStart, rowEnd) × tokens [tFirst, tEnd): row blocks small enough to stay in L2, each handed to the tile
        /// driver with the matrix's kernel (chosen at load: <see cref="WeightMatrix.Kernel"/>). Inside a block the tiles
        /// reuse each unpacked weight group across their tokens, and a tile's activations stay in L1 while the block's
        /// rows stream past.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RunChunk(int rowStart, int rowEnd, int tFirst, int tEnd, int chunk, byte* expanded)
        {
            int cols = w.Cols, rows = w.Rows, blocks = cols / 32, superBlocks = cols / 256;
            float* py = (float*)y;
            var packed = w.Packed!;
            var px = owner._packedX;
            float* kScales = owner._kScales + chunk * owner._kScaleFloats;
            bool far = MaddByteDot.Far(cols, owner._options); // the multiply-add row kernels' prefetch (ignored by the others)
            for (int r0 = rowStart; r0 < rowEnd; r0 += RowBlock)
            {
                int r1 = Math.Min(r0 + RowBlock, rowEnd);
                switch (w.Kernel)
                {
                    case MatrixKernel.Q4_0Vnni: TileDriver.Run(new Q4_0Interleaved<VnniByteDot>(packed, blocks, px, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q4_0Madd: TileDriver.Run(new Q4_0Interleaved<MaddByteDot>(packed, blocks, px, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q8_0Vnni: TileDriver.Run(new Q8_0Interleaved<VnniByteDot>(packed, blocks, px, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q8_0Madd: TileDriver.Run(new Q8_0Interleaved<MaddByteDot>(packed, blocks, px, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q4_0Avx512: TileDriver.Run(new Q4_0Avx512(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q8_0Avx512: TileDriver.Run(new Q8_0Avx512(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q4_0Rows: TileDriver.Run(new RowsOnly<Q4_0Rows>(new(packed, blocks, px)), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q8_0Rows: TileDriver.Run(new RowsOnly<Q8_0Rows>(new(packed, blocks, px)), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q4_0Lanes128:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new Q4_0Lanes128<SdotByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new Q4_0Lanes128<PortableByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.Q8_0Lanes128:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new Q8_0Lanes128<SdotByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new Q8_0Lanes128<PortableByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.Q4_0Quads:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new PackedQuads<QuadDot.Q4Block, SdotByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new PackedQuads<QuadDot.Q4Block, PortableByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.Q8_0Quads:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new PackedQuads<QuadDot.Q8Block, SdotByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new PackedQuads<QuadDot.Q8Block, PortableByteDot128>(packed, blocks, px), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.QmKQuads when w.Type == GgmlType.Q4_K:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new QmKQuads<FourBits, SdotByteDot128>(w.QmK!, w.Data, w.RowBytes, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new QmKQuads<FourBits, PortableByteDot128>(w.QmK!, w.Data, w.RowBytes, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.QmKQuads:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new QmKQuads<FiveBits, SdotByteDot128>(w.QmK!, w.Data, w.RowBytes, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new QmKQuads<FiveBits, PortableByteDot128>(w.QmK!, w.Data, w.RowBytes, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.Q6_KQuads:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new Q6KQuads<SdotByteDot128>(w.Q6K!, w.Data, w.RowBytes, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new Q6KQuads<PortableByteDot128>(w.Q6K!, w.Data, w.RowBytes, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.Q4_KVnni: TileDriver.Run(new QmKVnni<FourBits, VnniByteDot>(w.QmK!, owner._q8k!, kScales, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q5_KVnni: TileDriver.Run(new QmKVnni<FiveBits, VnniByteDot>(w.QmK!, owner._q8k!, kScales, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q6_KVnni when w.Q6K!.Compact: TileDriver.Run(new Q6KVnni<VnniByteDot, Q6Compact>(w.Q6K!, owner._q8k!, kScales, expanded, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q6_KVnni: TileDriver.Run(new Q6KVnni<VnniByteDot, Q6Bytes>(w.Q6K!, owner._q8k!, kScales, null, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q4_KMadd: TileDriver.Run(new QmKVnni<FourBits, MaddByteDot>(w.QmK!, owner._q8k!, kScales, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q5_KMadd: TileDriver.Run(new QmKVnni<FiveBits, MaddByteDot>(w.QmK!, owner._q8k!, kScales, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q6_KMadd when w.Q6K!.Compact: TileDriver.Run(new Q6KVnni<MaddByteDot, Q6Compact>(w.Q6K!, owner._q8k!, kScales, expanded, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.Q6_KMadd: TileDriver.Run(new Q6KVnni<MaddByteDot, Q6Bytes>(w.Q6K!, owner._q8k!, kScales, null, r0, far), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.KQuantAvx512:
                        TileDriver.Run(new KQuantAvx512(w.Type, w.Data, w.RowBytes, superBlocks, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.KQuantLanes128:
                        if (SdotByteDot128.IsSupported) TileDriver.Run(new KQuantLanes128<SdotByteDot128>(w.Type, w.Data, w.RowBytes, superBlocks, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        else TileDriver.Run(new KQuantLanes128<PortableByteDot128>(w.Type, w.Data, w.RowBytes, superBlocks, owner._q8k!), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.KQuantRows:
                        TileDriver.Run(new RowsOnly<KQuantRows>(new(w.Type, w.Data, w.RowBytes, superBlocks, owner._q8k!)), r0, r1, tFirst, tEnd, py, rows);
                        break;
                    case MatrixKernel.F32Rows: TileDriver.Run(new RowsOnly<F32Rows>(new(w.Data, w.RowBytes, cols, (float*)x)), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.F16Rows: TileDriver.Run(new RowsOnly<F16Rows>(new(w.Data, w.RowBytes, cols, RowOf(owner._f16x, 0, cols))), r0, r1, tFirst, tEnd, py, rows); break;
                    case MatrixKernel.BF16Rows: TileDriver.Run(new RowsOnly<BF16Rows>(new(w.Data, w.RowBytes, cols, RowOf(owner._bf16x, 0, cols))), r0, r1, tFirst, tEnd, py, rows); break;
                    default: throw new NotSupportedException($"No matmul for {w.Type}.");
                }
            }
        }
    }

    // Token t's row of a pinned activation array.
    private static float* RowOf(float[] pinned, int t, int cols) => (float*)Unsafe.AsPointer(ref pinned[t * cols]);

    /// <summary>Frees the native activation buffers (and the pool, when this matmul made it).</summary>
    public void Dispose()
    {
        _packedX.Dispose();
        _q8k?.Dispose();
        if (_kScales != null) NativeMemory.AlignedFree(_kScales);
        _kScales = null;
        if (_q6Expanded != null) NativeMemory.AlignedFree(_q6Expanded);
        _q6Expanded = null;
        if (_ownsPool) _pool.Dispose();
    }
}
