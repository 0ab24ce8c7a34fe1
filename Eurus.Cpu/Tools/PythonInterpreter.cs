using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Eurus.Cpu.Tools;

/// <summary>
/// A persistent Python 3 process that runs code cells in one shared namespace, like a Jupyter notebook: variables
/// defined by one cell are visible to the next. Each cell has a wall-clock limit (on timeout the process is killed and
/// restarted, so the state is lost — the result says so), its output is capped, it runs in a temporary working
/// directory and gets no stdin.
/// </summary>
/// <remarks>
/// <para><b>This is code execution on your machine, not a sandbox.</b> The code runs as your user: it can read and write
/// whatever you can (your files, other processes' memory and <c>/proc/&lt;pid&gt;/environ</c> of processes of the same
/// user, this process's included), use the network, and run programs. Run model-written code only if you accept that,
/// ideally through <see cref="PythonOptions.Launcher"/> in a container, jail or VM.</para>
/// <para>What it does guarantee (Linux; macOS where noted): the interpreter starts as <c>python3 -I</c> (isolated mode:
/// no PYTHON* variables, no user site-packages, neither the script's nor the working directory on <c>sys.path</c>) with
/// a scrubbed environment — only PATH, LANG, and HOME and TMPDIR set to the working directory, nothing else of this
/// process's environment (tokens, keys; a <see cref="PythonOptions.PythonPath"/> that is a wrapper script, such as a
/// pyenv shim, may add variables of its own); the resource limits of <see cref="PythonOptions"/> (address space, CPU time,
/// file size, processes; no core dumps; Linux and macOS); its own session and process group, and on Linux it is a child
/// subreaper, so processes a cell starts (background children, double-forked daemons, also ones that call
/// <c>setsid</c>) are killed when the cell ends, and the whole tree on timeout, past
/// <see cref="PythonOptions.MaxProcesses"/>, and on <see cref="Dispose"/> (macOS: the process group on timeout and
/// Dispose only). Replies are framed with a fresh random nonce per cell and bounded: a reply whose header, length
/// (at most about 12 bytes per output character) or JSON is wrong — say a cell wrote to the protocol pipe — kills and
/// restarts the interpreter and is reported as a failure; the host never allocates more than that bound.</para>
/// <para>What it cannot guarantee: the cell runs inside the driver's process, so it can read the driver's memory,
/// including the current nonce, and write a well-formed reply of its own; such a cell can only lie about its own result
/// (output, error, exit). Processes started outside the process tree (asked of a system service, <c>ssh</c>,
/// <c>docker</c>, …) are not found; threads a cell starts keep running until the process ends; root ignores
/// <c>RLIMIT_NPROC</c> and may raise the other limits, so a fork bomb run as root is bounded only by the 100 ms
/// <see cref="PythonOptions.MaxProcesses"/> check; string hashing is randomized per process (isolated mode ignores
/// PYTHONHASHSEED), so the order of a printed set of strings may differ between runs, as with a plain <c>python3</c>.</para>
/// <para>Cells run one at a time; the class is thread-safe.</para>
/// </remarks>
public sealed class PythonInterpreter : IDisposable
{
    private static readonly Lazy<string> DriverSource = new(() =>
    {
        using var s = typeof(PythonInterpreter).Assembly.GetManifestResourceStream("Eurus.Cpu.Tools.python_driver.py")
                      ?? throw new InvalidOperationException("The embedded Python driver is missing from Eurus.Cpu.dll.");
        using var r = new StreamReader(s, Encoding.UTF8);
        return r.ReadToEnd();
    });

    private static readonly TimeSpan ProcessCheckInterval = TimeSpan.FromMilliseconds(100);
    private readonly PythonOptions _options;
    private readonly bool _ownsDirectory;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Process? _process;
    private readonly StringBuilder _stderr = new();
    private bool _disposed;

    /// <summary>Creates the interpreter; the Python process starts with the first cell.</summary>
    public PythonInterpreter(PythonOptions? options = null)
    {
        _options = options ?? new PythonOptions();
        _options.Validate();
        if (_options.WorkingDirectory is { } dir)
        {
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Python working directory not found: {dir}");
            WorkingDirectory = dir;
        }
        else
        {
            WorkingDirectory = Directory.CreateTempSubdirectory("eurus-python-").FullName;
            _ownsDirectory = true;
        }
    }

    /// <summary>The directory the code runs in.</summary>
    public string WorkingDirectory { get; }

    /// <summary>
    /// How many times the process was killed (timeout, cancellation, too many processes, a malformed reply) or died and
    /// had to be restarted.
    /// </summary>
    public int Restarts { get; private set; }

    /// <summary>
    /// Runs <paramref name="code"/> as the next cell. A final expression's value is printed, as in a notebook. A
    /// <c>SystemExit</c> (<c>sys.exit()</c>) ends the cell without failing it and keeps the state.
    /// Throws <see cref="PythonUnavailableException"/> when Python cannot be started.
    /// </summary>
    public async Task<ExecutionResult> RunAsync(string code, CancellationToken cancellationToken = default) =>
        (await RunCellAsync(code, null, cancellationToken).ConfigureAwait(false)).Result;

    /// <summary>What one cell gave, with what <see cref="RunAsync"/> does not show.</summary>
    /// <param name="Result">The result as <see cref="RunAsync"/> returns it.</param>
    /// <param name="ExitCode">The status of the <c>SystemExit</c> that ended the cell (0 for <c>sys.exit()</c>), else null.</param>
    /// <param name="Completed">The driver echoed the marker: the cell ran to its end, without exception or SystemExit.</param>
    internal readonly record struct Cell(ExecutionResult Result, int? ExitCode, bool Completed);

    /// <summary>A fresh random token (32 lowercase hex digits): request nonces and <see cref="Grading.CodeAnswer"/>'s sentinels.</summary>
    internal static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>
    /// Runs a cell; with a <paramref name="marker"/> (from <see cref="NewToken"/>), <see cref="Cell.Completed"/> says
    /// whether the driver saw the cell run to its end. The marker is sent with this cell only.
    /// </summary>
    internal async Task<Cell> RunCellAsync(string code, string? marker, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(code);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_process is null)
            {
                _process = Start();
                await HandshakeAsync(cancellationToken).ConfigureAwait(false);
            }
            var process = _process;
            var sw = Stopwatch.StartNew();
            string nonce = NewToken();
            if (!await SendAsync(process, nonce, code, marker, cancellationToken).ConfigureAwait(false)) return new Cell(Died(sw.Elapsed), null, false);

            var read = ReadReplyAsync(process.StandardOutput.BaseStream, nonce, MaxReplyBytes);
            using var timers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var timeout = Task.Delay(_options.Timeout, timers.Token);
            bool watch = _options.MaxProcesses is not null && OperatingSystem.IsLinux();
            try
            {
                while (true)
                {
                    var tick = watch ? Task.Delay(ProcessCheckInterval, timers.Token) : Task.Delay(Timeout.Infinite, timers.Token);
                    var first = await Task.WhenAny(read, timeout, tick).ConfigureAwait(false);
                    if (first == read) break;
                    if (first == timeout || cancellationToken.IsCancellationRequested)
                    {
                        Kill();
                        cancellationToken.ThrowIfCancellationRequested();
                        return new Cell(new ExecutionResult("", Failed: true, TimedOut: true, Truncated: false, sw.Elapsed), null, false);
                    }
                    int count = ProcessTree.Count(process);
                    if (count > _options.MaxProcesses)
                    {
                        Kill();
                        return new Cell(new ExecutionResult(
                            $"The code started more than {_options.MaxProcesses} processes ({count}); they and the Python process were killed, " +
                            "it was restarted and its variables are gone.", Failed: true, TimedOut: false, Truncated: false, sw.Elapsed), null, false);
                    }
                }
            }
            finally
            {
                timers.Cancel(); // releases the pending delays
            }
            Reply? reply;
            try
            {
                var body = await read.ConfigureAwait(false);
                if (body is null) return new Cell(Died(sw.Elapsed), null, false);
                reply = Parse(body);
            }
            catch (MalformedReplyException)
            {
                reply = null;
            }
            if (reply is not { } r)
            {
                Kill();
                return new Cell(new ExecutionResult(
                    "The Python process sent a malformed reply (did the code write to the interpreter's own pipe?); " +
                    "it was killed and restarted and its variables are gone.", Failed: true, TimedOut: false, Truncated: false, sw.Elapsed), null, false);
            }
            return new Cell(new ExecutionResult(r.Output, r.Error, TimedOut: false, r.Truncated, sw.Elapsed), r.Exit,
                marker is not null && r.Done == marker);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The longest reply accepted: JSON escapes a character in at most 6 bytes and the driver counts code points, which
    /// take up to two UTF-16 escapes (12 bytes), plus the fixed fields.
    /// </summary>
    private long MaxReplyBytes => 12L * _options.MaxOutputChars + 1024;

    private readonly record struct Reply(string Output, bool Error, bool Truncated, int? Exit, string? Done);

    private sealed class MalformedReplyException() : Exception("malformed reply");

    /// <summary>Checks every field of the reply's JSON; anything unexpected throws <see cref="MalformedReplyException"/>.</summary>
    private Reply Parse(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new MalformedReplyException();
            string output = root.GetProperty("output").GetString() ?? throw new MalformedReplyException();
            if (output.Length > 2L * _options.MaxOutputChars) throw new MalformedReplyException();
            var exit = root.GetProperty("exit");
            var done = root.GetProperty("done");
            return new Reply(output, root.GetProperty("error").GetBoolean(), root.GetProperty("truncated").GetBoolean(),
                exit.ValueKind == JsonValueKind.Null ? null : exit.GetInt32(),
                done.ValueKind == JsonValueKind.Null ? null : done.GetString());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
        {
            throw new MalformedReplyException();
        }
    }

    private static async Task<bool> SendAsync(Process process, string nonce, string code, string? marker, CancellationToken ct)
    {
        byte[] body = Encoding.UTF8.GetBytes(code);
        try
        {
            var stdin = process.StandardInput.BaseStream;
            string header = string.Create(CultureInfo.InvariantCulture, $"{nonce} {body.Length} {marker ?? "-"}\n");
            await stdin.WriteAsync(Encoding.ASCII.GetBytes(header), ct).ConfigureAwait(false);
            await stdin.WriteAsync(body, ct).ConfigureAwait(false);
            await stdin.FlushAsync(ct).ConfigureAwait(false);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs an empty cell right after start, so that an executable that is not a working Python 3 (a pyenv shim without
    /// a version, Python 2, …) is reported as such rather than as a failure of the model's code.
    /// </summary>
    private async Task HandshakeAsync(CancellationToken ct)
    {
        var process = _process!;
        byte[]? reply = null;
        string nonce = NewToken();
        if (await SendAsync(process, nonce, "", null, ct).ConfigureAwait(false))
        {
            var read = ReadReplyAsync(process.StandardOutput.BaseStream, nonce, MaxReplyBytes);
            if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(30), ct)).ConfigureAwait(false) == read)
            {
                try
                {
                    reply = await read.ConfigureAwait(false);
                    if (reply is not null) Parse(reply);
                }
                catch (MalformedReplyException)
                {
                    reply = null;
                }
            }
        }
        if (reply is not null) return;
        // The no-argument WaitForExit also waits for the asynchronous stderr reader to drain.
        if (process.WaitForExit(2000)) process.WaitForExit();
        string exit = process.HasExited ? $"exit code {process.ExitCode}" : "no answer";
        string err;
        lock (_stderr) err = _stderr.ToString().Trim();
        Kill(restart: false);
        ct.ThrowIfCancellationRequested();
        string what = _options.Launcher is { } l ? $"'{l[0]} … {_options.PythonPath}'" : $"'{_options.PythonPath}'";
        throw new PythonUnavailableException($"{what} started but is not a working Python 3 ({exit})" +
                                             (err.Length > 0 ? ": " + err : ".") + " Install Python 3 or set PythonOptions.PythonPath.");
    }

    /// <summary>
    /// Reads "&lt;nonce&gt; &lt;n&gt;\n" and n bytes; null at end of stream (the process died). A header that is not
    /// exactly that, for this request's nonce, with n ≤ <paramref name="maxBytes"/>, throws
    /// <see cref="MalformedReplyException"/>; the body buffer grows with what actually arrives.
    /// </summary>
    private static async Task<byte[]?> ReadReplyAsync(Stream s, string nonce, long maxBytes)
    {
        var header = new byte[64];
        int used = 0;
        var one = new byte[1];
        while (true)
        {
            if (await s.ReadAsync(one).ConfigureAwait(false) == 0) return null;
            if (one[0] == (byte)'\n') break;
            if (used == header.Length) throw new MalformedReplyException();
            header[used++] = one[0];
        }
        var text = header.AsSpan(0, used);
        int space = text.IndexOf((byte)' ');
        if (space < 0 || !text[..space].SequenceEqual(Encoding.ASCII.GetBytes(nonce))) throw new MalformedReplyException();
        var digits = text[(space + 1)..];
        if (digits.Length is 0 or > 12 || digits.ContainsAnyExceptInRange((byte)'0', (byte)'9')) throw new MalformedReplyException();
        long n = long.Parse(Encoding.ASCII.GetString(digits), NumberStyles.None, CultureInfo.InvariantCulture);
        if (n > maxBytes) throw new MalformedReplyException();
        var body = new byte[(int)Math.Min(n, 1 << 16)];
        int got = 0;
        while (got < n)
        {
            if (got == body.Length) Array.Resize(ref body, (int)Math.Min(n, 2L * body.Length));
            int r = await s.ReadAsync(body.AsMemory(got)).ConfigureAwait(false);
            if (r == 0) return null;
            got += r;
        }
        return body;
    }

    private ExecutionResult Died(TimeSpan elapsed)
    {
        var p = _process;
        if (p is not null && p.WaitForExit(2000)) p.WaitForExit(); // lets the stderr reader drain
        string code = p is { HasExited: true } ? p.ExitCode.ToString(CultureInfo.InvariantCulture) : "?";
        string err;
        lock (_stderr) err = _stderr.ToString().Trim();
        Kill();
        string message = $"The Python process exited (code {code}); it was restarted and its variables are gone." + (err.Length > 0 ? "\n" + err : "");
        return new ExecutionResult(message, Failed: true, TimedOut: false, Truncated: false, elapsed);
    }

    private Process Start()
    {
        var launcher = _options.Launcher;
        string file = launcher is null ? _options.PythonPath : launcher[0];
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        if (launcher is not null)
        {
            for (int i = 1; i < launcher.Count; i++) psi.ArgumentList.Add(launcher[i].Replace("{WorkingDirectory}", WorkingDirectory, StringComparison.Ordinal));
            psi.ArgumentList.Add(_options.PythonPath);
        }
        // Isolated mode (no PYTHON* variables, user site-packages or script directory on sys.path), no .pyc files
        // written (PYTHONDONTWRITEBYTECODE is ignored in isolated mode), unbuffered.
        psi.ArgumentList.Add("-I");
        psi.ArgumentList.Add("-B");
        psi.ArgumentList.Add("-u");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(DriverSource.Value);
        psi.ArgumentList.Add(_options.MaxOutputChars.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add((_options.MaxMemoryBytes ?? 0).ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(((long)Math.Ceiling(_options.MaxCpuTime?.TotalSeconds ?? 0)).ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add((_options.MaxFileBytes ?? 0).ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add((_options.MaxProcesses ?? 0).ToString(CultureInfo.InvariantCulture));
        ScrubEnvironment(psi.Environment, WorkingDirectory);
        lock (_stderr) _stderr.Clear();
        Process? p;
        try
        {
            p = Process.Start(psi);
        }
        catch (Win32Exception e)
        {
            throw new PythonUnavailableException(
                $"Python 3 is needed to run code but '{file}' could not be started ({e.Message}). " +
                "Install Python 3 (e.g. 'apt-get install python3') or set PythonOptions.PythonPath.", e);
        }
        if (p is null) throw new PythonUnavailableException($"Could not start '{file}'.");
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) if (_stderr.Length < 4000) _stderr.AppendLine(e.Data);
        };
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>
    /// Nothing of this process's environment but PATH and LANG (C.UTF-8 when unset); HOME and TMPDIR are the working
    /// directory. Windows also keeps SYSTEMROOT, without which Python cannot start, and sets TEMP/TMP/USERPROFILE.
    /// </summary>
    private static void ScrubEnvironment(IDictionary<string, string?> env, string workingDirectory)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        string? lang = Environment.GetEnvironmentVariable("LANG");
        string? systemRoot = Environment.GetEnvironmentVariable("SYSTEMROOT");
        env.Clear();
        env["PATH"] = path ?? (OperatingSystem.IsWindows() ? "" : "/usr/local/bin:/usr/bin:/bin");
        env["LANG"] = string.IsNullOrEmpty(lang) ? "C.UTF-8" : lang;
        env["HOME"] = workingDirectory;
        env["TMPDIR"] = workingDirectory;
        if (OperatingSystem.IsWindows())
        {
            if (systemRoot is not null) env["SYSTEMROOT"] = systemRoot;
            env["TEMP"] = env["TMP"] = env["USERPROFILE"] = workingDirectory;
        }
    }

    private void Kill(bool restart = true)
    {
        var p = _process;
        _process = null;
        if (p is null) return;
        if (restart) Restarts++;
        ProcessTree.KillAll(p);
        try { p.WaitForExit(2000); } catch (InvalidOperationException) { }
        p.Dispose();
    }

    /// <summary>
    /// Stops the process and everything it started, and deletes the temporary working directory (if this interpreter
    /// created it).
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Kill(restart: false);
        if (_ownsDirectory)
        {
            try { Directory.Delete(WorkingDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        _gate.Dispose();
    }
}
