using System.Reflection;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tests.Kernels;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Eurus.Cpu.Tests.Arm64;

/// <summary>
/// The test assembly as a program, for machines where the xunit runner cannot go: a self-contained linux-arm64 publish
/// run under qemu-user (<see cref="Arm64EmulationTests"/>). <c>--kernels</c> runs the kernel test classes' facts and
/// theories (the same methods <c>dotnet test</c> runs, found by reflection) and prints the SIMD paths this process
/// has; <c>--greedy MODEL N PROMPT</c> prints a greedy continuation's token ids. (vstest does not use this entry point.)
/// </summary>
public static class SelfCheck
{
    /// <summary>The kernel test classes run by <c>--kernels</c>: every SIMD path against its scalar reference.</summary>
    internal static readonly Type[] KernelClasses =
    [
        typeof(KernelPathTests), typeof(KQuantKernelPathTests), typeof(AttentionKernelTests), typeof(HalfDotTests),
        typeof(OpsTests), typeof(MatMulTests), typeof(KQuantMatMulTests),
    ];

    public static int Main(string[] args)
    {
        try
        {
            return args switch
            {
                ["--kernels"] => RunKernels(),
                ["--greedy", var model, var n, var prompt] => Greedy(model, int.Parse(n, System.Globalization.CultureInfo.InvariantCulture), prompt),
                _ => Usage(),
            };
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            return 1;
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: Eurus.Cpu.Tests --kernels | --greedy MODEL N PROMPT");
        return 1;
    }

    /// <summary>The SIMD paths this process runs, in the names the kernel tests use.</summary>
    internal static string ActivePaths() => KernelPathTests.ActivePaths();

    private static int RunKernels()
    {
        Console.WriteLine($"paths: {ActivePaths()}");
        int passed = 0, failed = 0;
        foreach (var type in KernelClasses)
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance))
            {
                if (method.GetCustomAttribute<FactAttribute>() is not { } fact || fact.Skip is not null) continue;
                var rows = method.GetCustomAttribute<TheoryAttribute>() is null
                    ? [[]]
                    : method.GetCustomAttributes<DataAttribute>().SelectMany(d => d.GetData(method)).ToList();
                foreach (var row in rows)
                {
                    string name = $"{type.Name}.{method.Name}({string.Join(", ", row)})";
                    try
                    {
                        var instance = Create(type);
                        // xunit fills optional parameters the data leaves out with their defaults; so does this.
                        var parameters = method.GetParameters();
                        var args = parameters.Select((p, i) => i < row.Length ? row[i] : p.DefaultValue).ToArray();
                        var result = method.Invoke(instance, args);
                        if (result is Task task) task.GetAwaiter().GetResult();
                        (instance as IDisposable)?.Dispose();
                        passed++;
                        Console.WriteLine($"PASS {name}");
                    }
                    catch (Exception e)
                    {
                        failed++;
                        Console.WriteLine($"FAIL {name}: {(e is TargetInvocationException { InnerException: { } inner } ? inner : e).Message}");
                    }
                }
            }
        Console.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 && passed > 0 ? 0 : 1;
    }

    private static object Create(Type type)
    {
        var ctor = type.GetConstructors().Single();
        return ctor.Invoke(ctor.GetParameters().Select(p => p.ParameterType == typeof(ITestOutputHelper) ? new ConsoleOutput() : null).ToArray());
    }

    private static int Greedy(string model, int n, string prompt)
    {
        Console.WriteLine($"paths: {ActivePaths()}");
        Console.WriteLine($"tokens: {string.Join(' ', GreedyIds(model, n, prompt).GetAwaiter().GetResult())}");
        return 0;
    }

    /// <summary>The greedy continuation's ids (EOS ends it early), with two threads and a 256-token context.</summary>
    internal static async Task<List<int>> GreedyIds(string model, int n, string prompt)
    {
        using var m = EurusModel.Load(model, new ModelOptions { Threads = 2, ContextLength = 256 });
        using var session = m.CreateSession();
        var ids = new List<int>();
        var prompts = m.Tokenizer.Encode(prompt, addBos: true);
        await foreach (var t in session.GenerateTokensAsync(prompts, new SamplingSettings { Temperature = 0, MaxTokens = n }))
            ids.Add(t.Id);
        return ids;
    }

    private sealed class ConsoleOutput : ITestOutputHelper
    {
        public void WriteLine(string message) { }
        public void WriteLine(string format, params object[] args) { }
    }
}
