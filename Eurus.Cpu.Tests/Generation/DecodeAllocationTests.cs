using Eurus.Cpu.Generation;
using Xunit;

namespace Eurus.Cpu.Tests.Generation;

/// <summary>The decode loop allocates nothing per token (buffers, pool work items and the token list are made once).</summary>
public sealed class DecodeAllocationTests
{
    [Theory]
    [InlineData("kjv-tiny-Q8_0.gguf", 1)]
    [InlineData("kjv-tiny-Q4_0.gguf", 1)]
    [InlineData("kjv-tiny-F32.gguf", 1)]
    [InlineData("kjv-tiny-Q4_0.gguf", 2)]
    public void EvaluatingOneTokenAtATimeAllocatesNothing(string file, int threads)
    {
        using var model = EurusModel.Load(TestPaths.Model(file), new ModelOptions { Threads = threads, ContextLength = 128 });
        using var session = model.CreateSession();
        var one = new int[1];
        session.Evaluate([1]);
        for (int i = 0; i < 40; i++) { one[0] = 3 + i; session.Evaluate(one); } // warm-up: JIT tiers settle
        // Counted on this thread: with 2 threads the worker runs the same kernels, and other tests' threads don't count.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 48; i++) { one[0] = 50 + i; session.Evaluate(one); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
