using System.Runtime.CompilerServices;

namespace Eurus.Cpu.Tests;

/// <summary>
/// Starts the thread pool of the test process as an application's would be. The test host blocks two pool threads for
/// the whole run (xunit's runner waits on one, the test platform's message loop holds another); on a two-core machine
/// those are all the threads the pool starts with, and it adds more only about every half second. Continuations of
/// awaits then wait seconds behind a busy generator — long enough for a test that cancels a long generation after a
/// short one to find it already finished (seen: PromptCacheTests.APrefixHeldByABusySlotIsCopiedIntoTheNewRequestsSlot
/// in a full CI run; and the server's OperationsTests.ShutdownLetsRunningRequestsEndCleanlyWithinTheTimeout, whose 1 s
/// shutdown deadline fired after the host's own limit). Linked into Eurus.Server.Tests too.
/// </summary>
internal static class TestHostThreadPool
{
    [ModuleInitializer]
    internal static void Initialize()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), io);
    }
}
