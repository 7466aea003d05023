"""The program the code verifier runs in its two sandboxed processes, one for the solution, one for the tests.

It runs on the standard library alone, started as ``python -I -S -X utf8 -c SOURCE ROLE ...``:

- ``solution CODE_PATH READ_FD WRITE_FD MEMORY_MB CPU_S`` loads the solution, then answers the tests'
  requests until the tests' process goes away;
- ``tests TESTS_PATH READ_FD WRITE_FD REPORT_FD MEMORY_MB CPU_S`` runs the tests against stand-ins
  (proxies) for the solution's names and writes the verdict to REPORT_FD, a pipe that only this
  process holds, so nothing the solution prints, returns or does can write the verdict.

The two processes talk over two pipes in length-prefixed `marshal` frames: a small object RPC in the
manner of RPyC's "netrefs". RPyC itself is not used because this verifier needs the opposite of its
transparency: values cross as plain data (None, bool, int, float, complex, str, bytes, tuples, lists,
dicts, sets, and Fraction, Decimal, date/time, range, deque rebuilt from their fields), and only
objects of other types stay behind as proxies whose comparisons are type-checked in the tests'
process. An object that claims equality with everything is therefore never asked: a proxy equals
only objects of its own class (and then the solution's `__eq__` decides), and an object of a class
derived from a built-in type is compared through its built-in value. Arithmetic between a proxy
and a test value that yields plain data is refused, which closes `abs(f(x) - y) < tol` to an object
whose `__sub__` returns 0.

Calls go both ways (a test may pass a lambda or its own object to the solution), with thread
affinity: a request made while serving the peer's request goes to the thread waiting on it. The
tests' process serves the solution only calls, public attributes and data-model operations on
objects the tests handed over, and the solution's input() reads the tests' sys.stdin; the solution's
printed output is replayed into the tests' sys.stdout and sys.stderr. Arguments are copied, and a
change the solution makes to a list, dict, set or bytearray argument is copied back when the call
returns.
"""

from __future__ import annotations

import builtins
import io
import itertools
import marshal
import math
import operator
import os
import queue
import resource
import struct
import sys
import threading
import types

SOLUTION_FILE = "solution.py"
TESTS_FILE = "tests.py"
FILE_SIZE_LIMIT = 16 * 1024 * 1024
MAX_FRAME = 256 * 1024 * 1024
MAX_DEPTH = 200
MAX_NOTES = 5
_HEADER = struct.Struct("!I")
SOURCES: dict[str, str] = {}  # file name -> source, shown in tracebacks (linecache is imported only then)

BLOCKED_EVENTS = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "pty.spawn", "ctypes.")

_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes, type(Ellipsis)})
_CONTAINERS = {list: "l", tuple: "t", set: "s", frozenset: "f"}
_BUILDERS = {"l": list, "t": tuple, "s": set, "f": frozenset}
_VALUE_BASES = (int, float, complex, str, bytes, bytearray, tuple, list, dict, set, frozenset)
_MUTABLE = (list, dict, set, bytearray)


class ProtocolError(Exception):
    """The peer sent something this side does not accept."""


class PeerClosed(BaseException):
    """The peer's process ended (or broke the protocol) while this side waited on it."""


class SolutionAbort(BaseException):
    """The solution raised SystemExit, KeyboardInterrupt or another non-Exception during the tests."""


# ---------------------------------------------------------------- process set-up


def limit_resources(memory_mb: int, cpu_s: int) -> None:
    """Address space, CPU seconds, file size and core dumps; hard limits, so the code cannot raise them."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _guard(event: str, args: tuple) -> None:
    if event.startswith(BLOCKED_EVENTS):
        raise PermissionError(f"the code verifier does not allow {event}")


def _exit(code: object = None) -> None:
    raise SystemExit(code)


def prepare_process(memory_mb: int, cpu_s: int) -> None:
    """Limits, the audit hook, and the exit()/quit() builtins that `site` (not loaded here, -S) would add."""
    limit_resources(memory_mb, cpu_s)
    sys.addaudithook(_guard)
    builtins.exit = builtins.quit = _exit


def read_source(path: str, filename: str) -> str:
    with open(path, encoding="utf-8") as handle:
        SOURCES[filename] = handle.read()
    return SOURCES[filename]


def show_sources() -> None:
    """Let tracebacks quote the solution's and the tests' lines."""
    import linecache

    for filename, source in SOURCES.items():
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def format_error(exc: BaseException, filename: str, frames: int = 4) -> str:
    """The exception with the last few lines of `filename` it passed through, without harness frames."""
    import traceback

    show_sources()
    error = traceback.TracebackException.from_exception(exc)
    lines = [f"  {filename}, line {f.lineno}, in {f.name}: {(f.line or '').strip()}"
             for f in error.stack if f.filename == filename][-frames:]
    lines += [line.rstrip("\n") for line in error.format_exception_only()]
    if isinstance(exc, ModuleNotFoundError):
        lines.append("Note: the solution and the tests run on the standard library only.")
    return "\n".join(lines)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- plain data


def is_plain(value: object, depth: int = 0) -> bool:
    """Exact built-in scalars and containers all the way down (no subclasses, no buffers)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > MAX_DEPTH:
        return False
    if kind is dict:
        return all(is_plain(k, depth + 1) and is_plain(v, depth + 1) for k, v in value.items())
    if kind in _CONTAINERS:
        return all(is_plain(item, depth + 1) for item in value)
    return False


def builtin_value(value: object) -> object:
    """The built-in value inside an object of a class derived from a built-in type, read past any override."""
    for base in type(value).__mro__:
        if base is int:
            return int.__int__(value)
        if base is float:
            return float.__float__(value)
        if base is complex:
            return complex.__complex__(value)
        if base is str:
            return str.__str__(value)
        if base is bytes:
            return bytes.__bytes__(value)
        if base is bytearray:
            return bytearray(bytearray.__iter__(value))
        if base in (tuple, list, set, frozenset):
            return base(base.__iter__(value))
        if base is dict:
            return dict(dict.items(value))
    raise TypeError(f"{type(value).__name__} is not derived from a built-in value type")


def _value_base(cls: type) -> str | None:
    for base in cls.__mro__:
        if base in _VALUE_BASES:
            return base.__name__
    return None


def _std_encode(value: object) -> tuple[str, object] | None:
    """Standard-library value types that cross as their fields (exact types only)."""
    kind = type(value)
    key = (getattr(kind, "__module__", None), getattr(kind, "__qualname__", None))
    if key == ("fractions", "Fraction"):
        return "fraction", [value.numerator, value.denominator]
    if key == ("decimal", "Decimal"):
        return "decimal", str(value)
    if key == ("datetime", "date"):
        return "date", value.isoformat()
    if key == ("datetime", "datetime") and (value.tzinfo is None or type(value.tzinfo).__name__ == "timezone"):
        return "datetime", value.isoformat()
    if key == ("datetime", "time") and value.tzinfo is None:
        return "time", value.isoformat()
    if key == ("datetime", "timedelta"):
        return "timedelta", [value.days, value.seconds, value.microseconds]
    if kind is range:
        return "range", [value.start, value.stop, value.step]
    if key == ("collections", "deque"):
        return "deque", [list(value), value.maxlen]
    if kind is type({}.keys()):
        return "dict_keys", list(value)
    if kind is type({}.values()):
        return "dict_values", list(value)
    if kind is type({}.items()):
        return "dict_items", list(value)
    return None


def _expect(value: object, *kinds: type) -> object:
    if type(value) not in kinds:
        raise ProtocolError(f"expected {' or '.join(k.__name__ for k in kinds)}, got {type(value).__name__}")
    return value


def _std_decode(kind: str, payload: object) -> object:
    if kind == "fraction":
        import fractions

        numerator, denominator = _expect(payload, list)
        return fractions.Fraction(_expect(numerator, int), _expect(denominator, int))
    if kind == "decimal":
        import decimal

        return decimal.Decimal(_expect(payload, str))
    if kind in ("date", "datetime", "time"):
        import datetime

        return getattr(datetime, kind).fromisoformat(_expect(payload, str))
    if kind == "timedelta":
        import datetime

        days, seconds, micro = (_expect(v, int) for v in _expect(payload, list))
        return datetime.timedelta(days, seconds, micro)
    if kind == "range":
        return range(*(_expect(v, int) for v in _expect(payload, list)))
    if kind == "deque":
        import collections

        items, maxlen = _expect(payload, list)
        return collections.deque(_expect(items, list), _expect(maxlen, int, type(None)))
    if kind == "dict_keys":
        return dict.fromkeys(_expect(payload, list)).keys()
    if kind == "dict_values":
        return dict(enumerate(_expect(payload, list))).values()
    if kind == "dict_items":
        return dict(_expect(item, tuple) for item in _expect(payload, list)).items()
    raise ProtocolError(f"unknown value kind {kind!r}")


def update_in_place(old: object, new: object) -> None:
    """Make a list, dict, set or bytearray equal to `new` while keeping its identity (and its nested ones)."""
    if type(old) is list and type(new) is list and len(old) == len(new):
        for index, (was, now) in enumerate(zip(old, new, strict=True)):
            if type(was) is type(now) and type(was) in _MUTABLE:
                update_in_place(was, now)
            elif was is not now:
                old[index] = now
    elif type(old) is dict and type(new) is dict and list(old) == list(new):
        for key, now in new.items():
            was = old[key]
            if type(was) is type(now) and type(was) in _MUTABLE:
                update_in_place(was, now)
            elif was is not now:
                old[key] = now
    elif type(old) is dict:
        old.clear()
        old.update(new)
    elif type(old) is set:
        old.clear()
        old.update(new)
    else:
        old[:] = new


# ---------------------------------------------------------------- proxies


def _request(proxy: Proxy, op: str, *args: object, **kwargs: object) -> object:
    return object.__getattribute__(proxy, "_wb_peer").request(op, (proxy, *args), kwargs)


class Proxy:
    """Stands for an object that lives in the other process; every use is a request to it."""

    __slots__ = ("_wb_peer", "_wb_id", "__weakref__")

    def __getattr__(self, name: str) -> object:
        if name.startswith("_wb_"):
            raise AttributeError(name)
        return _request(self, "getattr", name)

    def __setattr__(self, name: str, value: object) -> None:
        _request(self, "setattr", name, value)

    def __delattr__(self, name: str) -> None:
        _request(self, "delattr", name)

    def __call__(self, *args: object, **kwargs: object) -> object:
        return _request(self, "call", *args, **kwargs)

    def __repr__(self) -> str:
        try:
            return str(_request(self, "repr"))
        except Exception:
            return f"<{type(self).__qualname__} object>"

    def __str__(self) -> str:
        return _request(self, "str")

    def __format__(self, spec: str) -> str:
        return _request(self, "format", spec)

    def __bool__(self) -> bool:
        return _request(self, "bool")

    def __len__(self) -> int:
        return _request(self, "len")

    def __iter__(self) -> object:
        return _request(self, "iter")

    def __next__(self) -> object:
        return _request(self, "next")

    def __reversed__(self) -> object:
        return _request(self, "reversed")

    def __contains__(self, item: object) -> bool:
        return _request(self, "contains", item)

    def __getitem__(self, key: object) -> object:
        return _request(self, "getitem", key)

    def __setitem__(self, key: object, value: object) -> None:
        _request(self, "setitem", key, value)

    def __delitem__(self, key: object) -> None:
        _request(self, "delitem", key)

    def __hash__(self) -> int:
        return _request(self, "hash")

    def __dir__(self) -> list[str]:
        return _request(self, "dir")

    def __enter__(self) -> object:
        return _request(self, "enter")

    def __exit__(self, *exc_info: object) -> object:
        return _request(self, "exit", *exc_info)

    def __eq__(self, other: object) -> object:
        return object.__getattribute__(self, "_wb_peer").compare("eq", self, other)

    def __ne__(self, other: object) -> object:
        return object.__getattribute__(self, "_wb_peer").compare("ne", self, other)

    def __lt__(self, other: object) -> object:
        return object.__getattribute__(self, "_wb_peer").compare("lt", self, other)

    def __le__(self, other: object) -> object:
        return object.__getattribute__(self, "_wb_peer").compare("le", self, other)

    def __gt__(self, other: object) -> object:
        return object.__getattribute__(self, "_wb_peer").compare("gt", self, other)

    def __ge__(self, other: object) -> object:
        return object.__getattribute__(self, "_wb_peer").compare("ge", self, other)


def _unary(op: str):
    def method(self: Proxy, *args: object) -> object:
        return _request(self, op, *args)

    method.__name__ = f"__{op}__"
    return method


def _binary(op: str, reflected: bool):
    def method(self: Proxy, other: object) -> object:
        return object.__getattribute__(self, "_wb_peer").arithmetic(op, self, other, reflected)

    method.__name__ = f"__{'r' if reflected else ''}{op}__"
    return method


for _op in ("abs", "neg", "pos", "invert", "index", "int", "float", "complex", "round", "trunc", "floor", "ceil"):
    setattr(Proxy, f"__{_op}__", _unary(_op))
for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lshift", "rshift", "and", "or",
            "xor", "divmod"):
    setattr(Proxy, f"__{_op}__", _binary(_op, False))
    setattr(Proxy, f"__r{_op}__", _binary(_op, True))


class ProxyMeta(type):
    """The type of a proxy class: a class that lives in the other process. Calling it builds an object there."""

    def __call__(cls, *args: object, **kwargs: object) -> object:
        return cls._wb_class_peer.request("call", (cls, *args), kwargs)

    def __getattr__(cls, name: str) -> object:
        if name.startswith("_wb_"):
            raise AttributeError(name)
        return cls._wb_class_peer.request("getattr", (cls, name), {})

    def __iter__(cls) -> object:
        return cls._wb_class_peer.request("iter", (cls,), {})

    def __len__(cls) -> int:
        return cls._wb_class_peer.request("len", (cls,), {})

    def __getitem__(cls, key: object) -> object:
        return cls._wb_class_peer.request("getitem", (cls, key), {})

    def __contains__(cls, item: object) -> bool:
        return cls._wb_class_peer.request("contains", (cls, item), {})

    def __repr__(cls) -> str:
        return f"<class {cls.__qualname__!r} of the other process>"


def _call(target: object, *args: object, **kwargs: object) -> object:
    return target(*args, **kwargs)


OPERATIONS = {
    "call": _call, "getattr": getattr, "setattr": setattr, "delattr": delattr, "repr": repr, "str": str,
    "format": format, "bool": bool, "len": len, "iter": iter, "next": next, "reversed": reversed,
    "contains": operator.contains, "getitem": operator.getitem, "setitem": operator.setitem,
    "delitem": operator.delitem, "hash": hash, "dir": dir, "value": builtin_value,
    "enter": lambda obj: type(obj).__enter__(obj), "exit": lambda obj, *exc: type(obj).__exit__(obj, *exc),
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge, "abs": abs, "neg": operator.neg, "pos": operator.pos, "invert": operator.invert,
    "index": operator.index, "int": int, "float": float, "complex": complex, "round": round,
    "trunc": math.trunc, "floor": math.floor, "ceil": math.ceil, "add": operator.add, "sub": operator.sub,
    "mul": operator.mul, "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": pow, "matmul": operator.matmul, "lshift": operator.lshift, "rshift": operator.rshift,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor, "divmod": divmod,
}
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
            "ge": operator.ge}
_ATTRIBUTE_OPS = ("getattr", "setattr", "delattr")
_STDIN_METHODS = ("read", "readline", "readlines")
_CLOSED = object()


# ---------------------------------------------------------------- the connection


class Peer:
    """One end of the connection: encodes and decodes values, keeps handles and proxies, routes requests.

    `strict` is the tests' side: it accepts only plain data, proxies and its own objects back from the
    solution, type-checks comparisons, and serves the solution only calls, public attributes and
    data-model operations on objects the tests handed over. `main_serves` is the solution's side: the
    tests' top-level requests run on its main thread.
    """

    def __init__(self, read_fd: int, write_fd: int, strict: bool, main_serves: bool, other: str) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.strict = strict
        self.other = other
        self.handles: dict[int, object] = {}
        self._handle_ids: dict[int, int] = {}
        self._next_handle = itertools.count(1)
        self._announced: set[int] = set()
        self.proxies: dict[int, object] = {}
        self.classes: dict[int, type] = {}
        self.exceptions: dict[int, type] = {}
        self._next_request = itertools.count(1)
        self._waiting: dict[int, queue.SimpleQueue] = {}
        self.main_inbox: queue.SimpleQueue | None = queue.SimpleQueue() if main_serves else None
        self._local = threading.local()
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self.closed = False
        self.broken: str | None = None
        self.aborted: str | None = None
        self.notes: list[str] = []
        self.output: list[str] = []
        self.errors: list[str] = []
        self._output_lock = threading.Lock()
        threading.Thread(target=self._read_loop, name="peer-reader", daemon=True).start()

    # -- notes for the rationale

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES and text not in self.notes:
            self.notes.append(text)

    # -- wire

    def _send(self, message: tuple, announcements: list) -> None:
        payload = marshal.dumps((announcements, message))
        data = memoryview(_HEADER.pack(len(payload)) + payload)
        while data:
            data = data[os.write(self.write_fd, data):]

    def _read_exact(self, size: int) -> bytes | None:
        chunks, left = [], size
        while left:
            chunk = os.read(self.read_fd, min(left, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _read_loop(self) -> None:
        try:
            while True:
                header = self._read_exact(_HEADER.size)
                if header is None:
                    break
                (size,) = _HEADER.unpack(header)
                if size > MAX_FRAME:
                    raise ProtocolError(f"a message of {size} bytes")
                payload = self._read_exact(size)
                if payload is None:
                    break
                self._dispatch(marshal.loads(payload))
        except Exception as exc:  # a malformed frame ends the connection
            self.broken = f"{self.other} broke the protocol ({type(exc).__name__}: {exc})"
        finally:
            with self._state_lock:
                self.closed = True
                inboxes = list(self._waiting.values())
            for inbox in inboxes:
                inbox.put(_CLOSED)
            if self.main_inbox is not None:
                self.main_inbox.put(_CLOSED)

    def _dispatch(self, frame: object) -> None:
        announcements, message = _expect(frame, tuple)
        for entry in _expect(announcements, list):
            self._learn(entry)
        kind = message[0]
        if kind == "q":
            _, request_id, parent, op, args, kwargs = message
            decoded = ("q", _expect(request_id, int), _expect(op, str), [self.decode(a) for a in _expect(args, list)],
                       {_expect(k, str): self.decode(v) for k, v in _expect(kwargs, list)})
            inbox = self._waiting.get(parent) if parent is not None else None
            if inbox is not None:
                inbox.put(decoded)
            elif self.main_inbox is not None:
                self.main_inbox.put(decoded)
            else:
                threading.Thread(target=self.serve, args=(decoded,), daemon=True).start()
        elif kind in ("a", "e"):
            _, request_id, value, mutations, out, err = message
            inbox = self._waiting.get(_expect(request_id, int))
            if inbox is None:
                raise ProtocolError("a reply to no request")
            inbox.put((kind, self.decode(value),
                       [(_expect(k, int, str), self.decode(v)) for k, v in _expect(mutations, list)],
                       _expect(out, str), _expect(err, str)))
        else:
            raise ProtocolError(f"unknown message kind {kind!r}")

    # -- requests

    def request(self, op: str, args: tuple, kwargs: dict) -> object:
        """Ask the peer to perform `op` on `args`; serve the peer's nested requests while waiting."""
        request_id = next(self._next_request)
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        with self._state_lock:
            if self.closed:
                raise PeerClosed(self.broken or f"{self.other} ended")
            self._waiting[request_id] = inbox
        try:
            parent = getattr(self._local, "serving", None)
            with self._send_lock:
                announcements: list = []
                message = ("q", request_id, parent, op, [self.encode(a, announcements) for a in args],
                           [(k, self.encode(v, announcements)) for k, v in kwargs.items()])
                try:
                    self._send(message, announcements)
                except OSError:  # the pipe's other end is gone
                    raise PeerClosed(f"{self.other} ended") from None
            while True:
                reply = inbox.get()
                if reply is _CLOSED:
                    raise PeerClosed(self.broken or f"{self.other} ended")
                if reply[0] == "q":
                    self.serve(reply)
                    continue
                break
        finally:
            with self._state_lock:
                self._waiting.pop(request_id, None)
        kind, value, mutations, out, err = reply
        self._replay(out, err)
        for key, state in mutations:
            original = args[key] if isinstance(key, int) else kwargs.get(key)
            if type(original) in _MUTABLE and type(original) is type(state):
                update_in_place(original, state)
        if kind == "e":
            raise self._received_exception(value, op)
        return value

    def _replay(self, out: str, err: str) -> None:
        if out:
            sys.stdout.write(out)
        if err:
            sys.stderr.write(err)

    def _received_exception(self, exc: BaseException, op: str) -> BaseException:
        if isinstance(exc, SolutionAbort):
            self.aborted = str(exc)
        if type(exc) is StopIteration and op != "next":
            return RuntimeError(f"{self.other} raised StopIteration outside an iterator's __next__ ({op})")
        return exc

    def serve(self, request: tuple) -> None:
        """Perform one request from the peer and send the reply (or the exception) back."""
        _, request_id, op, args, kwargs = request
        previous = getattr(self._local, "serving", None)
        self._local.serving = request_id
        try:
            try:
                result, failed = self.perform(op, args, kwargs), False
            except BaseException as exc:  # every exception goes back to the caller
                result, failed = exc, True
            out, err = self._take_output()
            with self._send_lock:
                announcements: list = []
                mutations = [(key, self.encode(value, announcements)) for key, value in
                             [*enumerate(args), *kwargs.items()] if type(value) in _MUTABLE]
                try:
                    encoded = self.encode(result, announcements)
                except Exception as exc:  # an exception whose arguments cannot cross
                    failed, encoded = True, self.encode(RuntimeError(f"{type(exc).__name__}: {exc}"), announcements)
                try:
                    self._send(("e" if failed else "a", request_id, encoded, mutations, out, err), announcements)
                except OSError:  # the peer is gone; its reader will say so
                    pass
        finally:
            self._local.serving = previous

    def perform(self, op: str, args: list, kwargs: dict) -> object:
        if op == "hello":
            return self.hello()
        if op == "stdin":
            if not self.strict or not args or args[0] not in _STDIN_METHODS:
                raise PermissionError("stdin serves read, readline and readlines only")
            return getattr(sys.stdin, args[0])(*args[1:])
        if op not in OPERATIONS:
            raise ProtocolError(f"unknown operation {op!r}")
        if self.strict and op in _ATTRIBUTE_OPS and (len(args) < 2 or type(args[1]) is not str
                                                     or args[1].startswith("_")):
            raise AttributeError(f"the tests' objects show the solution no attribute {args[1:2]!r}")
        return OPERATIONS[op](*args, **kwargs)

    def hello(self) -> object:
        raise ProtocolError("hello is served by the solution's process only")

    def _take_output(self) -> tuple[str, str]:
        with self._output_lock:
            out, err = "".join(self.output), "".join(self.errors)
            self.output.clear()
            self.errors.clear()
        return out, err

    # -- comparisons and arithmetic with type checks

    def compare(self, op: str, left: Proxy, right: object) -> object:
        if type(right) is type(left):
            return self.request(op, (left, right), {})
        value_base = getattr(type(left), "_wb_value_base", None)
        if value_base:
            return _COMPARE[op](self.request("value", (left,), {}), right)
        if self.strict:
            self.note(f"an object of the solution's class {type(left).__qualname__} was compared with "
                      f"{type(right).__name__} {_short(right)}: the solution's objects compare only with "
                      f"objects of their own class")
        if op == "eq":
            return False
        if op == "ne":
            return True
        return NotImplemented

    def arithmetic(self, op: str, proxy: Proxy, other: object, reflected: bool) -> object:
        pair = (other, proxy) if reflected else (proxy, other)
        if isinstance(other, Proxy) and object.__getattribute__(other, "_wb_peer") is self:
            return self.request(op, pair, {})
        if getattr(type(proxy), "_wb_value_base", None):
            value = self.request("value", (proxy,), {})
            return OPERATIONS[op](*((other, value) if reflected else (value, other)))
        result = self.request(op, pair, {})
        if self.strict and not isinstance(result, Proxy):
            self.note(f"the solution's {type(proxy).__qualname__} {op} {type(other).__name__} gave plain "
                      f"{type(result).__name__}: an object of the solution's own class is not compared "
                      f"through arithmetic with the tests' values")
            raise TypeError(f"unsupported operand types for {op}: the solution's {type(proxy).__qualname__} "
                            f"and {type(other).__name__}")
        return result

    # -- encoding (never runs the other side's code)

    def register(self, value: object) -> int:
        key = id(value)
        handle = self._handle_ids.get(key)
        if handle is None:
            handle = next(self._next_handle)
            self._handle_ids[key] = handle
            self.handles[handle] = value
        return handle

    def encode(self, value: object, announcements: list, depth: int = 0) -> tuple:
        kind = type(value)
        if kind in _SCALARS:
            return ("v", value)
        if (kind in _CONTAINERS or kind is dict) and depth <= MAX_DEPTH:
            if is_plain(value):
                return ("v", value)
            if kind is dict:
                return ("d", [(self.encode(k, announcements, depth + 1), self.encode(v, announcements, depth + 1))
                              for k, v in value.items()])
            return (_CONTAINERS[kind], [self.encode(item, announcements, depth + 1) for item in value])
        if kind is bytearray:
            return ("ba", bytes(value))
        if issubclass(kind, Proxy) and object.__getattribute__(value, "_wb_peer") is self:
            return ("r", object.__getattribute__(value, "_wb_id"))
        if issubclass(kind, ProxyMeta) and value.__dict__.get("_wb_class_peer") is self:
            return ("r", value._wb_class_id)
        if issubclass(kind, BaseException):
            return ("x", self._class_ref(kind, announcements),
                    self.encode(list(value.args), announcements, depth + 1))
        std = _std_encode(value)
        if std is not None:
            return ("std", std[0], self.encode(std[1], announcements, depth + 1))
        if self.strict:  # the tests hand the solution standard-library functions by name; never the reverse
            reference = _stdlib_reference(value)
            if reference is not None:
                return reference
        if issubclass(kind, type):
            if issubclass(value, BaseException):
                return ("xc", self._class_ref(value, announcements))
            return ("c", self._announce(value, announcements))
        return ("h", self.register(value), self._announce(kind, announcements))

    def _announce(self, cls: type, announcements: list) -> int:
        handle = self.register(cls)
        if handle not in self._announced:
            bases = [self._announce(b, announcements) for b in cls.__bases__
                     if b is not object and not issubclass(b, BaseException) and b.__module__ != "builtins"]
            self._announced.add(handle)
            announcements.append(("class", handle, cls.__name__, cls.__qualname__, bases, _value_base(cls)))
        return handle

    def _class_ref(self, cls: type, announcements: list) -> tuple:
        if getattr(builtins, cls.__name__, None) is cls:
            return ("b", cls.__name__)
        handle = self.register(cls)
        if handle not in self._announced:
            bases = [self._class_ref(b, announcements) for b in cls.__bases__ if issubclass(b, BaseException)]
            self._announced.add(handle)
            announcements.append(("exception", handle, cls.__name__, cls.__qualname__, bases,
                                  getattr(cls, "__module__", "") or ""))
        return ("c", handle)

    # -- decoding (strict: plain data, proxies and this side's own objects only)

    def decode(self, encoded: object) -> object:
        tag = _expect(encoded, tuple)[0]
        if tag == "v":
            value = encoded[1]
            if self.strict and not is_plain(value):
                raise ProtocolError(f"{type(value).__name__} is not plain data")
            return value
        if tag in _BUILDERS:
            return _BUILDERS[tag](self.decode(item) for item in _expect(encoded[1], list))
        if tag == "d":
            return {self.decode(k): self.decode(v) for k, v in _expect(encoded[1], list)}
        if tag == "ba":
            return bytearray(_expect(encoded[1], bytes))
        if tag == "r":
            handle = _expect(encoded[1], int)
            if handle not in self.handles:
                raise ProtocolError(f"no object {handle} on this side")
            return self.handles[handle]
        if tag == "h":
            return self._proxy(_expect(encoded[1], int), _expect(encoded[2], int))
        if tag == "c":
            return self._class(_expect(encoded[1], int))
        if tag == "x":
            cls = self._exception_class(encoded[1])
            args = _expect(self.decode(encoded[2]), list)
            if cls is SolutionAbort:
                return SolutionAbort(f"{encoded[1][1]}({', '.join(_short(a) for a in args)})")
            return self._exception(cls, args)
        if tag == "xc":
            return self._exception_class(encoded[1])
        if tag == "std":
            return _std_decode(_expect(encoded[1], str), self.decode(encoded[2]))
        if tag == "ref" and not self.strict:
            return _resolve(_expect(encoded[1], str), _expect(encoded[2], str))
        raise ProtocolError(f"unknown value tag {tag!r}")

    def _learn(self, entry: object) -> None:
        kind, handle, name, qualname, bases = _expect(entry, tuple)[:5]
        _expect(handle, int), _expect(name, str), _expect(qualname, str)
        if kind == "class":
            value_base = _expect(entry[5], str, type(None))
            parents = tuple(self._class(_expect(b, int)) for b in _expect(bases, list)) or (Proxy,)
            namespace = {"__slots__": (), "__module__": "solution", "__qualname__": qualname,
                         "_wb_class_peer": self, "_wb_class_id": handle, "_wb_value_base": value_base}
            try:
                cls = ProxyMeta(name, parents, namespace)
            except TypeError:
                cls = ProxyMeta(name, (Proxy,), namespace)
            self.classes[handle] = cls
        elif kind == "exception":
            module = _expect(entry[5], str)
            cls = self._known_exception(module, qualname)
            if cls is None:
                parents = tuple(self._exception_class(b) for b in _expect(bases, list)) or (Exception,)
                namespace = {"__module__": "solution" if module == "__main__" else module, "__qualname__": qualname}
                try:
                    cls = type(name, parents, namespace)
                except TypeError:
                    cls = type(name, (parents[0],), namespace)
            self.exceptions[handle] = cls
        else:
            raise ProtocolError(f"unknown announcement {kind!r}")

    def _known_exception(self, module: str, qualname: str) -> type | None:
        """A standard-library exception class by name: one the strict side has already imported, else None."""
        if module.split(".")[0] not in sys.stdlib_module_names or (self.strict and module not in sys.modules):
            return None
        try:
            cls = _resolve(module, qualname)
        except Exception:
            return None
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            return None
        return SolutionAbort if self.strict and not issubclass(cls, Exception) else cls

    def _class(self, handle: int) -> type:
        if handle not in self.classes:
            raise ProtocolError(f"class {handle} was never announced")
        return self.classes[handle]

    def _proxy(self, handle: int, class_handle: int) -> object:
        proxy = self.proxies.get(handle)
        if proxy is None:
            proxy = object.__new__(self._class(class_handle))
            object.__setattr__(proxy, "_wb_peer", self)
            object.__setattr__(proxy, "_wb_id", handle)
            self.proxies[handle] = proxy
        return proxy

    def _exception_class(self, reference: object) -> type:
        kind = _expect(reference, tuple)[0]
        if kind == "b":
            cls = getattr(builtins, _expect(reference[1], str), None)
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise ProtocolError(f"{reference[1]!r} is not a built-in exception")
            if self.strict and not issubclass(cls, Exception):
                return SolutionAbort
            return cls
        if kind == "c":
            handle = _expect(reference[1], int)
            if handle not in self.exceptions:
                raise ProtocolError(f"exception class {handle} was never announced")
            return self.exceptions[handle]
        raise ProtocolError(f"unknown exception reference {kind!r}")

    def _exception(self, cls: type, args: list) -> BaseException:
        try:
            return cls(*args)
        except Exception:
            fallback = next(c for c in cls.__mro__ if c.__module__ == "builtins")
            try:
                return fallback(*args)
            except Exception:
                return RuntimeError(*args)


def _stdlib_reference(value: object) -> tuple | None:
    """("ref", module, qualname) for a standard-library function or class the other side can import itself."""
    module = getattr(value, "__module__", None)
    if module is None:
        owner = getattr(value, "__objclass__", None)
        module = getattr(owner, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    if module.split(".")[0] not in sys.stdlib_module_names or module == "__main__":
        return None
    try:
        return ("ref", module, qualname) if _resolve(module, qualname) is value else None
    except Exception:
        return None


def _resolve(module: str, qualname: str) -> object:
    import importlib

    target: object = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


# ---------------------------------------------------------------- the solution's process


class _Capture(io.TextIOBase):
    """The solution's sys.stdout / sys.stderr: kept, and sent with the next reply (`.buffer` takes bytes)."""

    def __init__(self, peer: Peer, sink: list[str]) -> None:
        self._peer, self._sink = peer, sink
        self.buffer = _Bytes(self)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._peer._output_lock:
            self._sink.append(str(text))
        return len(text)


class _RemoteStdin(io.TextIOBase):
    """The solution's sys.stdin: reads the tests' sys.stdin, line by line as asked (`.buffer` gives bytes)."""

    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.buffer = _Bytes(self)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        return self._peer.request("stdin", ("read", -1 if size is None else size), {})

    def readline(self, size: int | None = -1) -> str:
        return self._peer.request("stdin", ("readline", -1 if size is None else size), {})

    def readlines(self, hint: int = -1) -> list[str]:
        return self._peer.request("stdin", ("readlines", hint), {})


class _Bytes:
    """The `.buffer` of the solution's standard streams: the same text, as UTF-8 bytes."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        return self._text.read(size).encode()

    def readline(self, size: int | None = -1) -> bytes:
        return self._text.readline(size).encode()

    def readlines(self, hint: int = -1) -> list[bytes]:
        return [line.encode() for line in self._text.readlines(hint)]

    def __iter__(self):
        return iter(self.readline, b"")

    def flush(self) -> None:
        return None


class SolutionPeer(Peer):
    """The solution's side: loads the solution as module `solution`, then answers."""

    def __init__(self, read_fd: int, write_fd: int, code_path: str) -> None:
        super().__init__(read_fd, write_fd, strict=False, main_serves=True, other="the tests' process")
        self.module = types.ModuleType("solution")
        self.module.__file__ = SOLUTION_FILE
        self.load_error: str | None = None
        self.code_path = code_path

    def load(self) -> None:
        sys.stdout, sys.stderr, sys.stdin = _Capture(self, self.output), _Capture(self, self.errors), _RemoteStdin(self)
        sys.modules["solution"] = self.module
        try:
            source = read_source(self.code_path, SOLUTION_FILE)
            exec(compile(source, SOLUTION_FILE, "exec"), self.module.__dict__)
        except SystemExit as exc:
            self.load_error = f"the solution exited before the tests ran (sys.exit({_short(exc.code)}))"
        except BaseException as exc:  # the solution's own failure is the verdict's reason
            self.load_error = "the solution failed while loading, before the tests ran:\n" + format_error(
                exc, SOLUTION_FILE)

    def hello(self) -> object:
        if self.load_error is not None:
            return {"error": self.load_error}
        names = {k: v for k, v in self.module.__dict__.items() if not (k.startswith("__") and k.endswith("__"))}
        return {"error": None, "names": names}

    def serve_forever(self) -> None:
        while True:
            request = self.main_inbox.get()
            if request is _CLOSED:
                return
            self.serve(request)


def run_solution(code_path: str, read_fd: int, write_fd: int, memory_mb: int, cpu_s: int) -> None:
    prepare_process(memory_mb, cpu_s)
    peer = SolutionPeer(read_fd, write_fd, code_path)
    peer.load()
    peer.serve_forever()
    os._exit(0)


# ---------------------------------------------------------------- the tests' process


class Report:
    """JSON lines on the report pipe: {"event": "loaded"}, then one {"event": "verdict", ...}."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **fields: object) -> None:
        import json

        data = memoryview((json.dumps(fields) + "\n").encode())
        while data:
            data = data[os.write(self.fd, data):]

    def verdict(self, passed: bool, stage: str, reason: str, detail: str) -> None:
        self.send(event="verdict", passed=passed, stage=stage, reason=reason, detail=detail)


class TestFailure(Exception):
    """A test function or unittest case that the harness ran for the tests failed."""


def _where(exc: BaseException) -> str:
    """The lines of the tests an exception passed through."""
    return "\n".join(format_error(exc, TESTS_FILE).splitlines()[:-1])


def _describe(exc: BaseException, notes: list[str]) -> str:
    lines = [format_error(exc, TESTS_FILE)]
    lines.extend(f"Note: {n}" for n in notes)
    return "\n".join(lines)


def _executes_something(tree: object) -> bool:
    import ast

    quiet = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
             ast.AnnAssign, ast.Pass)
    return any(not isinstance(node, quiet) and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
               for node in tree.body)


def _referenced_names(tree: object) -> set[str]:
    import ast

    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | {
        node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}


class _UnittestMain:
    """unittest.main for the tests: runs the cases without exiting and raises when one fails."""

    calls = 0

    def __call__(self, *args: object, **kwargs: object) -> None:
        import unittest

        _UnittestMain.calls += 1
        kwargs.update(exit=False, argv=["tests"], testRunner=unittest.TextTestRunner(stream=io.StringIO()))
        kwargs.setdefault("module", sys.modules["__main__"])
        program = unittest.TestProgram(*args, **kwargs)
        _raise_unittest_failures(program.result)


def _raise_unittest_failures(result: object) -> None:
    problems = [*result.errors, *result.failures]
    if problems:
        test, text = problems[0]
        tail = "\n".join(text.strip().splitlines()[-6:])
        raise TestFailure(f"{len(problems)} of {result.testsRun} unittest cases failed; first: {test}\n{tail}")


def _run_defined_tests(namespace: dict, tree: object) -> int:
    """Run the test_* functions and unittest cases the tests define but never run themselves; count them."""
    import inspect

    referenced = _referenced_names(tree)
    ran = 0
    for name, value in list(namespace.items()):
        if (name.startswith("test") and isinstance(value, types.FunctionType) and name not in referenced
                and value.__code__.co_filename == TESTS_FILE):
            required = [p for p in inspect.signature(value).parameters.values()
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if required:
                raise TestFailure(f"{name}() needs arguments ({', '.join(p.name for p in required)}): pytest "
                                  f"fixtures are not available; call it from the tests instead")
            value()
            ran += 1
    unittest = sys.modules.get("unittest")
    if unittest is not None and not _UnittestMain.calls:
        cases = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, unittest.TestCase)
                 and v.__module__ == "__main__"]
        if cases:
            loader = unittest.TestLoader()
            suite = unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in cases)
            result = unittest.TextTestRunner(stream=io.StringIO()).run(suite)
            _raise_unittest_failures(result)
            ran += result.testsRun
    return ran + _UnittestMain.calls


def run_tests(tests_path: str, read_fd: int, write_fd: int, report_fd: int, memory_mb: int, cpu_s: int) -> None:
    prepare_process(memory_mb, cpu_s)
    report = Report(report_fd)
    peer = Peer(read_fd, write_fd, strict=True, main_serves=False, other="the solution's process")
    try:
        hello = peer.request("hello", (), {})
    except PeerClosed as exc:
        if peer.broken:
            report.verdict(False, "load", "protocol", f"before the tests ran, {exc}")
        else:
            report.verdict(False, "load", "solution_ended", str(exc))
        return
    if type(hello) is not dict or hello.get("error") is not None or type(hello.get("names")) is not dict:
        report.verdict(False, "load", "load_error", str(hello.get("error") if type(hello) is dict else hello))
        return
    report.send(event="loaded")
    stage = "tests"
    try:
        import ast

        source = read_source(tests_path, TESTS_FILE)
        tree = ast.parse(source, TESTS_FILE)
        solution = types.ModuleType("solution")
        solution.__dict__.update(hello["names"])
        sys.modules["solution"] = solution
        main = types.ModuleType("__main__")
        main.__dict__.update(hello["names"])
        main.__file__ = TESTS_FILE
        sys.modules["__main__"] = main
        if "unittest" in source:
            import unittest

            unittest.main = _UnittestMain()
            show_sources()
        exec(compile(tree, TESTS_FILE, "exec"), main.__dict__)
        ran = _run_defined_tests(main.__dict__, tree)
        if not ran and not _executes_something(tree):
            report.verdict(False, stage, "vacuous", "the tests define checks but run none of them, so nothing "
                           "was tested" if tree.body else "there are no tests to run")
            return
    except PeerClosed as exc:
        reason = "protocol" if peer.broken else "solution_ended"
        report.verdict(False, stage, reason, f"{exc} during the tests\n" + _where(exc))
        return
    except SyntaxError as exc:
        report.verdict(False, stage, "tests_invalid", "the tests do not compile:\n" + format_error(exc, TESTS_FILE))
        return
    except SystemExit as exc:
        report.verdict(False, stage, "failed", f"the tests called sys.exit({_short(exc.code)}) before their end")
        return
    except SolutionAbort as exc:
        report.verdict(False, stage, "aborted", f"the solution raised {exc} during the tests\n" + _where(exc))
        return
    except BaseException as exc:  # the tests' own failure (AssertionError, the solution's errors...)
        report.verdict(False, stage, "aborted" if peer.aborted else "failed", _describe(exc, peer.notes))
        return
    if peer.aborted:
        report.verdict(False, stage, "aborted", f"the solution raised {peer.aborted} during the tests")
    elif peer.closed:
        report.verdict(False, stage, "solution_ended", peer.broken or "the solution's process ended during the tests")
    else:
        report.verdict(True, stage, "passed", "all tests passed")


def main(argv: list[str]) -> None:
    role, path, *numbers = argv
    values = [int(n) for n in numbers]
    if role == "solution":
        run_solution(path, *values)
    elif role == "tests":
        run_tests(path, *values)
        sys.stdout.flush()
        os._exit(0)
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
