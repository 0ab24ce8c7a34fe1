using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;
using Xunit.Abstractions;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// Every SIMD path of the K-quant dot products (<see cref="KQuantDot"/>) against the scalar reference
/// (<see cref="KQuantVecDotReference"/>) on quantized rows and on blocks of random bytes (every bit pattern of the
/// quants, scales and mins a file may hold). Re-run with instruction sets switched off by
/// <see cref="KernelIsaChildProcessTests"/>.
/// </summary>
public unsafe class KQuantKernelPathTests(ITestOutputHelper output)
{
    private static readonly int[] BlockCounts = [1, 2, 3, 5, 16, 17, 56];

    private delegate float Path(byte* w, int blocks, byte* x);

    private static (string Name, bool Supported)[] Paths() => KernelPathTests.Paths();

    private static Dictionary<string, Path> PathsOf(GgmlType type) => type switch
    {
        GgmlType.Q4_K => new()
        {
            ["avx512"] = KQuantDot.Q4KAvx512, ["avx2"] = KQuantDot.Q4KAvx2, ["v128"] = KQuantDot.Q4KV128, ["dp"] = KQuantDot.Q4KDp,
            ["scalar"] = KQuantDot.Q4KScalar, ["dispatch"] = (w, n, x) => KQuantDot.Dot(GgmlType.Q4_K, w, n, x),
        },
        GgmlType.Q5_K => new()
        {
            ["avx512"] = KQuantDot.Q5KAvx512, ["avx2"] = KQuantDot.Q5KAvx2, ["v128"] = KQuantDot.Q5KV128, ["dp"] = KQuantDot.Q5KDp,
            ["scalar"] = KQuantDot.Q5KScalar, ["dispatch"] = (w, n, x) => KQuantDot.Dot(GgmlType.Q5_K, w, n, x),
        },
        _ => new()
        {
            ["avx512"] = KQuantDot.Q6KAvx512, ["avx2"] = KQuantDot.Q6KAvx2, ["v128"] = KQuantDot.Q6KV128, ["dp"] = KQuantDot.Q6KDp,
            ["scalar"] = KQuantDot.Q6KScalar, ["dispatch"] = (w, n, x) => KQuantDot.Dot(GgmlType.Q6_K, w, n, x),
        },
    };

    /// <summary>
    /// The K-quants in row quads (<see cref="KQuantQuads"/>, <see cref="Q6KQuads"/>: ARM64's by-element SDOT, "dp", and its portable form, "v128"):
    /// a group of four rows — <paramref name="w"/> and three others — against each row's reference.
    /// </summary>
    private static void CheckQuads(GgmlType type, byte[] w, int blocks, bool randomBytes, BlockQ8_K[] x, float[] xq)
    {
        int cols = blocks * 256, rowBytes = w.Length;
        var file = new byte[4 * rowBytes];
        w.CopyTo(file, 0);
        for (int r = 1; r < 4; r++)
            (randomBytes ? RandomBlocks(type, blocks, 100 * r + blocks) : KQuantReference.Quantize(type, Random(cols, 100 * r + blocks, 10))).CopyTo(file, r * rowBytes);
        using var quads = type == GgmlType.Q6_K ? null : QmKPacked.FromBlocks(type, 4, cols, file, quads: true);
        using var quads6 = type == GgmlType.Q6_K ? Q6KPacked.FromBlocks(4, cols, file, compact: false, quads: true) : null;
        foreach (var (name, sdot) in new[] { ("dp", true), ("v128", false) })
        {
            if (Paths().Any(p => p.Name == name && !p.Supported)) continue; // run in the ISA child processes or under qemu
            var y = new float[4];
            fixed (float* py = y)
            fixed (BlockQ8_K* px = x)
                if (type == GgmlType.Q6_K)
                {
                    if (sdot) Q6KQuads.X1<SdotByteDot128>(quads6!, 0, (byte*)px, py);
                    else Q6KQuads.X1<PortableByteDot128>(quads6!, 0, (byte*)px, py);
                }
                else if (type == GgmlType.Q4_K)
                {
                    if (sdot) KQuantQuads.X1<FourBits, SdotByteDot128>(quads!, 0, (byte*)px, py);
                    else KQuantQuads.X1<FourBits, PortableByteDot128>(quads!, 0, (byte*)px, py);
                }
                else
                {
                    if (sdot) KQuantQuads.X1<FiveBits, SdotByteDot128>(quads!, 0, (byte*)px, py);
                    else KQuantQuads.X1<FiveBits, PortableByteDot128>(quads!, 0, (byte*)px, py);
                }
            for (int r = 0; r < 4; r++)
            {
                var row = file.AsSpan(r * rowBytes, rowBytes).ToArray();
                float reference = Reference(type, row, x);
                var wf = new float[cols];
                RowCodec.Decode(type, row, wf);
                float magnitude = 0;
                for (int i = 0; i < cols; i++) magnitude += MathF.Abs(wf[i] * xq[i]);
                Assert.True(MathF.Abs(reference - y[r]) <= 1e-5f * magnitude + 1e-6f,
                    $"{type} quads {name}, {blocks} blocks{(randomBytes ? " (random bytes)" : "")}, row {r}: reference {reference}, got {y[r]}");
            }
        }
    }

    private static float[] Random(int n, int seed, float spread)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(4) == 0 ? spread : 1)).ToArray();
    }

    private static float Reference(GgmlType type, byte[] w, BlockQ8_K[] x) => type switch
    {
        GgmlType.Q4_K => KQuantVecDotReference.Q4_K(MemoryMarshal.Cast<byte, BlockQ4_K>(w), x),
        GgmlType.Q5_K => KQuantVecDotReference.Q5_K(MemoryMarshal.Cast<byte, BlockQ5_K>(w), x),
        _ => KQuantVecDotReference.Q6_K(MemoryMarshal.Cast<byte, BlockQ6_K>(w), x),
    };

    /// <summary>Random bytes everywhere except the fp16 scales, which get finite values of either sign.</summary>
    private static byte[] RandomBlocks(GgmlType type, int blocks, int seed)
    {
        var rng = new Random(seed);
        int size = GgmlTypeInfo.BlockBytes(type);
        var bytes = new byte[blocks * size];
        rng.NextBytes(bytes);
        var halves = type == GgmlType.Q6_K ? new[] { 208 } : new[] { 0, 2 };
        for (int b = 0; b < blocks; b++)
            foreach (int off in halves)
                BitConverter.TryWriteBytes(bytes.AsSpan(b * size + off, 2), (Half)((rng.NextDouble() * 2 - 1) * 0.01));
        return bytes;
    }

    private void Check(GgmlType type, bool randomBytes)
    {
        var paths = PathsOf(type);
        foreach (int blocks in BlockCounts)
        {
            int cols = blocks * 256;
            var xf = Random(cols, 1000 + blocks, 3);
            var w = randomBytes ? RandomBlocks(type, blocks, blocks) : KQuantReference.Quantize(type, Random(cols, blocks, 10));
            var x = new BlockQ8_K[blocks];
            KQuantReference.QuantizeQ8_K(xf, x);
            float reference = Reference(type, w, x);
            // Tolerance: float rounding of the per-super-block products, relative to Σ|terms|.
            var wf = new float[cols];
            RowCodec.Decode(type, w, wf);
            var xq = new float[cols];
            KQuantReference.DequantizeQ8_K(x, xq);
            float magnitude = 0;
            double plain = 0;
            for (int i = 0; i < cols; i++)
            {
                magnitude += MathF.Abs(wf[i] * xq[i]);
                plain += (double)wf[i] * xq[i];
            }
            // The reference's integer arithmetic (scales, mins, offsets via block sums) agrees with the dequantized values.
            Assert.True(Math.Abs(plain - reference) <= 1e-5 * magnitude + 1e-6, $"{type} reference {reference} vs dequantized dot {plain}");
            fixed (byte* pw = w)
            fixed (BlockQ8_K* px = x)
                foreach (var (name, path) in paths)
                {
                    if (Paths().Any(p => p.Name == name && !p.Supported)) continue; // run in the ISA child processes
                    float got = path(pw, blocks, (byte*)px);
                    Assert.True(MathF.Abs(reference - got) <= 1e-5f * magnitude + 1e-6f,
                        $"{type} {name}, {blocks} blocks{(randomBytes ? " (random bytes)" : "")}: reference {reference}, got {got}");
                }
            CheckQuads(type, w, blocks, randomBytes, x, xq);
            // The VNNI repacks (Q4_K, Q5_K, Q6_K): the repacked row against the VNNI form of the same activations, with
            // AVX-VNNI and with AVX2 multiply-adds.
            if (AvxVnni.IsSupported) CheckRepackedRow<VnniByteDot>(type, w, xf, cols, reference, magnitude, $"vnni, {blocks} blocks{(randomBytes ? " (random bytes)" : "")}");
            if (MaddByteDot.IsSupported) CheckRepackedRow<MaddByteDot>(type, w, xf, cols, reference, magnitude, $"madd, {blocks} blocks{(randomBytes ? " (random bytes)" : "")}");
            // The VPDPBUSD forms' arithmetic on every machine with AVX2 (see EmulatedVnniByteDot).
            if (MaddByteDot.IsSupported) CheckRepackedRow<EmulatedVnniByteDot>(type, w, xf, cols, reference, magnitude, $"{KernelPathTests.EmulatedVnni}, {blocks} blocks{(randomBytes ? " (random bytes)" : "")}");
        }
        foreach (var (name, supported) in Paths())
            if (!supported) output.WriteLine($"kernel path '{name}' is not available in this process; it runs in the ISA child processes.");
    }

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void PathsMatchTheReferenceOnQuantizedRows(GgmlType type) => Check(type, randomBytes: false);

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void PathsMatchTheReferenceOnRandomBlocks(GgmlType type) => Check(type, randomBytes: true);

    /// <summary>The four- and eight-token prompt tiles (AVX-512) equal the reference for each of their tokens.</summary>
    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void TokenTilesMatchTheReference(GgmlType type)
    {
        if (!KQuantTile.Supported)
        {
            output.WriteLine("the K-quant tiles need AVX-512; the matmul loops the one-token kernels here.");
            return;
        }
        foreach (int width in new[] { 4, 8 })
        foreach (int blocks in BlockCounts)
        {
            int cols = blocks * 256;
            var w = RandomBlocks(type, blocks, 77 + blocks);
            // Tokens 1…width of a (width + 2)-token preparation: the tile reads the block-major sums at an offset.
            var xf = Random((width + 2) * cols, 500 + blocks, 3);
            using var acts = new KQuantActivations(width + 2, cols);
            acts.Prepare(xf, width + 2, cols);
            var x = new BlockQ8_K[width * blocks];
            for (int k = 0; k < width; k++) KQuantReference.QuantizeQ8_K(xf.AsSpan((k + 1) * cols, cols), x.AsSpan(k * blocks, blocks));
            var y = new float[width * 3];
            fixed (byte* pw = w)
            fixed (float* py = y)
            {
                if (width == 4) KQuantTile.Tile4(type, pw, blocks, acts, 1, py, 3);
                else KQuantTile.Tile8(type, pw, blocks, acts, 1, py, 3);
            }
            for (int k = 0; k < width; k++)
            {
                var xk = x.AsSpan(k * blocks, blocks).ToArray();
                float reference = Reference(type, w, xk);
                var wf = new float[cols];
                var xq = new float[cols];
                RowCodec.Decode(type, w, wf);
                KQuantReference.DequantizeQ8_K(xk, xq);
                float magnitude = 0;
                for (int i = 0; i < cols; i++) magnitude += MathF.Abs(wf[i] * xq[i]);
                Assert.True(MathF.Abs(reference - y[3 * k]) <= 1e-5f * magnitude + 1e-6f,
                    $"{type} {width}-token tile, {blocks} blocks, token {k}: reference {reference}, got {y[3 * k]}");
            }
        }
    }

    /// <summary>
    /// A compact Q6_K matrix's rows expanded for the prompt tiles (<see cref="Q6KPacked.ExpandRows"/>) are the byte form's
    /// quants of the same rows, byte for byte, on random blocks (every bit pattern of the six-bit quants).
    /// </summary>
    [Fact]
    public void CompactQ6KExpandsToTheByteForm()
    {
        foreach (int blocks in BlockCounts)
        {
            int cols = blocks * 256, rows = 5;
            var file = RandomBlocks(GgmlType.Q6_K, rows * blocks, 700 + blocks);
            using var bytes = Q6KPacked.FromBlocks(rows, cols, file, compact: false);
            using var compact = Q6KPacked.FromBlocks(rows, cols, file, compact: true);
            var expanded = new byte[3 * blocks * Q6Bytes.Bytes + 1];
            expanded[^1] = 0xA5; // a guard: exactly three rows are written
            fixed (byte* e = expanded)
            {
                compact.ExpandRows(1, 3, e);
                var want = new ReadOnlySpan<byte>(bytes.RowQs(1), 3 * blocks * Q6Bytes.Bytes);
                Assert.True(want.SequenceEqual(expanded.AsSpan(0, want.Length)), $"{blocks} super-blocks: the expanded rows differ from the byte form");
            }
            Assert.Equal(0xA5, expanded[^1]);
            Assert.Throws<ArgumentOutOfRangeException>(() => { fixed (byte* e = expanded) compact.ExpandRows(3, 3, e); });
        }
    }

    private static void CheckRepackedRow<TDot>(GgmlType type, byte[] w, float[] xf, int cols, float reference, float magnitude, string what)
        where TDot : struct, IByteDot
    {
        using var acts = new KQuantActivations(1, cols);
        acts.Prepare(xf, 1, cols, forVnni: true);
        float got;
        if (type is GgmlType.Q4_K or GgmlType.Q5_K)
        {
            using var packed = QmKPacked.FromBlocks(type, 1, cols, w);
            got = type == GgmlType.Q4_K ? VnniKQuant.QmK<FourBits, TDot>(packed, 0, acts, 0) : VnniKQuant.QmK<FiveBits, TDot>(packed, 0, acts, 0);
            // The long rows' far prefetch is only a hint: the same result.
            Assert.Equal(got, type == GgmlType.Q4_K ? VnniKQuant.QmK<FourBits, TDot>(packed, 0, acts, 0, far: true) : VnniKQuant.QmK<FiveBits, TDot>(packed, 0, acts, 0, far: true));
        }
        else
        {
            // Both forms of the Q6_K repack: one byte per quant and compact (six bits).
            using var bytes = Q6KPacked.FromBlocks(1, cols, w, compact: false);
            using var compact = Q6KPacked.FromBlocks(1, cols, w, compact: true);
            got = VnniKQuant.Q6K<TDot, Q6Bytes>(bytes, 0, acts, 0);
            float gotCompact = VnniKQuant.Q6K<TDot, Q6Compact>(compact, 0, acts, 0);
            Assert.Equal(got, gotCompact);
            Assert.Equal(got, VnniKQuant.Q6K<TDot, Q6Bytes>(bytes, 0, acts, 0, far: true));
            Assert.Equal(got, VnniKQuant.Q6K<TDot, Q6Compact>(compact, 0, acts, 0, far: true));
        }
        Assert.True(MathF.Abs(reference - got) <= 1e-5f * magnitude + 1e-6f, $"{type} {what}: reference {reference}, got {got}");
    }

    /// <summary>
    /// The AVX-VNNI two-row × four-token tiles (<see cref="VnniKQuant"/>) on two different rows: each output equals the
    /// row kernel bit for bit (what makes a batched prompt equal decoding) and the reference within rounding.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void VnniTilesEqualTheRowKernelAndMatchTheReference(GgmlType type)
    {
        if (AvxVnni.IsSupported) CheckTiles<VnniByteDot>(type, "vnni");
        else output.WriteLine("no AVX-VNNI in this process: the VPDPBUSD K-quant kernels do not run here.");
        if (MaddByteDot.IsSupported)
        {
            CheckTiles<MaddByteDot>(type, "madd");
            CheckTiles<EmulatedVnniByteDot>(type, KernelPathTests.EmulatedVnni);
        }
        else output.WriteLine("no AVX2 in this process: the multiply-add K-quant kernels (and the emulated VPDPBUSD ones) do not run here.");
    }

    private static void CheckTiles<TDot>(GgmlType type, string name) where TDot : struct, IByteDot
    {
        if (type == GgmlType.Q6_K)
        {
            CheckTiles<TDot, Q6Bytes>(type, name);
            CheckTiles<TDot, Q6Compact>(type, name + " compact");
        }
        else CheckTiles<TDot, Q6Bytes>(type, name);
    }

    private static void CheckTiles<TDot, TLayout>(GgmlType type, string name) where TDot : struct, IByteDot where TLayout : struct, IQ6Layout
    {
        bool compact = typeof(TLayout) == typeof(Q6Compact);
        foreach (int blocks in BlockCounts)
        {
            int cols = blocks * 256;
            var rowA = RandomBlocks(type, blocks, 300 + blocks);
            var rowB = KQuantReference.Quantize(type, Random(cols, 400 + blocks, 10));
            var two = rowA.Concat(rowB).ToArray();
            // Tokens 1…4 of a six-token preparation: the tile reads the block-major activations at an offset.
            var xf = Random(6 * cols, 500 + blocks, 3);
            using var va = new KQuantActivations(6, cols);
            va.Prepare(xf, 6, cols, forVnni: true);
            using var pm = type is GgmlType.Q4_K or GgmlType.Q5_K ? QmKPacked.FromBlocks(type, 2, cols, two) : null;
            using var p6 = type == GgmlType.Q6_K ? Q6KPacked.FromBlocks(2, cols, two, compact) : null;
            var y = new float[4 * 2];
            var scales = new float[2 * blocks * VnniKQuant.ScaleFloats];
            fixed (float* py = y)
            fixed (float* f = scales)
            {
                float* fB = f + blocks * VnniKQuant.ScaleFloats;
                if (pm is not null)
                {
                    VnniKQuant.QmKScales(pm, 0, f);
                    VnniKQuant.QmKScales(pm, 1, fB);
                    if (type == GgmlType.Q4_K) VnniKQuant.QmKTile2x4<FourBits, TDot>(pm, 0, f, fB, va, 1, py, 2);
                    else VnniKQuant.QmKTile2x4<FiveBits, TDot>(pm, 0, f, fB, va, 1, py, 2);
                }
                else
                {
                    VnniKQuant.Q6KScales(p6!, 0, f);
                    VnniKQuant.Q6KScales(p6!, 1, fB);
                    // The tiles read the byte form: a compact matrix's rows expanded (as a prompt's row block is).
                    var expanded = new byte[2 * blocks * Q6Bytes.Bytes];
                    fixed (byte* e = expanded)
                    {
                        if (compact) p6!.ExpandRows(0, 2, e);
                        byte* qA = compact ? e : p6!.RowQs(0), qB = compact ? e + blocks * Q6Bytes.Bytes : p6!.RowQs(1);
                        VnniKQuant.Q6KTile2x4<TDot>(qA, qB, blocks, f, fB, va, 1, py, 2);
                    }
                }
            }
            for (int k = 0; k < 4; k++)
                for (int r = 0; r < 2; r++)
                {
                    float row = pm is null ? VnniKQuant.Q6K<TDot, TLayout>(p6!, r, va, 1 + k)
                        : type == GgmlType.Q4_K ? VnniKQuant.QmK<FourBits, TDot>(pm, r, va, 1 + k) : VnniKQuant.QmK<FiveBits, TDot>(pm, r, va, 1 + k);
                    Assert.Equal(row, y[2 * k + r]);
                    var w = r == 0 ? rowA : rowB;
                    var xk = new BlockQ8_K[blocks];
                    KQuantReference.QuantizeQ8_K(xf.AsSpan((k + 1) * cols, cols), xk);
                    float reference = Reference(type, w, xk);
                    var wf = new float[cols];
                    var xq = new float[cols];
                    RowCodec.Decode(type, w, wf);
                    KQuantReference.DequantizeQ8_K(xk, xq);
                    float magnitude = 0;
                    for (int i = 0; i < cols; i++) magnitude += MathF.Abs(wf[i] * xq[i]);
                    Assert.True(MathF.Abs(reference - y[2 * k + r]) <= 1e-5f * magnitude + 1e-6f,
                        $"{type} {name} tile, {blocks} blocks, row {r}, token {k}: reference {reference}, got {y[2 * k + r]}");
                }
        }
    }

    /// <summary>
    /// Q5_K's fifth-bit extraction (<see cref="VnniKQuant.Fifth"/>: GFNI, or shifts and a mask in the GFNI-off child
    /// process) moves bit v of every byte value to bit 4 and clears the rest.
    /// </summary>
    [Fact]
    public void FifthBitExtractionMovesBitVToBitFour()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        for (int v = 0; v < 8; v++)
            for (int start = 0; start < 256; start += 32)
            {
                var h = Vector256.Create(bytes.AsSpan(start, 32));
                var got = v switch
                {
                    0 => VnniKQuant.Fifth(h, 0), 1 => VnniKQuant.Fifth(h, 1), 2 => VnniKQuant.Fifth(h, 2), 3 => VnniKQuant.Fifth(h, 3),
                    4 => VnniKQuant.Fifth(h, 4), 5 => VnniKQuant.Fifth(h, 5), 6 => VnniKQuant.Fifth(h, 6), _ => VnniKQuant.Fifth(h, 7),
                };
                for (int i = 0; i < 32; i++)
                    Assert.Equal((byte)(((start + i) >> v & 1) << 4), got.GetElement(i));
            }
        output.WriteLine($"GFNI in this process: {Gfni.V256.IsSupported}");
    }

    /// <summary>The whole-word scale unpacking of the SIMD paths equals the per-byte rule of the layout, for every input.</summary>
    /// <summary>
    /// The activation quantizer (<see cref="Q8KQuantizer"/>: AVX2, or the reference where AVX2 is off) equals the scalar
    /// reference bit for bit: random blocks, blocks whose largest magnitude appears with both signs (the first wins),
    /// all-zero blocks, tiny, huge and subnormal values, and blocks holding an infinity or NaN (the reference's
    /// handling).
    /// </summary>
    [Fact]
    public void ActivationQuantizerMatchesTheReference()
    {
        output.WriteLine($"Q8_K quantizer: {(Avx2.IsSupported ? "avx2" : "scalar")}");
        var rng = new Random(21);
        var cases = new List<float[]>();
        for (int c = 0; c < 40; c++)
            cases.Add(Enumerable.Range(0, 256).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-6, 6)))).ToArray());
        var tie = Enumerable.Range(0, 256).Select(i => (float)Math.Sin(i)).ToArray();
        tie[7] = -3; tie[200] = 3;
        cases.Add(tie);
        var tie2 = (float[])tie.Clone();
        tie2[7] = 3; tie2[200] = -3;
        cases.Add(tie2);
        cases.Add(new float[256]);
        var halves = Enumerable.Range(0, 256).Select(i => (i - 128) * 0.5f).ToArray();
        halves[0] = 127; // scale −1: every odd value is a tie, rounded half to even
        cases.Add(halves);
        cases.Add(Enumerable.Range(0, 256).Select(i => i * 1e-40f).ToArray()); // subnormal largest value
        cases.Add(Enumerable.Range(0, 256).Select(i => (i - 128) * 1e35f).ToArray());
        foreach (float special in new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN })
        {
            var b = Enumerable.Range(0, 256).Select(i => (float)Math.Cos(i)).ToArray();
            b[100] = special;
            cases.Add(b);
        }
        foreach (var x in cases)
        {
            var expected = new BlockQ8_K[1];
            var got = new BlockQ8_K[1];
            KQuantReference.QuantizeQ8_K(x, expected);
            Q8KQuantizer.Quantize(x, got);
            Assert.Equal(MemoryMarshal.AsBytes(expected.AsSpan()).ToArray(), MemoryMarshal.AsBytes(got.AsSpan()).ToArray());
        }
        // Several blocks at once, mixed with a special one.
        var many = Enumerable.Range(0, 256 * 5).Select(i => (float)Math.Sin(i * 0.7) * (i % 256 + 1)).ToArray();
        many[256 * 3 + 5] = float.NaN;
        var e5 = new BlockQ8_K[5];
        var g5 = new BlockQ8_K[5];
        KQuantReference.QuantizeQ8_K(many, e5);
        Q8KQuantizer.Quantize(many, g5);
        Assert.Equal(MemoryMarshal.AsBytes(e5.AsSpan()).ToArray(), MemoryMarshal.AsBytes(g5.AsSpan()).ToArray());
    }

    [Fact]
    public void ScaleUnpackingMatchesTheLayoutRule()
    {
        var rng = new Random(5);
        var s = new byte[12];
        for (int n = 0; n < 20000; n++)
        {
            rng.NextBytes(s);
            fixed (byte* p = s)
            {
                var (scales, mins) = KQuantDot.UnpackScales(p);
                for (int j = 0; j < 8; j++)
                {
                    var (sc, m) = KQuantReference.ScaleMin(p, j);
                    Assert.Equal(sc, (int)((scales >> (8 * j)) & 0xFF));
                    Assert.Equal(m, (int)((mins >> (8 * j)) & 0xFF));
                }
            }
        }
    }
}
