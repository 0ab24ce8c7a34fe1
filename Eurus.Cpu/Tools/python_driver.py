# Eurus.Cpu's notebook driver: runs code cells sent by PythonInterpreter in one shared globals dict.
# Protocol (bytes): request "<n>\n" + n bytes of UTF-8 code; reply "<n>\n" + n bytes of UTF-8 JSON
# {"output": str, "error": bool, "truncated": bool}. The protocol uses private copies of fds 0/1; the cell sees no
# stdin and its writes to fd 1/2 from child processes go to /dev/null, so nothing it does can break the framing.
import ast, io, json, os, sys, traceback

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
MEMORY = int(sys.argv[2]) if len(sys.argv) > 2 else 0
if MEMORY > 0:
    import resource  # POSIX only; PythonInterpreter passes a limit only there
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))

proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
null_fd = os.open(os.devnull, os.O_RDWR)
os.dup2(null_fd, 0)
os.dup2(null_fd, 1)
sys.stdin = open(os.devnull, "r")


class Capped(io.TextIOBase):
    """Keeps the first LIMIT characters written and counts the rest (so a print loop cannot exhaust memory)."""

    def __init__(self):
        self.parts, self.size, self.truncated = [], 0, False

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str")
        room = LIMIT - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        if len(s) > max(room, 0):
            self.truncated = True
        return len(s)

    def value(self):
        return "".join(self.parts)


def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = proto_in.read(n - len(buf))
        if not chunk:
            sys.exit(0)
        buf += chunk
    return buf


def read_request():
    line = b""
    while not line.endswith(b"\n"):
        c = proto_in.read(1)
        if not c:
            sys.exit(0)
        line += c
    return read_exact(int(line)).decode("utf-8", "replace")


def run_cell(code, env, out):
    """Runs code like a notebook cell: a final expression's value is printed (its repr, unless None)."""
    tree = ast.parse(code, "<cell>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), env)
    if last is not None:
        value = eval(compile(last, "<cell>", "eval"), env)
        if value is not None:
            print(repr(value), file=out)


def main():
    env = {"__name__": "__main__", "__builtins__": __builtins__}
    while True:
        code = read_request()
        out = Capped()
        error = False
        sys.stdout = sys.stderr = out
        try:
            run_cell(code, env, out)
        except SystemExit:
            pass
        except BaseException as e:
            error = True
            if isinstance(e, SyntaxError):
                text = traceback.format_exception_only(type(e), e)
            else:
                tb = e.__traceback__
                while tb is not None and tb.tb_frame.f_code.co_filename != "<cell>":
                    tb = tb.tb_next
                text = traceback.format_exception(type(e), e, tb)
            out.write("".join(text))
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        reply = json.dumps({"output": out.value(), "error": error, "truncated": out.truncated}).encode("utf-8")
        proto_out.write(str(len(reply)).encode("ascii") + b"\n" + reply)


main()
