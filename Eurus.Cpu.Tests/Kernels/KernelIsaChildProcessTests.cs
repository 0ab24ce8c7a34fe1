using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// Re-runs <see cref="KernelPathTests"/> (and the matmul tests, which go through the dispatch) in child processes
/// with instruction sets switched off (.NET 10 names), so the AVX-512BW (without AVX-VNNI), AVX2, Vector128 and scalar
/// paths are exercised and checked even on a machine whose widest path is another.
/// </summary>
public class KernelIsaChildProcessTests
{
    private static string Vnni => AvxVnni.IsSupported ? "vnni," : "";

    public static TheoryData<string, string, string> Configurations() => new()
    {
        { "DOTNET_EnableGFNI", "0", (AvxVnni.IsSupported ? "vnni," : "") + (Avx512BW.IsSupported ? "avx512," : "") + (Avx2.IsSupported && Fma.IsSupported ? "avx2,madd,v128,scalar" : "v128,scalar") },
        { "DOTNET_EnableAVXVNNI", "0", (Avx512BW.IsSupported ? "avx512," : "") + (Avx2.IsSupported && Fma.IsSupported ? "avx2,madd,v128,scalar" : "v128,scalar") },
        { "DOTNET_EnableAVX512", "0", Vnni + (Avx2.IsSupported && Fma.IsSupported ? "avx2,madd,v128,scalar" : "v128,scalar") },
        { "DOTNET_EnableAVX2", "0", "v128,scalar" },
        { "DOTNET_EnableHWIntrinsic", "0", "scalar" },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public async Task KernelTestsPassWithIsaSwitchedOff(string variable, string value, string expectedPaths)
    {
        if (!Sse2.IsSupported && !System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
            Assert.Fail("This machine has no SIMD at all; the ISA matrix is meaningless here.");
        if (!Avx512BW.IsSupported && variable == "DOTNET_EnableAVX512")
            expectedPaths = Vnni + (Avx2.IsSupported && Fma.IsSupported ? "avx2,madd,v128,scalar" : Vector128.IsHardwareAccelerated ? "v128,scalar" : "scalar");
        string dll = typeof(KernelPathTests).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "test", dll, "--filter", "FullyQualifiedName~Eurus.Cpu.Tests.Kernels.KernelPathTests|FullyQualifiedName~Eurus.Cpu.Tests.Kernels.MatMulTests|FullyQualifiedName~Eurus.Cpu.Tests.Kernels.HalfDotTests|FullyQualifiedName~Eurus.Cpu.Tests.Kernels.KQuantKernelPathTests|FullyQualifiedName~Eurus.Cpu.Tests.Kernels.KQuantMatMulTests|FullyQualifiedName~Eurus.Cpu.Tests.Kernels.AttentionKernelTests|FullyQualifiedName~Eurus.Cpu.Tests.Kernels.OpsTests|FullyQualifiedName~Eurus.Cpu.Tests.Kernels.InterleavedTileTests" }) psi.ArgumentList.Add(a);
        psi.Environment[variable] = value;
        psi.Environment["EURUS_EXPECT_PATHS"] = expectedPaths;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(timeout.Token);
        string log = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, $"{variable}={value}: child run failed:\n{log}");
        Assert.Matches(@"Passed!\s+-\s+Failed:\s+0, Passed:\s+([1-9]\d*)", log);
    }
}
