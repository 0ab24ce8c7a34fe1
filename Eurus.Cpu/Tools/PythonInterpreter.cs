using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
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
/// <b>Unsafe by nature:</b> the code runs with this process's user rights (files, network, other processes). This is
/// not a sandbox; run model-written code only if you accept that, ideally inside a container or VM.
/// Cells run one at a time; the class is thread-safe.
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

    /// <summary>How many times the process was killed (timeout, cancellation) or died and had to be restarted.</summary>
    public int Restarts { get; private set; }

    /// <summary>
    /// Runs <paramref name="code"/> as the next cell. A final expression's value is printed, as in a notebook.
    /// Throws <see cref="PythonUnavailableException"/> when Python cannot be started.
    /// </summary>
    public async Task<ExecutionResult> RunAsync(string code, CancellationToken cancellationToken = default)
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
            if (!await SendAsync(process, code, cancellationToken).ConfigureAwait(false)) return Died(sw.Elapsed);

            var read = ReadReplyAsync(process.StandardOutput.BaseStream);
            var timeout = Task.Delay(_options.Timeout, cancellationToken);
            if (await Task.WhenAny(read, timeout).ConfigureAwait(false) != read)
            {
                Kill();
                cancellationToken.ThrowIfCancellationRequested();
                return new ExecutionResult("", Failed: true, TimedOut: true, Truncated: false, sw.Elapsed);
            }
            byte[]? reply = await read.ConfigureAwait(false);
            if (reply is null) return Died(sw.Elapsed);
            using var json = JsonDocument.Parse(reply);
            var root = json.RootElement;
            return new ExecutionResult(root.GetProperty("output").GetString() ?? "", root.GetProperty("error").GetBoolean(),
                TimedOut: false, root.GetProperty("truncated").GetBoolean(), sw.Elapsed);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task<bool> SendAsync(Process process, string code, CancellationToken ct)
    {
        byte[] body = Encoding.UTF8.GetBytes(code);
        try
        {
            var stdin = process.StandardInput.BaseStream;
            await stdin.WriteAsync(Encoding.ASCII.GetBytes(body.Length.ToString(CultureInfo.InvariantCulture) + "\n"), ct).ConfigureAwait(false);
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
        if (await SendAsync(process, "", ct).ConfigureAwait(false))
        {
            var read = ReadReplyAsync(process.StandardOutput.BaseStream);
            if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(30), ct)).ConfigureAwait(false) == read)
                reply = await read.ConfigureAwait(false);
        }
        if (reply is not null) return;
        // The no-argument WaitForExit also waits for the asynchronous stderr reader to drain.
        if (process.WaitForExit(2000)) process.WaitForExit();
        string exit = process.HasExited ? $"exit code {process.ExitCode}" : "no answer";
        string err;
        lock (_stderr) err = _stderr.ToString().Trim();
        Kill(restart: false);
        ct.ThrowIfCancellationRequested();
        throw new PythonUnavailableException($"'{_options.PythonPath}' started but is not a working Python 3 ({exit})" +
                                             (err.Length > 0 ? ": " + err : ".") + " Install Python 3 or set PythonOptions.PythonPath.");
    }

    /// <summary>Reads "&lt;n&gt;\n" and n bytes; null at end of stream (the process died).</summary>
    private static async Task<byte[]?> ReadReplyAsync(Stream s)
    {
        var header = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await s.ReadAsync(one).ConfigureAwait(false) == 0) return null;
            if (one[0] == (byte)'\n') break;
            header.Add(one[0]);
            if (header.Count > 20) throw new InvalidOperationException("The Python driver sent a malformed reply header.");
        }
        int n = int.Parse(Encoding.ASCII.GetString(header.ToArray()), CultureInfo.InvariantCulture);
        var body = new byte[n];
        int got = 0;
        while (got < n)
        {
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
        var psi = new ProcessStartInfo(_options.PythonPath)
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        psi.ArgumentList.Add("-u");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(DriverSource.Value);
        psi.ArgumentList.Add(_options.MaxOutputChars.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add((_options.MaxMemoryBytes ?? 0).ToString(CultureInfo.InvariantCulture));
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        psi.Environment["PYTHONHASHSEED"] = "0";
        lock (_stderr) _stderr.Clear();
        Process? p;
        try
        {
            p = Process.Start(psi);
        }
        catch (Win32Exception e)
        {
            throw new PythonUnavailableException(
                $"Python 3 is needed to run code but '{_options.PythonPath}' could not be started ({e.Message}). " +
                "Install Python 3 (e.g. 'apt-get install python3') or set PythonOptions.PythonPath.", e);
        }
        if (p is null) throw new PythonUnavailableException($"Could not start '{_options.PythonPath}'.");
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) if (_stderr.Length < 4000) _stderr.AppendLine(e.Data);
        };
        p.BeginErrorReadLine();
        return p;
    }

    private void Kill(bool restart = true)
    {
        var p = _process;
        _process = null;
        if (p is null) return;
        if (restart) Restarts++;
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } catch (Win32Exception) { }
        try { p.WaitForExit(2000); } catch (InvalidOperationException) { }
        p.Dispose();
    }

    /// <summary>Stops the process and deletes the temporary working directory (if this interpreter created it).</summary>
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
