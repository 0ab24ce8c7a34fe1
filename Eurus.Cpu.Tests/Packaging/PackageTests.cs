using System.IO.Compression;
using System.Reflection.Metadata;
using System.Xml.Linq;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tests.Packaging;

/// <summary>
/// The NuGet package as a consumer sees it: packed from the sources, referenced by a fresh console app through a local
/// feed, built and run against the demo model. Runs the real dotnet CLI (about 30–60 s), in a temp folder, with the
/// package restored into a temp packages folder so the machine's cache is neither used for it nor polluted.
/// </summary>
public class PackageTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task PackedLibraryWorksInAFreshConsoleApp()
    {
        using var tmp = TestPaths.Temp();
        string root = TestPaths.RepoRoot();
        // A version of its own, so no cached package of the same id and version can stand in for this one.
        string version = "0.0.0-test." + Guid.NewGuid().ToString("N")[..12];
        string feed = Directory.CreateDirectory(tmp.File("feed")).FullName;
        ChildProcess.RunOk(ChildProcess.Dotnet, root, Limit, "pack", Path.Combine(root, "Eurus.Cpu", "Eurus.Cpu.csproj"), "-c", "Release", "-o", feed, "-p:Version=" + version,
            
            // Build outputs in the temp folder too (the project's restore output is read, not written), so a test run
            // leaves the working tree as it was.
            "-p:IntermediateOutputPath=" + tmp.File("obj") + "/", "-p:OutputPath=" + tmp.File("bin") + "/", "--no-restore", "--nologo");

        // The package: metadata, readme, XML docs, no native assets; symbols with SourceLink.
        string nupkg = Path.Combine(feed, $"Eurus.Cpu.{version}.nupkg");
        using (var zip = ZipFile.OpenRead(nupkg))
        {
            var names = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("lib/net10.0/Eurus.Cpu.dll", names);
            Assert.Contains("lib/net10.0/Eurus.Cpu.xml", names);
            Assert.Contains("PACKAGE.md", names);
            Assert.Contains("icon.png", names);
            Assert.DoesNotContain(names, n => n.StartsWith("runtimes/", StringComparison.Ordinal) || n.StartsWith("native/", StringComparison.Ordinal));
            using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var meta = XDocument.Load(nuspecStream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string Get(string name) => meta.Elements().Single(e => e.Name.LocalName == name).Value;
            Assert.Equal("Eurus.Cpu", Get("id"));
            Assert.Equal("Apache-2.0", Get("license"));
            Assert.Equal("PACKAGE.md", Get("readme"));
            Assert.Equal("icon.png", Get("icon"));
            Assert.Equal("https://github.com/eurus-cpu/Eurus.Cpu", Get("projectUrl"));
            // Every dependency is one the library uses (CommunityToolkit.HighPerformance was not, and is gone).
            var dependencies = meta.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).Order().ToArray();
            Assert.Equal(["Microsoft.Extensions.AI.Abstractions", "System.Numerics.Tensors"], dependencies);
            Assert.Contains("gguf", Get("tags"));
            Assert.False(string.IsNullOrWhiteSpace(Get("description")));
            var repo = meta.Elements().Single(e => e.Name.LocalName == "repository");
            Assert.Equal("https://github.com/eurus-cpu/Eurus.Cpu", repo.Attribute("url")!.Value);
        }
        using (var symbols = ZipFile.OpenRead(Path.Combine(feed, $"Eurus.Cpu.{version}.snupkg")))
        {
            using var pdb = new MemoryStream();
            using (var s = symbols.GetEntry("lib/net10.0/Eurus.Cpu.pdb")!.Open()) s.CopyTo(pdb);
            pdb.Position = 0;
            using var provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
            var reader = provider.GetMetadataReader();
            var sourceLinkKind = new Guid("CC110556-A091-4D38-9FEC-25AB9A351A6A");
            var sourceLink = reader.CustomDebugInformation.Select(reader.GetCustomDebugInformation)
                .Where(c => reader.GetGuid(c.Kind) == sourceLinkKind).Select(c => System.Text.Encoding.UTF8.GetString(reader.GetBlobBytes(c.Value))).SingleOrDefault();
            Assert.NotNull(sourceLink);
            Assert.Contains("https://", sourceLink);
        }

        // A consumer: its own nuget.config (the local feed, then the usual source) and packages folder; packages the
        // machine already has are taken from its cache as a read-only fallback.
        string app = Directory.CreateDirectory(tmp.File("app")).FullName;
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{tmp.File("packages")}" /></config>
              <fallbackPackageFolders><add key="machine" value="{cache}" /></fallbackPackageFolders>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <!-- No vulnerability look-up: it needs the network and would make this test depend on advisories. -->
                <NuGetAudit>false</NuGetAudit>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Eurus.Cpu" Version="[{version}]" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Eurus.Cpu.Chat;
            using Eurus.Cpu.Generation;
            using Eurus.Cpu.Sampling;
            using Microsoft.Extensions.AI;

            using var model = EurusModel.Load(args[0], new ModelOptions { Threads = 1, ContextLength = 128 });
            using var session = model.CreateSession();
            var text = new System.Text.StringBuilder();
            await foreach (var piece in session.GenerateAsync("And God said", SamplingSettings.Greedy with { MaxTokens = 12 }))
                text.Append(piece);
            Console.WriteLine("TEXT:" + text.ToString().ReplaceLineEndings("\\n"));
            IChatClient chat = new EurusChatClient(model);
            var answer = await chat.GetResponseAsync("Who made the earth?", new ChatOptions { Temperature = 0, MaxOutputTokens = 4 });
            Console.WriteLine("CHAT:" + answer.Usage?.OutputTokenCount);
            """);
        ChildProcess.RunOk(ChildProcess.Dotnet, app, Limit, "build", "-c", "Release", "--nologo", "-v", "q");
        string output = ChildProcess.RunOk(ChildProcess.Dotnet, app, Limit, "run", "-c", "Release", "--no-build", "--", TestPaths.Q8);

        // It generates what the library generates in this process.
        using var model = EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 128 });
        using var session = model.CreateSession();
        var expected = new System.Text.StringBuilder();
        await foreach (var piece in session.GenerateAsync("And God said", SamplingSettings.Greedy with { MaxTokens = 12 })) expected.Append(piece);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("TEXT:" + expected.ToString().ReplaceLineEndings("\\n"), lines);
        Assert.Contains("CHAT:4", lines);
        Assert.True(File.Exists(Path.Combine(tmp.File("packages"), "eurus.cpu", version, $"eurus.cpu.{version}.nupkg")), "the package came from the local feed");
    }
}
