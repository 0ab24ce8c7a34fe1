using Eurus.Cpu.Tools;

namespace Eurus.Cpu.Tests.Workflows;

/// <summary>Needs python3 on PATH (CI installs it).</summary>
public class PythonInterpreterTests
{
    [Fact]
    public async Task StateSurvivesBetweenCellsAndTheLastExpressionIsShown()
    {
        using var py = new PythonInterpreter();
        var a = await py.RunAsync("x = 6\ny = 7\nprint('set')");
        Assert.Equal("set\n", a.Output);
        Assert.False(a.Failed);
        var b = await py.RunAsync("x * y");
        Assert.Equal("42\n", b.Output);
        var c = await py.RunAsync("import sys\nprint('err', file=sys.stderr)\nz = None\nz");
        Assert.Equal("err\n", c.Output);
    }

    [Fact]
    public async Task InfiniteLoopTimesOutAndTheInterpreterRestartsEmpty()
    {
        using var py = new PythonInterpreter(new PythonOptions { Timeout = TimeSpan.FromSeconds(2) });
        await py.RunAsync("x = 1");
        var r = await py.RunAsync("while True:\n    pass");
        Assert.True(r.TimedOut);
        Assert.Contains("TimeoutError", r.Text);
        Assert.Equal(1, py.Restarts);
        var after = await py.RunAsync("print(x)");
        Assert.True(after.Failed);
        Assert.Contains("NameError", after.Output);
        Assert.Equal("2\n", (await py.RunAsync("1 + 1")).Output);
    }

    [Fact]
    public async Task HugeOutputIsCapped()
    {
        using var py = new PythonInterpreter(new PythonOptions { MaxOutputChars = 1000 });
        var r = await py.RunAsync("for i in range(200000):\n    print('line', i)");
        Assert.True(r.Truncated);
        Assert.Equal(1000, r.Output.Length);
        Assert.StartsWith("line 0\nline 1\n", r.Output);
        Assert.EndsWith("[output truncated]", r.Text);
    }

    [Fact]
    public async Task CrashSyntaxErrorAndExceptionsAreReported()
    {
        using var py = new PythonInterpreter();
        var syntax = await py.RunAsync("def f(:\n  pass");
        Assert.True(syntax.Failed);
        Assert.Contains("SyntaxError", syntax.Output);
        var div = await py.RunAsync("def g():\n    return 1 / 0\ng()");
        Assert.True(div.Failed);
        Assert.Contains("ZeroDivisionError", div.Output);
        Assert.Contains("<cell>", div.Output);
        Assert.DoesNotContain("run_cell", div.Output); // the driver's own frames are hidden
        var crash = await py.RunAsync("import os\nos._exit(3)");
        Assert.True(crash.Failed);
        Assert.Contains("exited (code 3)", crash.Output);
        Assert.Equal("ok\n", (await py.RunAsync("print('ok')")).Output);
        var exit = await py.RunAsync("import sys\nsys.exit(0)");
        Assert.False(exit.Failed);
        Assert.Equal("3\n", (await py.RunAsync("print(3)")).Output);
    }

    [Fact]
    public async Task NoStdinAndAPrivateTemporaryDirectory()
    {
        string dir;
        using (var py = new PythonInterpreter())
        {
            dir = py.WorkingDirectory;
            var input = await py.RunAsync("input()");
            Assert.True(input.Failed);
            Assert.Contains("EOFError", input.Output);
            var cwd = await py.RunAsync("import os\nopen('f.txt', 'w').write('x')\nprint(os.getcwd())");
            Assert.Equal(Path.GetFullPath(dir), Path.GetFullPath(cwd.Output.Trim()));
            Assert.True(File.Exists(Path.Combine(dir, "f.txt")));
            // Output written straight to file descriptor 1 cannot corrupt the protocol.
            var raw = await py.RunAsync("import os\nos.write(1, b'123\\n{garbage')\nprint('fine')");
            Assert.Equal("fine\n", raw.Output);
        }
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public async Task MissingPythonSaysSo()
    {
        using var py = new PythonInterpreter(new PythonOptions { PythonPath = "/nonexistent/python3" });
        var e = await Assert.ThrowsAsync<PythonUnavailableException>(() => py.RunAsync("1"));
        Assert.Contains("/nonexistent/python3", e.Message);
        Assert.Contains("Install Python 3", e.Message);
    }

    [Fact]
    public async Task AnExecutableThatIsNotPythonSaysSo()
    {
        if (OperatingSystem.IsWindows()) return; // a shell script stands in for a broken interpreter
        using var dir = TestPaths.Temp();
        string fake = dir.File("python3");
        File.WriteAllText(fake, "#!/bin/sh\necho 'pyenv: python3: command not found' >&2\nexit 127\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var py = new PythonInterpreter(new PythonOptions { PythonPath = fake });
        var e = await Assert.ThrowsAsync<PythonUnavailableException>(() => py.RunAsync("1"));
        Assert.Contains("not a working Python 3", e.Message);
        Assert.Contains("command not found", e.Message);
    }

    [Fact]
    public async Task MemoryCapGivesMemoryError()
    {
        if (OperatingSystem.IsWindows()) return; // RLIMIT_AS is POSIX
        using var py = new PythonInterpreter(new PythonOptions { MaxMemoryBytes = 512L << 20 });
        var r = await py.RunAsync("x = bytearray(2 << 30)");
        Assert.True(r.Failed);
        Assert.Contains("MemoryError", r.Output);
        Assert.Equal("ok\n", (await py.RunAsync("print('ok')")).Output);
    }
}
