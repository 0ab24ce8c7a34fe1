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

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Maddubs(long n)
    {
        var x = Vector256.Create((sbyte)3);
        Vector256<byte> a0 = Vector256.Create((byte)1), a1 = a0 + a0, a2 = a1 + a0, a3 = a2 + a0, a4 = a3 + a0, a5 = a4 + a0, a6 = a5 + a0, a7 = a6 + a0;
        for (long i = 0; i < n; i++)
        {
            a0 = Avx2.MultiplyAddAdjacent(a0, x).AsByte(); a1 = Avx2.MultiplyAddAdjacent(a1, x).AsByte();
            a2 = Avx2.MultiplyAddAdjacent(a2, x).AsByte(); a3 = Avx2.MultiplyAddAdjacent(a3, x).AsByte();
            a4 = Avx2.MultiplyAddAdjacent(a4, x).AsByte(); a5 = Avx2.MultiplyAddAdjacent(a5, x).AsByte();
            a6 = Avx2.MultiplyAddAdjacent(a6, x).AsByte(); a7 = Avx2.MultiplyAddAdjacent(a7, x).AsByte();
        }
        return (a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7).AsInt32().GetElement(0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Maddwd(long n)
    {
        var o = Vector256.Create((short)1);
        Vector256<short> a0 = o, a1 = o + o, a2 = a1 + o, a3 = a2 + o, a4 = a3 + o, a5 = a4 + o, a6 = a5 + o, a7 = a6 + o;
        for (long i = 0; i < n; i++)
        {
            a0 = Avx2.MultiplyAddAdjacent(a0, o).AsInt16(); a1 = Avx2.MultiplyAddAdjacent(a1, o).AsInt16();
            a2 = Avx2.MultiplyAddAdjacent(a2, o).AsInt16(); a3 = Avx2.MultiplyAddAdjacent(a3, o).AsInt16();
            a4 = Avx2.MultiplyAddAdjacent(a4, o).AsInt16(); a5 = Avx2.MultiplyAddAdjacent(a5, o).AsInt16();
            a6 = Avx2.MultiplyAddAdjacent(a6, o).AsInt16(); a7 = Avx2.MultiplyAddAdjacent(a7, o).AsInt16();
        }
        return (a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7).AsInt32().GetElement(0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Sign(long n)
    {
        var x = Vector256.Create((sbyte)-3);
        Vector256<sbyte> a0 = x, a1 = x + x, a2 = a1 + x, a3 = a2 + x, a4 = a3 + x, a5 = a4 + x, a6 = a5 + x, a7 = a6 + x;
        for (long i = 0; i < n; i++)
        {
            a0 = Avx2.Sign(a0, x); a1 = Avx2.Sign(a1, x); a2 = Avx2.Sign(a2, x); a3 = Avx2.Sign(a3, x);
            a4 = Avx2.Sign(a4, x); a5 = Avx2.Sign(a5, x); a6 = Avx2.Sign(a6, x); a7 = Avx2.Sign(a7, x);
        }
        return (a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7).AsInt32().GetElement(0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int AddW(long n)
    {
        var c = Vector256.Create((short)3);
        Vector256<short> a0 = c, a1 = c + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c, a6 = a5 + c, a7 = a6 + c;
        for (long i = 0; i < n; i++)
        {
            a0 = Avx2.Add(a0, c); a1 = Avx2.Add(a1, c); a2 = Avx2.Add(a2, c); a3 = Avx2.Add(a3, c);
            a4 = Avx2.Add(a4, c); a5 = Avx2.Add(a5, c); a6 = Avx2.Add(a6, c); a7 = Avx2.Add(a7, c);
        }
        return (a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7).AsInt32().GetElement(0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SignAndMaddubs(long n)
    {
        var x = Vector256.Create((sbyte)-3);
        Vector256<sbyte> s0 = x, s1 = x + x, s2 = s1 + x, s3 = s2 + x, s4 = s3 + x, s5 = s4 + x, s6 = s5 + x, s7 = s6 + x;
        Vector256<byte> a0 = Vector256.Create((byte)1), a1 = a0 + a0, a2 = a1 + a0, a3 = a2 + a0, a4 = a3 + a0, a5 = a4 + a0, a6 = a5 + a0, a7 = a6 + a0;
        for (long i = 0; i < n; i++)
        {
            a0 = Avx2.MultiplyAddAdjacent(a0, x).AsByte(); s0 = Avx2.Sign(s0, x); a1 = Avx2.MultiplyAddAdjacent(a1, x).AsByte(); s1 = Avx2.Sign(s1, x);
            a2 = Avx2.MultiplyAddAdjacent(a2, x).AsByte(); s2 = Avx2.Sign(s2, x); a3 = Avx2.MultiplyAddAdjacent(a3, x).AsByte(); s3 = Avx2.Sign(s3, x);
            a4 = Avx2.MultiplyAddAdjacent(a4, x).AsByte(); s4 = Avx2.Sign(s4, x); a5 = Avx2.MultiplyAddAdjacent(a5, x).AsByte(); s5 = Avx2.Sign(s5, x);
            a6 = Avx2.MultiplyAddAdjacent(a6, x).AsByte(); s6 = Avx2.Sign(s6, x); a7 = Avx2.MultiplyAddAdjacent(a7, x).AsByte(); s7 = Avx2.Sign(s7, x);
        }
        return ((a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7).AsSByte() ^ s0 ^ s1 ^ s2 ^ s3 ^ s4 ^ s5 ^ s6 ^ s7).AsInt32().GetElement(0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int AddAndMaddubs(long n)
    {
        var x = Vector256.Create((sbyte)-3);
        var c = Vector256.Create((short)3);
        Vector256<short> s0 = c, s1 = c + c, s2 = s1 + c, s3 = s2 + c, s4 = s3 + c, s5 = s4 + c, s6 = s5 + c, s7 = s6 + c;
        Vector256<byte> a0 = Vector256.Create((byte)1), a1 = a0 + a0, a2 = a1 + a0, a3 = a2 + a0, a4 = a3 + a0, a5 = a4 + a0, a6 = a5 + a0, a7 = a6 + a0;
        for (long i = 0; i < n; i++)
        {
            a0 = Avx2.MultiplyAddAdjacent(a0, x).AsByte(); s0 = Avx2.Add(s0, c); a1 = Avx2.MultiplyAddAdjacent(a1, x).AsByte(); s1 = Avx2.Add(s1, c);
            a2 = Avx2.MultiplyAddAdjacent(a2, x).AsByte(); s2 = Avx2.Add(s2, c); a3 = Avx2.MultiplyAddAdjacent(a3, x).AsByte(); s3 = Avx2.Add(s3, c);
            a4 = Avx2.MultiplyAddAdjacent(a4, x).AsByte(); s4 = Avx2.Add(s4, c); a5 = Avx2.MultiplyAddAdjacent(a5, x).AsByte(); s5 = Avx2.Add(s5, c);
            a6 = Avx2.MultiplyAddAdjacent(a6, x).AsByte(); s6 = Avx2.Add(s6, c); a7 = Avx2.MultiplyAddAdjacent(a7, x).AsByte(); s7 = Avx2.Add(s7, c);
        }
        return ((a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7).AsInt16() ^ s0 ^ s1 ^ s2 ^ s3 ^ s4 ^ s5 ^ s6 ^ s7).AsInt32().GetElement(0);
    }
}
