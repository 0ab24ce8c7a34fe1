using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Bench;

/// <summary>
/// The machine's memory read bandwidth, the ceiling of decoding (run: <c>membw [threads] [MiB]</c>): each thread sums
/// its share of a buffer far larger than the caches with 256-bit loads, best of five passes. Decoding one token reads
/// every weight once, so weight bytes × tokens/s against this figure says how close a decoder is to the memory limit.
/// </summary>
internal static unsafe class ReadBandwidth
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 1 ? int.Parse(args[1]) : Environment.ProcessorCount;
        long mib = args.Length > 2 ? long.Parse(args[2]) : 2048;
        long bytes = mib << 20;
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            for (long i = 0; i < bytes; i += 4096) buffer[i] = (byte)i; // fault every page in first
            long share = bytes / threads / 128 * 128;
            double best = 0;
            for (int pass = 0; pass < 5; pass++)
            {
                var sums = new long[threads];
                var sw = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => sums[t] = Sum(buffer + t * share, share));
                double gbs = threads * share / sw.Elapsed.TotalSeconds / 1e9;
                best = Math.Max(best, gbs);
                Console.WriteLine($"pass {pass + 1}: {gbs:F1} GB/s (checksum {sums.Sum()})");
            }
            Console.WriteLine($"read bandwidth, {threads} thread(s), {mib} MiB: {best:F1} GB/s (best of 5)");
        }
        finally { NativeMemory.AlignedFree(buffer); }
    }

    private static long Sum(byte* p, long n)
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        for (long i = 0; i < n; i += 128)
        {
            a0 += Vector256.Load((int*)(p + i));
            a1 += Vector256.Load((int*)(p + i + 32));
            a2 += Vector256.Load((int*)(p + i + 64));
            a3 += Vector256.Load((int*)(p + i + 96));
        }
        return Vector256.Sum(a0 + a1 + a2 + a3);
    }
}
