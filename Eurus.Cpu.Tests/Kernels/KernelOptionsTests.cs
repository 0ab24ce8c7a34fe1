using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Tests.Forward;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// Kernel choices are per model (<see cref="KernelOptions"/>), not process-global: two models in one process run
/// different kernels side by side, each as its options say, and since every tile equals its row kernel bit for bit
/// their logits are identical.
/// </summary>
public sealed class KernelOptionsTests
{
    public static TheoryData<string> Files => new() { "Q4_0", "Q8_0", "Q4_K_M" };

    [Theory]
    [MemberData(nameof(Files))]
    public void TwoModelsInOneProcessRunTheKernelsTheirOptionsChooseWithTheSameLogits(string file)
    {
        string path = file switch
        {
            "Q4_0" => TestPaths.Q4,
            "Q8_0" => TestPaths.Q8,
            _ => TestModels.SyntheticMix(Eurus.Cpu.Quantization.QuantMix.Q4_K_M),
        };
        var tiles = KernelOptions.Default with { Vnni = false };
        var rows = KernelOptions.Default with { Vnni = false, Avx512Tiles = false, TokenBlock = 7 };
        using var a = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128, Kernels = tiles });
        using var b = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128, Kernels = rows });
        var wa = a.Weights.Layers[0].Wq;
        var wb = b.Weights.Layers[0].Wq;
        Assert.DoesNotContain(wa.Kernel, new[] { MatrixKernel.Q4_0Vnni, MatrixKernel.Q8_0Vnni, MatrixKernel.Q4_KVnni, MatrixKernel.Q5_KVnni, MatrixKernel.Q6_KVnni });
        Assert.Contains(wb.Kernel, new[] { MatrixKernel.Q4_0Rows, MatrixKernel.Q8_0Rows, MatrixKernel.KQuantRows });
        if (Avx512BW.IsSupported) Assert.Contains(wa.Kernel, new[] { MatrixKernel.Q4_0Avx512, MatrixKernel.Q8_0Avx512, MatrixKernel.KQuantAvx512 });
        else Assert.Equal(wb.Kernel, wa.Kernel);

        var ids = a.Tokenizer.Encode("And God said, Let there be light: and there was light. And God saw the light, that it was good.");
        using var sa = a.CreateSession();
        using var sb = b.CreateSession();
        var la = new float[ids.Length * a.Config.Vocab];
        var lb = new float[ids.Length * b.Config.Vocab];
        sa.EvaluateAll(ids, la);
        sb.EvaluateAll(ids, lb);
        Assert.True(la.AsSpan().SequenceEqual(lb), $"{file}: tiled and row-only models disagree");
    }

    [Fact]
    public void BadKernelOptionsAreRefusedAtLoad()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Kernels = KernelOptions.Default with { TokenBlock = 2 } }));
    }
}
