using System.Text.RegularExpressions;

namespace Eurus.Cpu.Tests.Arm64;

/// <summary>
/// The ARM64 kernels (SDOT with <c>Dp</c>, the portable Vector128 kernels on AdvSimd, scalar) checked under qemu-user:
/// every kernel test class against its scalar reference with each ISA level, and the demo model's greedy output
/// equal to this machine's. Emulation says nothing about speed.
/// </summary>
public class Arm64EmulationTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);

    public static TheoryData<string, string, string> Levels() => new()
    {
        { "", "", "dp,v128,scalar" },
        { "DOTNET_EnableArm64Dp", "0", "v128,scalar" },
        { "DOTNET_EnableHWIntrinsic", "0", "scalar" },
    };

    [Arm64EmulatorTheory]
    [MemberData(nameof(Levels))]
    public async Task KernelTestsPassOnArm64(string variable, string value, string expectedPaths)
    {
        Assert.True(Arm64Emulator.Available, "qemu-aarch64 or the ARM64 C/C++ libraries are missing (apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross)");
        var env = variable.Length > 0 ? new Dictionary<string, string> { [variable] = value } : null;
        var (code, log) = await Arm64Emulator.RunAsync(["--kernels"], env, Limit);
        Assert.True(code == 0, $"{variable}={value}: the kernel checks failed under qemu:\n{log}");
        Assert.Contains($"paths: {expectedPaths}\n", log);
        var summary = Regex.Match(log, @"(\d+) passed, (\d+) failed");
        Assert.True(summary.Success && int.Parse(summary.Groups[1].Value) >= 20 && summary.Groups[2].Value == "0", log);
    }

    [Arm64EmulatorTheory]
    [InlineData("kjv-tiny-Q8_0.gguf")]
    [InlineData("kjv-tiny-Q4_0.gguf")]
    // The demo model converted to llama-quantize's K-quant mixtures by our converter: the K-quants run in row quads on ARM64.
    [InlineData("mix:Q4_K_M")]
    [InlineData("mix:Q5_K_M")]
    [InlineData("mix:Q6_K")]
    public async Task GreedyOutputOnArm64EqualsThisMachine(string file)
    {
        Assert.True(Arm64Emulator.Available, "qemu-aarch64 or the ARM64 C/C++ libraries are missing (apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross)");
        const string prompt = "And the LORD spake unto Moses, saying,";
        string path = file.StartsWith("mix:", StringComparison.Ordinal)
            ? HuggingFace.HfTestModels.Converted(Enum.Parse<Eurus.Cpu.Quantization.QuantMix>(file[4..]))
            : TestPaths.Model(file);
        var here = await SelfCheck.GreedyIds(path, 24, prompt);
        var (code, log) = await Arm64Emulator.RunAsync(["--greedy", path, "24", prompt], null, Limit);
        Assert.True(code == 0, log);
        Assert.Contains("paths: dp,v128,scalar\n", log);
        Assert.Contains($"tokens: {string.Join(' ', here)}\n", log);
    }
}
