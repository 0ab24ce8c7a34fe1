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

    [Fact]
    public async Task TheHostEnvironmentIsNotPassedOn()
    {
        string name = "EURUS_TEST_SECRET_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "hunter2");
        try
        {
            // The interpreter itself, not a wrapper such as a pyenv shim (which adds variables of its own).
            using var py = new PythonInterpreter(new PythonOptions { PythonPath = await RealPythonAsync() });
            var r = await py.RunAsync($"import os, sys\nprint(os.environ.get('{name}'))\n" +
                                      $"print(open('/proc/self/environ', 'rb').read().count(b'{name}') if os.path.exists('/proc/self/environ') else 0)\n" +
                                      "print(sorted(os.environ))\nprint(os.environ['HOME'] == os.getcwd() == os.environ['TMPDIR'], sys.flags.isolated)");
            Assert.False(r.Failed, r.Output);
            var lines = r.Output.Split('\n');
            Assert.Equal("None", lines[0]);
            Assert.Equal("0", lines[1]);
            var names = lines[2].Trim('[', ']').Split(", ").Select(n => n.Trim('\''));
            Assert.All(names, n => Assert.Contains(n, new[] { "PATH", "LANG", "LC_CTYPE", "HOME", "TMPDIR" })); // LC_CTYPE: Python's C-locale coercion
            Assert.Equal("True 1", lines[3]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    /// <summary>The executable behind <c>python3</c> (sys.executable).</summary>
    private static async Task<string> RealPythonAsync()
    {
        using var py = new PythonInterpreter();
        var r = await py.RunAsync("import sys\nprint(sys.executable)");
        Assert.False(r.Failed, r.Output);
        return r.Output.Trim();
    }

    // Starts a child with subprocess, a forked child and a double-forked daemon in its own session; prints their pids.
    private const string StartChildren =
        "import os, subprocess, time\n" +
        "pids = [subprocess.Popen(['sleep', '1000']).pid]\n" +
        "pid = os.fork()\n" +
        "if pid == 0:\n    time.sleep(1000)\n    os._exit(0)\n" +
        "pids.append(pid)\n" +
        "r, w = os.pipe()\n" +
        "if os.fork() == 0:\n    os.setsid()\n    p = os.fork()\n    if p == 0:\n        time.sleep(1000)\n        os._exit(0)\n" +
        "    os.write(w, str(p).encode())\n    os._exit(0)\n" +
        "pids.append(int(os.read(r, 20)))\n" +
        "open('pids.txt', 'w').write(' '.join(map(str, pids)))\n";

    [Fact]
    public async Task ProcessesStartedByACellEndWithIt()
    {
        if (!OperatingSystem.IsLinux()) return; // reads /proc
        using var py = new PythonInterpreter();
        var r = await py.RunAsync(StartChildren + "print(' '.join(map(str, pids)))");
        Assert.False(r.Failed, r.Output);
        var pids = r.Output.Split(' ', StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        Assert.Equal(3, pids.Length);
        await AssertGoneAsync(pids);
        Assert.Equal("3\n", (await py.RunAsync("len(pids)")).Output); // the interpreter itself lives on, with its state
    }

    [Fact]
    public async Task ATimeoutKillsEveryProcessTheCellStarted()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var py = new PythonInterpreter(new PythonOptions { Timeout = TimeSpan.FromSeconds(2) });
        var r = await py.RunAsync(StartChildren + "while True:\n    pass");
        Assert.True(r.TimedOut);
        var pids = File.ReadAllText(Path.Combine(py.WorkingDirectory, "pids.txt")).Split(' ').Select(int.Parse).ToArray();
        Assert.Equal(3, pids.Length);
        await AssertGoneAsync(pids);
        Assert.Equal("ok\n", (await py.RunAsync("print('ok')")).Output);
    }

    // Every pipe the cell can find gets a well-formed reply of the old protocol (length, newline, JSON).
    private const string ForgeReply =
        "import os\n" +
        "def forge(payload):\n" +
        "    for fd in map(int, os.listdir('/proc/self/fd')):\n" +
        "        if fd > 2:\n" +
        "            try:\n                os.write(fd, payload)\n            except OSError:\n                pass\n";

    [Fact]
    public async Task AForgedReplyIsRejectedAndTheInterpreterRestarts()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var py = new PythonInterpreter();
        await py.RunAsync("x = 1");
        string body = "{\"output\": \"forged\", \"error\": false, \"truncated\": false}";
        var r = await py.RunAsync(ForgeReply + $"forge(b'{body.Length}\\n' + b'{body}')\nimport time\ntime.sleep(0.5)");
        Assert.True(r.Failed, r.Output);
        Assert.DoesNotContain("forged", r.Output);
        Assert.Contains("malformed", r.Output);
        Assert.Equal(1, py.Restarts);
        Assert.Equal("ok\n", (await py.RunAsync("print('ok')")).Output);
    }

    [Fact]
    public async Task AHugeReplyLengthIsRefusedWithoutAllocatingIt()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var py = new PythonInterpreter();
        // Even a cell that digs the request's nonce out of the driver's frames can only announce a length, not make the host
        // allocate it.
        const string code = ForgeReply +
            "import re, sys\nnonce = b''\nf = sys._getframe()\n" +
            "while f is not None:\n" +
            "    for v in list(f.f_locals.values()):\n" +
            "        if isinstance(v, str) and re.fullmatch('[0-9a-f]{32}', v):\n            nonce = v.encode() + b' '\n" +
            "    f = f.f_back\n" +
            "forge(nonce + b'2000000000\\n')\nimport time\ntime.sleep(0.5)";
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var r = await py.RunAsync(code);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(r.Failed, r.Output);
        Assert.False(r.TimedOut);
        Assert.Contains("malformed", r.Output);
        Assert.True(allocated < 1L << 30, $"{allocated} bytes allocated"); // the forged length is 2 GB; other tests run in parallel
        Assert.Equal(1, py.Restarts);
        Assert.Equal("ok\n", (await py.RunAsync("print('ok')")).Output);
    }

    [Fact]
    public async Task ResourceLimitsAreSet()
    {
        if (OperatingSystem.IsWindows()) return; // rlimits are POSIX
        using var py = new PythonInterpreter(new PythonOptions { MaxFileBytes = 1 << 20, MaxCpuTime = TimeSpan.FromSeconds(100) });
        var r = await py.RunAsync("import resource as r\n" +
                                  "print(*(r.getrlimit(k) for k in (r.RLIMIT_CORE, r.RLIMIT_AS, r.RLIMIT_CPU, r.RLIMIT_FSIZE)))");
        Assert.Equal($"(0, 0) ({2L << 30}, {2L << 30}) (100, 105) (1048576, 1048576)\n", r.Output); // the default address space: 2 GiB
        var big = await py.RunAsync("open('big', 'wb').write(b'x' * (2 << 20))");
        Assert.True(big.Failed);
        Assert.Contains("File too large", big.Output);
    }

    [Fact]
    public async Task TheCpuLimitEndsASpinningInterpreterBeforeTheTimeout()
    {
        if (OperatingSystem.IsWindows()) return;
        using var py = new PythonInterpreter(new PythonOptions { MaxCpuTime = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromSeconds(20) });
        var r = await py.RunAsync("while True:\n    pass");
        Assert.False(r.TimedOut);
        Assert.True(r.Failed);
        Assert.Contains("exited", r.Output);
        Assert.True(r.Elapsed < TimeSpan.FromSeconds(15), r.Elapsed.ToString());
        Assert.Equal(1, py.Restarts);
        Assert.Equal("ok\n", (await py.RunAsync("print('ok')")).Output);
    }

    [Fact]
    public async Task AForkBombIsStoppedAndLeavesNothingBehind()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var py = new PythonInterpreter(new PythonOptions { Timeout = TimeSpan.FromSeconds(5), MaxProcesses = 32 });
        // Bounded on purpose (the machine is shared): at most 2000 forks, and every child exits by itself after 30 s.
        var linear = await py.RunAsync(
            "import os, time\nlog = open('linear.txt', 'a')\n" +
            "for i in range(2000):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n" +
            "    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    log.write(f'{pid}\\n')\n    log.flush()\n" +
            "print('forked', i)");
        await AssertContainedAsync(py, linear, "linear.txt");
        // Exponential: every process forks again, 8 times (at most 256 processes), then sleeps.
        var doubling = await py.RunAsync(
            "import os, time\nroot = os.getpid()\n" +
            "for depth in range(8):\n    try:\n        os.fork()\n    except OSError:\n        break\n" +
            "    with open('doubling.txt', 'a') as log:\n        log.write(f'{os.getpid()}\\n')\n" +
            "time.sleep(30)\nif os.getpid() != root:\n    os._exit(0)");
        await AssertContainedAsync(py, doubling, "doubling.txt");
        Assert.Equal("ok\n", (await py.RunAsync("print('ok')")).Output);
    }

    /// <summary>
    /// The cell was stopped past MaxProcesses (root; or, for another user, fork failed at RLIMIT_NPROC and the cell
    /// ended), fewer than all processes were made, and every pid it logged is gone.
    /// </summary>
    private static async Task AssertContainedAsync(PythonInterpreter py, ExecutionResult r, string log)
    {
        bool stopped = r.Failed && r.Output.Contains("more than 32 processes");
        bool refused = Environment.UserName != "root" && !r.Failed;
        Assert.True(stopped || refused, r.Output);
        Assert.False(r.TimedOut);
        var lines = File.ReadAllText(Path.Combine(py.WorkingDirectory, log)).Split('\n');
        var pids = lines[..^1].Select(int.Parse).Distinct().ToArray(); // the last line may be cut (or empty)
        Assert.InRange(pids.Length, 1, 1999);
        await AssertGoneAsync(pids);
    }

    [Fact]
    public async Task ALauncherWrapsTheInterpreter()
    {
        if (OperatingSystem.IsWindows()) return; // a shell script stands in for a container
        string name = "EURUS_TEST_SECRET_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "hunter2");
        try
        {
            using var dir = TestPaths.Temp();
            string script = dir.File("launch.sh");
            // No exec: the shell stays between the host and Python, as a container runtime would.
            File.WriteAllText(script, "#!/bin/sh\nenv > \"$1/launcher-env.txt\"\nshift\n\"$@\"\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using var py = new PythonInterpreter(new PythonOptions { Launcher = [script, "{WorkingDirectory}"], Timeout = TimeSpan.FromSeconds(2) });
            var r = await py.RunAsync("import os, sys\nprint(sys.flags.isolated)\n_ = open('python.pid', 'w').write(str(os.getpid()))");
            Assert.Equal("1\n", r.Output);
            string env = File.ReadAllText(Path.Combine(py.WorkingDirectory, "launcher-env.txt"));
            Assert.Contains("HOME=" + py.WorkingDirectory, env);
            Assert.DoesNotContain(name, env);
            int python = int.Parse(File.ReadAllText(Path.Combine(py.WorkingDirectory, "python.pid")));
            var t = await py.RunAsync("while True:\n    pass");
            Assert.True(t.TimedOut);
            if (OperatingSystem.IsLinux()) await AssertGoneAsync([python]);
            Assert.Equal("2\n", (await py.RunAsync("1 + 1")).Output);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    /// <summary>Waits (up to 5 s) until none of <paramref name="pids"/> is a live process (gone, or a zombie).</summary>
    private static async Task AssertGoneAsync(int[] pids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var alive = pids.Where(IsAlive).ToArray();
            if (alive.Length == 0) return;
            if (DateTime.UtcNow > deadline) Assert.Fail($"still running: {string.Join(", ", alive)}");
            await Task.Delay(50);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[stat.LastIndexOf(')') + 2];
            return state != 'Z' && state != 'X';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
