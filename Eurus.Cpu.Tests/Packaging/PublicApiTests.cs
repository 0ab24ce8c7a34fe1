using System.Runtime.CompilerServices;
using Eurus.Cpu.Generation;
using PublicApiGenerator;

namespace Eurus.Cpu.Tests.Packaging;

/// <summary>
/// The public API is pinned: it must equal Eurus.Cpu.approved.txt, so every change to it is deliberate and reviewed.
/// After an intended change, copy the Eurus.Cpu.received.txt this test writes over the approved file (or run the test
/// with EURUS_ACCEPT_API=1, which rewrites the approved file, then review the diff).
/// </summary>
public class PublicApiTests
{
    [Fact]
    public void PublicApiEqualsTheApprovedOne()
    {
        string api = typeof(EurusModel).Assembly.GeneratePublicApi(new ApiGeneratorOptions { IncludeAssemblyAttributes = false }).ReplaceLineEndings("\n");
        string dir = SourceDirectory();
        string approvedPath = Path.Combine(dir, "Eurus.Cpu.approved.txt");
        string receivedPath = Path.Combine(dir, "Eurus.Cpu.received.txt");
        if (Environment.GetEnvironmentVariable("EURUS_ACCEPT_API") == "1") File.WriteAllText(approvedPath, api);
        string approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath).ReplaceLineEndings("\n") : "";
        if (approved == api)
        {
            File.Delete(receivedPath);
            return;
        }
        File.WriteAllText(receivedPath, api);
        var a = approved.Split('\n');
        var r = api.Split('\n');
        int line = 0;
        while (line < Math.Min(a.Length, r.Length) && a[line] == r[line]) line++;
        Assert.Fail($"The public API changed (first difference at line {line + 1}: approved '{(line < a.Length ? a[line].Trim() : "<end>")}', " +
                    $"now '{(line < r.Length ? r[line].Trim() : "<end>")}'). If intended, copy {receivedPath} over {approvedPath}.");
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
