using System.Xml.Linq;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Packaging;

/// <summary>
/// Eurus.Cpu is marked IsTrimmable and IsAotCompatible; this proves it: a small console that loads the demo model
/// (LoadAsync), generates, saves a session state and answers through IChatClient is published with Native AOT
/// (or, where no native toolchain is installed, trimmed and self-contained) with TrimmerSingleWarn=false and warnings as
/// errors — every trim/AOT warning of the library would fail the publish — and the executable generates what the
/// library generates in this process. The app references the library the tests built (its dependencies at the versions
/// of Eurus.Cpu.csproj), so the repository's own build folders are not touched.
/// </summary>
public sealed class NativeAotTests
{
    private static bool HasNativeToolchain() =>
        OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, "clang")));

    [Fact]
    public async Task APublishedTrimmedOrAotConsoleHasNoWarningsAndGeneratesLikeTheLibrary()
    {
        using var tmp = TestPaths.Temp();
        string library = Path.Combine(AppContext.BaseDirectory, "Eurus.Cpu.dll");
        string csproj = Path.Combine(TestPaths.RepoRoot(), "Eurus.Cpu", "Eurus.Cpu.csproj");
        var packages = XDocument.Load(csproj).Descendants("PackageReference")
            .Select(e => $"""<PackageReference Include="{e.Attribute("Include")!.Value}" Version="{e.Attribute("Version")!.Value}" />""");
        bool aot = HasNativeToolchain();
        string mode = aot ? "<PublishAot>true</PublishAot>" : "<PublishTrimmed>true</PublishTrimmed><SelfContained>true</SelfContained>";
        string app = Directory.CreateDirectory(tmp.File("app")).FullName;
        File.WriteAllText(Path.Combine(app, "AotConsole.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <TrimmerSingleWarn>false</TrimmerSingleWarn>
                <InvariantGlobalization>true</InvariantGlobalization>
                <NuGetAudit>false</NuGetAudit>
                {mode}
              </PropertyGroup>
              <ItemGroup>
                <Reference Include="Eurus.Cpu" HintPath="{library}" />
                {string.Join("\n    ", packages)}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Eurus.Cpu.Chat;
            using Eurus.Cpu.Generation;
            using Eurus.Cpu.Sampling;
            using Microsoft.Extensions.AI;

            using var model = await EurusModel.LoadAsync(args[0], new ModelOptions { Threads = 1 });
            using var session = model.CreateSession();
            var text = new System.Text.StringBuilder();
            await foreach (var piece in session.GenerateAsync("And God said", SamplingSettings.Greedy with { MaxTokens = 12 }))
                text.Append(piece);
            Console.WriteLine("TEXT:" + text.ToString().ReplaceLineEndings("\\n"));
            var state = new MemoryStream();
            session.SaveState(state);
            state.Position = 0;
            using var restored = model.CreateSession();
            restored.LoadState(state);
            Console.WriteLine("STATE:" + restored.Tokens.Count);
            IChatClient chat = new EurusChatClient(model);
            var answer = await chat.GetResponseAsync("Who made the earth?", new ChatOptions { Temperature = 0, MaxOutputTokens = 4 });
            Console.WriteLine("CHAT:" + answer.Usage?.OutputTokenCount);
            """);
        string output = ChildProcess.RunOk("dotnet", app, TimeSpan.FromMinutes(6), "publish", "-c", "Release", "-r", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, "-o", tmp.File("out"), "--nologo");
        Assert.DoesNotContain("warning", output, StringComparison.OrdinalIgnoreCase);
        string exe = tmp.File(Path.Combine("out", OperatingSystem.IsWindows() ? "AotConsole.exe" : "AotConsole"));
        Assert.True(File.Exists(exe), $"no executable at {exe}");
        if (aot) Assert.False(File.Exists(tmp.File(Path.Combine("out", "AotConsole.dll"))), "a Native AOT publish leaves no IL assembly");

        var lines = ChildProcess.RunOk(exe, app, TimeSpan.FromMinutes(6), TestPaths.Q8).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1 });
        using var session = model.CreateSession();
        var expected = new System.Text.StringBuilder();
        await foreach (var piece in session.GenerateAsync("And God said", SamplingSettings.Greedy with { MaxTokens = 12 })) expected.Append(piece);
        Assert.Contains("TEXT:" + expected.ToString().ReplaceLineEndings("\\n"), lines);
        Assert.Contains("STATE:" + session.Tokens.Count, lines);
        Assert.Contains("CHAT:4", lines);
    }
}
