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
if (args.Length > 0 && args[0] == "shapes")
{
    Eurus.Cpu.Bench.ShapeTiming.Run(args[1..]);
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
    if (args.Length > 3 && args[3] == "speculative")
    {
        // alloc MODEL THREADS speculative: bytes that 80 more generated tokens allocate (all threads), plain and with prompt lookup.
        var prompt = model.Tokenizer.Encode("For God so loved the world, that he gave his only begotten Son. For God so loved");
        long Gen(bool spec, int max)
        {
            session.Reset();
            var settings = Eurus.Cpu.Sampling.SamplingSettings.Greedy with { MaxTokens = max, StopAtEos = false, Speculation = spec ? new Eurus.Cpu.Sampling.SpeculativeDecoding { MinNgramSize = 1 } : null };
            long b0 = GC.GetTotalAllocatedBytes(precise: true);
            foreach (var _ in session.GenerateTokensAsync(prompt, settings).ToBlockingEnumerable()) { }
            return GC.GetTotalAllocatedBytes(precise: true) - b0;
        }
        for (int round = 0; round < 4; round++)
            Console.WriteLine($"round {round}: plain 100-20 tokens {Gen(false, 100) - Gen(false, 20)} bytes, speculative {Gen(true, 100) - Gen(true, 20)} bytes ({session.LastTimings!.AcceptedDraftTokens}/{session.LastTimings.DraftTokens} drafts kept)");
        return;
    }
    if (args.Length > 3 && int.Parse(args[3]) is var perPass and > 1)
    {
        // alloc MODEL THREADS N: bytes per pass of N tokens with every token's logits (a draft's verification), rewound after each.
        var several = Enumerable.Range(7, perPass).ToArray();
        int at = session.Tokens.Count;
        var all = new float[perPass * model.Config.Vocab];
        for (int i = 0; i < 30; i++) { session.EvaluateAll(several, all); session.Rewind(at); }
        long start = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < 60; i++) { session.EvaluateAll(several, all); session.Rewind(at); }
        Console.WriteLine($"{(GC.GetTotalAllocatedBytes(precise: true) - start) / 60.0:F1} bytes allocated per pass of {perPass} tokens");
        return;
    }
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
if (args.Length > 0 && args[0] == "membw")
{
    Eurus.Cpu.Bench.ReadBandwidth.Run(args);
    return;
}
if (args.Length > 0 && args[0] == "ports")
{
    Eurus.Cpu.Bench.PortThroughput.Run();
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
