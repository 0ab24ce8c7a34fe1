using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Bench;

/// <summary>
/// Which 256-bit integer instructions of the multiply-add kernels compete for the same execution ports (run:
/// <c>ports</c>, x86 with AVX2): each loop keeps eight independent dependency chains of one instruction (or two kinds
/// mixed), so it runs at that instruction's throughput. A mix that runs at the rate of one kind alone shares its ports; one
/// that runs at the sum of both does not. The rates are instructions per nanosecond, so no clock frequency is assumed. On
/// the multiply-add path a Q8_0 product of 32 bytes costs <c>VPSIGNB</c> + <c>VPMADDUBSW</c> + <c>VPMADDWD</c> (+ an add):
/// if all three share two ports, that — not the number of instructions — bounds the Q8_0 tiles.
/// </summary>
internal static class PortThroughput
{
    private const long Iterations = 50_000_000;

    public static void Run()
    {
        if (!Avx2.IsSupported) { Console.WriteLine("ports: needs AVX2"); return; }
        var tests = new (string Name, int PerIteration, Func<long, int> Body)[]
        {
            ("VPMADDUBSW alone", 8, Maddubs),
            ("VPMADDWD alone", 8, Maddwd),
            ("VPSIGNB alone", 8, Sign),
            ("VPADDW alone", 8, AddW),
            ("VPSIGNB + VPMADDUBSW (8 + 8)", 16, SignAndMaddubs),
            ("VPADDW + VPMADDUBSW (8 + 8)", 16, AddAndMaddubs),
        };
        var best = new double[tests.Length];
        for (int round = 0; round < 5; round++)
            for (int i = 0; i < tests.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                int sink = tests[i].Body(Iterations);
                double perNs = Iterations * tests[i].PerIteration / (sw.Elapsed.TotalSeconds * 1e9);
                if (sink == 12345) Console.Write(""); // keeps the chains' results alive
                best[i] = Math.Max(best[i], perNs);
            }
        for (int i = 0; i < tests.Length; i++)
            Console.WriteLine($"{tests[i].Name,-32} {best[i],6:F2} instructions/ns");
        Console.WriteLine($"mix VPSIGNB + VPMADDUBSW: {best[4] / best[0]:F2}× VPMADDUBSW alone (2.0 = separate ports, 1.0 = shared)");
        Console.WriteLine($"mix VPADDW + VPMADDUBSW:  {best[5] / best[0]:F2}× VPMADDUBSW alone");
    }

    /// <summary>One instruction as a struct: the loops below are compiled once per kind, each call inlined.</summary>
    private interface IOp
    {
        static abstract Vector256<byte> Step(Vector256<byte> a, Vector256<byte> x);
    }

    private readonly struct MaddubsOp : IOp
    {
        public static Vector256<byte> Step(Vector256<byte> a, Vector256<byte> x) => Avx2.MultiplyAddAdjacent(a, x.AsSByte()).AsByte();
    }

    private readonly struct MaddwdOp : IOp
    {
        public static Vector256<byte> Step(Vector256<byte> a, Vector256<byte> x) => Avx2.MultiplyAddAdjacent(a.AsInt16(), x.AsInt16()).AsByte();
    }

    private readonly struct SignOp : IOp
    {
        public static Vector256<byte> Step(Vector256<byte> a, Vector256<byte> x) => Avx2.Sign(a.AsSByte(), x.AsSByte()).AsByte();
    }

    private readonly struct AddWOp : IOp
    {
        public static Vector256<byte> Step(Vector256<byte> a, Vector256<byte> x) => Avx2.Add(a.AsInt16(), x.AsInt16()).AsByte();
    }

    private static int Maddubs(long n) => Chains<MaddubsOp>(n);
    private static int Maddwd(long n) => Chains<MaddwdOp>(n);
    private static int Sign(long n) => Chains<SignOp>(n);
    private static int AddW(long n) => Chains<AddWOp>(n);
    private static int SignAndMaddubs(long n) => Mixed<SignOp, MaddubsOp>(n);
    private static int AddAndMaddubs(long n) => Mixed<AddWOp, MaddubsOp>(n);

    /// <summary>Eight independent chains of <typeparamref name="TOp"/>, <paramref name="n"/> steps each.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Chains<TOp>(long n) where TOp : struct, IOp
    {
        var x = Vector256.Create((byte)0xFD); // −3 as a signed byte, 0xFDFD as a word: every kind keeps changing its chains
        Vector256<byte> a0 = Vector256.Create((byte)1), a1 = a0 + a0, a2 = a1 + a0, a3 = a2 + a0, a4 = a3 + a0, a5 = a4 + a0, a6 = a5 + a0, a7 = a6 + a0;
        for (long i = 0; i < n; i++)
        {
            a0 = TOp.Step(a0, x); a1 = TOp.Step(a1, x); a2 = TOp.Step(a2, x); a3 = TOp.Step(a3, x);
            a4 = TOp.Step(a4, x); a5 = TOp.Step(a5, x); a6 = TOp.Step(a6, x); a7 = TOp.Step(a7, x);
        }
        return (a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7).AsInt32().GetElement(0);
    }

    /// <summary>Eight chains of <typeparamref name="TA"/> and eight of <typeparamref name="TB"/>, interleaved.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Mixed<TA, TB>(long n) where TA : struct, IOp where TB : struct, IOp
    {
        var x = Vector256.Create((byte)0xFD);
        Vector256<byte> a0 = Vector256.Create((byte)1), a1 = a0 + a0, a2 = a1 + a0, a3 = a2 + a0, a4 = a3 + a0, a5 = a4 + a0, a6 = a5 + a0, a7 = a6 + a0;
        Vector256<byte> b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5, b6 = a6, b7 = a7;
        for (long i = 0; i < n; i++)
        {
            a0 = TA.Step(a0, x); b0 = TB.Step(b0, x); a1 = TA.Step(a1, x); b1 = TB.Step(b1, x);
            a2 = TA.Step(a2, x); b2 = TB.Step(b2, x); a3 = TA.Step(a3, x); b3 = TB.Step(b3, x);
            a4 = TA.Step(a4, x); b4 = TB.Step(b4, x); a5 = TA.Step(a5, x); b5 = TB.Step(b5, x);
            a6 = TA.Step(a6, x); b6 = TB.Step(b6, x); a7 = TA.Step(a7, x); b7 = TB.Step(b7, x);
        }
        return (a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7 ^ b0 ^ b1 ^ b2 ^ b3 ^ b4 ^ b5 ^ b6 ^ b7).AsInt32().GetElement(0);
    }
}
