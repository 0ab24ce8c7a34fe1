# Eurus.Cpu's notebook driver: runs code cells sent by PythonInterpreter in one shared globals dict.
#
# argv: output cap (characters), then limits, 0 for none: address space (bytes), CPU time (s), file size (bytes),
#   processes (RLIMIT_NPROC above the user's current count; not set for root, which the kernel exempts anyway).
# Protocol (bytes) on private copies of fds 0/1 (fds 0/1 themselves become /dev/null, so the cell's prints, and the output
# of child processes, never reach the pipes by accident):
#   request: "<nonce> <n> <marker>\n" + n bytes of UTF-8 code. The nonce (32 hex digits) is fresh for every request; the
#            marker is "-" or 32 hex digits (CodeAnswer's sentinel).
#   reply:   "<nonce> <n>\n" + n bytes of ASCII JSON {"output": str, "error": bool, "truncated": bool,
#            "exit": int|null (the code of a SystemExit that ended the cell), "done": str|null (the request's marker,
#            only when the cell ran to its end: no exception, no SystemExit)}.
# The host checks the nonce, caps the length and validates the JSON; anything else makes it kill and restart us.
#
# The cell runs in this process, so nothing here is hidden from it (frames, gc, /proc/self/fd). What the code below does
# is not depend on anything a cell can rebind by name: the functions and types it uses are bound once, here, before any
# cell runs; the cell gets its own globals dict. Deliberate tampering with this process (frame or gc introspection,
# ctypes, writing to the protocol fd with the nonce) can still make a reply lie about the cell that did it.


def _driver():
    import ast, builtins, io, os, signal, sys, traceback
    from json.encoder import encode_basestring_ascii as quote

    argv = sys.argv[1:] + ["0"] * 6
    limit, max_as, max_cpu, max_fsize, max_nproc = (int(a) for a in argv[:5])

    # Bound now: a cell that rebinds builtins or module attributes does not change what the driver does.
    _exec, _eval, _compile, _isinstance, _len, _repr, _str, _int = exec, eval, compile, isinstance, len, repr, str, int
    _BaseException, _SystemExit, _SyntaxError, _OSError = BaseException, SystemExit, SyntaxError, OSError
    _ChildProcessError, _ValueError, _set, _range = ChildProcessError, ValueError, set, range
    _Expr, _Expression, ONLY_AST = ast.Expr, ast.Expression, ast.PyCF_ONLY_AST
    _read, _write, _kill, _getpid, _listdir, _open = os.read, os.write, os.kill, os.getpid, os.listdir, open
    posix = os.name == "posix"  # Windows: none of the process handling or limits below
    _waitpid, WNOHANG, SIGKILL, _exit = os.waitpid, getattr(os, "WNOHANG", 1), getattr(signal, "SIGKILL", 9), os._exit
    _settrace, _setprofile = sys.settrace, sys.setprofile
    _format_exception, _format_exception_only = traceback.format_exception, traceback.format_exception_only
    _sleep = __import__("time").sleep

    me = _getpid()
    # A session (and process group) of our own, so that the host can signal everything the cells start as one group.
    if posix:
        try:
            os.setsid()
        except _OSError:
            pass  # already a session leader (e.g. PID 1 of a container): same effect
    own_session = posix and os.getsid(0) == me
    have_proc = posix and os.path.isdir("/proc/self")
    # Linux: become a "child subreaper", so that orphaned descendants (double-forked daemons, even ones that call setsid)
    # are re-parented to us rather than to init, and stay findable as our descendants.
    subreaper = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            subreaper = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        except (_OSError, AttributeError, ImportError):
            pass

    try:
        import resource
    except ImportError:
        resource = None  # Windows: no rlimits
    if resource is not None:
        def cap(kind, soft, hard=None):
            try:
                resource.setrlimit(kind, (soft, soft if hard is None else hard))
            except (_OSError, _ValueError):
                pass
        cap(resource.RLIMIT_CORE, 0)
        if max_as > 0:
            cap(resource.RLIMIT_AS, max_as)
        if max_cpu > 0:
            cap(resource.RLIMIT_CPU, max_cpu, max_cpu + 5)  # SIGXCPU at the soft limit, SIGKILL 5 s later
        if max_fsize > 0:
            cap(resource.RLIMIT_FSIZE, max_fsize)
        if max_nproc > 0 and os.getuid() != 0 and have_proc:
            # RLIMIT_NPROC counts every task (process or thread) of the user, so the cap is relative to what runs now.
            uid, tasks = os.getuid(), 0
            for name in _listdir("/proc"):
                if name.isdigit():
                    try:
                        with _open("/proc/" + name + "/status") as f:
                            fields = dict(line.split(":", 1) for line in f if ":" in line)
                        if _int(fields["Uid"].split()[0]) == uid:
                            tasks += _int(fields["Threads"])
                    except (_OSError, KeyError, _ValueError):
                        pass
            cap(resource.RLIMIT_NPROC, tasks + max_nproc)

    proto_in, proto_out = os.dup(0), os.dup(1)
    null_fd = os.open(os.devnull, os.O_RDWR)
    os.dup2(null_fd, 0)
    os.dup2(null_fd, 1)
    sys.stdin = _open(os.devnull, "r")
    stdout0, stderr0 = sys.stdout, sys.stderr

    class Capped(io.TextIOBase):
        """Keeps the first `limit` characters written and counts the rest (so a print loop cannot exhaust memory)."""

        def __init__(self):
            self.parts, self.size, self.truncated = [], 0, False

        def writable(self):
            return True

        def write(self, s):
            if not _isinstance(s, _str):
                raise TypeError("write() argument must be str")
            room = limit - self.size
            if room > 0:
                self.parts.append(s[:room])
                self.size += min(_len(s), room)
            if _len(s) > max(room, 0):
                self.truncated = True
            return _len(s)

    def read_exact(n):
        buf = b""
        while _len(buf) < n:
            chunk = _read(proto_in, n - _len(buf))
            if not chunk:
                _exit(0)  # the host closed the pipe
            buf += chunk
        return buf

    def read_request():
        line = b""
        while not line.endswith(b"\n"):
            c = _read(proto_in, 1)
            if not c:
                _exit(0)
            line += c
        nonce, n, marker = line.decode("ascii").split()
        return nonce, read_exact(_int(n)).decode("utf-8", "replace"), None if marker == "-" else marker

    def write_all(data):
        view = memoryview(data)
        while view:
            view = view[_write(proto_out, view):]

    def run_cell(code, env, out):
        """Runs code like a notebook cell: a final expression's value is printed (its repr, unless None)."""
        tree = _compile(code, "<cell>", "exec", ONLY_AST)
        last = None
        if tree.body and _isinstance(tree.body[-1], _Expr):
            last = _Expression(tree.body.pop().value)
        _exec(_compile(tree, "<cell>", "exec"), env)
        if last is not None:
            value = _eval(_compile(last, "<cell>", "eval"), env)
            if value is not None:
                out.write(_repr(value) + "\n")

    def exit_code(e, out):
        """A SystemExit's status as the interpreter would exit with it; a message (sys.exit("…")) is printed."""
        try:
            code = e.code
            if code is None:
                return 0
            if _isinstance(code, _int):
                return code if -2**31 <= code < 2**31 else 1
            out.write(_str(code) + "\n")
        except _BaseException:
            pass
        return 1

    def reap():
        """Collects exited children; True when none is left at all."""
        while True:
            try:
                pid, _ = _waitpid(-1, WNOHANG)
            except _ChildProcessError:
                return True
            if pid == 0:
                return False

    def scan():
        """pid -> (state, ppid, pgrp, session) of every process in /proc."""
        procs = {}
        for name in _listdir("/proc"):
            if name.isdigit():
                try:
                    with _open("/proc/" + name + "/stat", "rb") as f:
                        data = f.read()
                    f = data[data.rindex(b")") + 2:].split()
                    procs[_int(name)] = (f[0], _int(f[1]), _int(f[2]), _int(f[3]))
                except (_OSError, _ValueError, IndexError):
                    pass
        return procs

    def leftovers(procs):
        """Every live process the cells started: our descendants, and members of our session."""
        children = {}
        for pid, (_, ppid, _, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        found, stack = _set(), [me]
        while stack:
            for c in children.get(stack.pop(), ()):
                if c not in found:
                    found.add(c)
                    stack.append(c)
        if own_session:
            found.update(pid for pid, p in procs.items() if p[3] == me)
        found.discard(me)
        return {pid for pid in found if procs[pid][0] not in (b"Z", b"X")}

    def end_processes():
        """Kills whatever the cell left running (background children, daemons) and reaps it (Linux; elsewhere reaps)."""
        if not posix:
            return
        if subreaper and reap():
            return  # no child at all, and orphans would have been re-parented to us: nothing is left
        if not have_proc:
            reap()  # macOS: the host kills the process group on timeout and Dispose
            return
        for _ in _range(100):  # a few rounds catch what was being forked while we looked
            procs = scan()
            targets = leftovers(procs)
            if not targets:
                break
            # Signals to a whole group reach a member that is forking at that moment too.
            for group in {procs[p][2] for p in targets if procs[p][2] in targets}:
                try:
                    _kill(-group, SIGKILL)
                except _OSError:
                    pass
            for pid in targets:
                try:
                    _kill(pid, SIGKILL)
                except _OSError:
                    pass
            reap()
        for _ in _range(1000):  # up to ~1 s for the killed to exit
            if reap():
                break
            _sleep(0.001)

    def main():
        env = {"__name__": "__main__", "__builtins__": builtins}
        while True:
            nonce, code, marker = read_request()
            out = Capped()
            error, status, done = False, None, None
            _settrace(None)  # tracing hooks left by an earlier cell could skip this cell's lines
            _setprofile(None)
            sys.stdout = sys.stderr = out
            try:
                run_cell(code, env, out)
                done = marker
            except _SystemExit as e:
                status = exit_code(e, out)
            except _BaseException as e:
                error = True
                try:
                    if _isinstance(e, _SyntaxError):
                        text = _format_exception_only(type(e), e)
                    else:
                        tb = e.__traceback__
                        while tb is not None and tb.tb_frame.f_code.co_filename != "<cell>":
                            tb = tb.tb_next
                        text = _format_exception(type(e), e, tb)
                    out.write("".join(text))
                except _BaseException:
                    out.write("(the exception could not be formatted)\n")
            finally:
                _settrace(None)
                _setprofile(None)
                sys.stdout, sys.stderr = stdout0, stderr0
            end_processes()
            # Lone surrogates cannot travel as JSON text: replaced, like undecodable bytes are.
            text = "".join(out.parts).encode("utf-8", "replace").decode("utf-8")
            reply = ('{"output": ' + quote(text) + ', "error": ' + ("true" if error else "false") +
                     ', "truncated": ' + ("true" if out.truncated else "false") +
                     ', "exit": ' + ("null" if status is None else _str(status)) +
                     ', "done": ' + ("null" if done is None else quote(done)) + "}").encode("ascii")
            write_all((nonce + " " + _str(_len(reply)) + "\n").encode("ascii") + reply)

    main()


_driver()
