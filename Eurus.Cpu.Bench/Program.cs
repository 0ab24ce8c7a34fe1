using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "quick")
{
    Eurus.Cpu.Bench.QuickKernelTiming.Run();
    return;
}
if (args.Length > 0 && args[0] == "kquick")
{
    Eurus.Cpu.Bench.KQuantKernelTiming.Run();
    return;
}
if (args.Length > 0 && args[0] == "alloc")
{
    // Bytes allocated per decoded token (all threads), on the model given or the bundled demo model.
    string path = args.Length > 1 ? args[1] : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "models", "kjv-tiny-Q8_0.gguf");
    using var model = Eurus.Cpu.Generation.EurusModel.Load(path, new Eurus.Cpu.Generation.ModelOptions { Threads = args.Length > 2 ? int.Parse(args[2]) : 2, ContextLength = 256 });
    using var session = model.CreateSession();
    var one = new int[1];
    session.Evaluate([1]);
    for (int i = 0; i < 60; i++) { one[0] = 3 + i; session.Evaluate(one); } // warm up (tiered JIT settles)
    long before = GC.GetTotalAllocatedBytes(precise: true);
    const int n = 180;
    for (int i = 0; i < n; i++) { one[0] = 100 + i % 100; session.Evaluate(one); }
    long after = GC.GetTotalAllocatedBytes(precise: true);
    Console.WriteLine($"{(after - before) / (double)n:F1} bytes allocated per decoded token (Evaluate, {model.Config.Layers} layers, {model.Options.Threads} threads, {n} tokens)");
    return;
}
if (args.Length > 0 && args[0] == "grammar")
{
    Eurus.Cpu.Bench.GrammarTiming.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "speculative")
{
    Eurus.Cpu.Bench.SpeculativeTiming.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "compare")
{
    Eurus.Cpu.Bench.CompareWithLlamaCpp.Run(args[1..]);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
