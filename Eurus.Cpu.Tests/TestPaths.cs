namespace Eurus.Cpu.Tests;

/// <summary>Locations of the bundled demo model files and a per-test temp folder.</summary>
internal static class TestPaths
{
    public static string Model(string file) => Path.Combine(AppContext.BaseDirectory, "models", file);

    public static string F32 => Model("kjv-tiny-F32.gguf");
    public static string Q8 => Model("kjv-tiny-Q8_0.gguf");
    public static string Q4 => Model("kjv-tiny-Q4_0.gguf");

    /// <summary>The repository root: the folder above the test binaries that holds Eurus.Cpu.sln.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Eurus.Cpu.sln"))) return d.FullName;
        throw new InvalidOperationException("Eurus.Cpu.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A fresh temporary directory, deleted when disposed.</summary>
    public static TempDir Temp() => new();
}

internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "eurus-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
