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
public sealed class KernelOptionsTests(Xunit.Abstractions.ITestOutputHelper output)
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
        var tiles = KernelOptions.Default with { Vnni = false, MaddTiles = false };
        var rows = KernelOptions.Default with { Vnni = false, MaddTiles = false, Avx512Tiles = false, Tiles128 = false, TokenBlock = 7 };
        using var a = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128, Kernels = tiles });
        using var b = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128, Kernels = rows });
        var wa = a.Weights.Layers[0].Wq;
        var wb = b.Weights.Layers[0].Wq;
        Assert.DoesNotContain(wa.Kernel, new[] { MatrixKernel.Q4_0Vnni, MatrixKernel.Q8_0Vnni, MatrixKernel.Q4_KVnni, MatrixKernel.Q5_KVnni, MatrixKernel.Q6_KVnni,
            MatrixKernel.Q4_0Madd, MatrixKernel.Q4_KMadd, MatrixKernel.Q5_KMadd, MatrixKernel.Q6_KMadd });
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

    /// <summary>
    /// The VNNI-layout kernels on AVX2 multiply-adds (<see cref="MaddByteDot"/>; what AVX2 and Zen 4 machines run): the
    /// two-row × four-token tiles equal their row kernel bit for bit (token blocks of 64 vs 7 put different tokens in
    /// tiles), and where the CPU has AVX-VNNI too, the multiply-add kernels equal the VPDPBUSD ones bit for bit (the same
    /// integer sums, the same float steps).
    /// </summary>
    [Theory]
    [InlineData("Q4_0")]
    [InlineData("Q4_K_M")]
    public void MultiplyAddKernelsEqualTheirRowsAndTheVnniKernels(string file)
    {
        if (!MaddByteDot.IsSupported)
        {
            output.WriteLine("no AVX2 in this process: the multiply-add kernels do not run here (the ISA child processes and AVX2 machines run them).");
            return;
        }
        string path = file == "Q4_0" ? TestPaths.Q4 : TestModels.SyntheticMix(Eurus.Cpu.Quantization.QuantMix.Q4_K_M);
        var madd = KernelOptions.Default with { Vnni = false, Avx512Tiles = false };
        using var a = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128, Kernels = madd });
        using var b = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128, Kernels = madd with { TokenBlock = 7 } });
        Assert.Contains(a.Weights.Layers[0].Wq.Kernel, new[] { MatrixKernel.Q4_0Madd, MatrixKernel.Q4_KMadd, MatrixKernel.Q5_KMadd, MatrixKernel.Q6_KMadd });
        var ids = a.Tokenizer.Encode("And God said, Let there be light: and there was light. And God saw the light, that it was good.");
        var la = Logits(a, ids);
        Assert.True(la.AsSpan().SequenceEqual(Logits(b, ids)), $"{file}: multiply-add tiles and rows disagree");
        if (VnniDot.Supported)
        {
            using var v = EurusModel.Load(path, new ModelOptions { Threads = 2, ContextLength = 128 });
            Assert.Contains(v.Weights.Layers[0].Wq.Kernel, new[] { MatrixKernel.Q4_0Vnni, MatrixKernel.Q4_KVnni, MatrixKernel.Q5_KVnni, MatrixKernel.Q6_KVnni });
            Assert.True(la.AsSpan().SequenceEqual(Logits(v, ids)), $"{file}: multiply-add and VPDPBUSD kernels disagree");
        }
        else output.WriteLine("no AVX-VNNI here: the multiply-add kernels were compared with their rows only.");
    }

    private static float[] Logits(EurusModel model, int[] ids)
    {
        using var s = model.CreateSession();
        var logits = new float[ids.Length * model.Config.Vocab];
        s.EvaluateAll(ids, logits);
        return logits;
    }

    [Fact]
    public void BadKernelOptionsAreRefusedAtLoad()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Kernels = KernelOptions.Default with { TokenBlock = 2 } }));
    }
}
