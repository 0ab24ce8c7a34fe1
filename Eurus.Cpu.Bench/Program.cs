using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "quick")
{
    Eurus.Cpu.Bench.QuickKernelTiming.Run();
    return;
}
if (args.Length > 0 && args[0] == "compare")
{
    Eurus.Cpu.Bench.CompareWithLlamaCpp.Run(args[1..]);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
