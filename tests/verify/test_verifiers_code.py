"""The code verifier: the verdict cannot be forged from inside, results are compared as the tests mean them,
and the code sees nothing of the machine (no files, no network, no new processes) and leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from workbench.verify.verifiers import code as code_module
from workbench.verify.verifiers import get_verifier, sandbox
from workbench.verify.verifiers.base import Task
from workbench.verify.verifiers.code import extract_code, run_tests
from workbench.verify.verifiers.sandbox import Isolation, isolation

ADD = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"


def test_this_machine_isolates_with_bwrap_and_the_seccomp_filter():
    # CI installs bubblewrap (.ci/run); without it every isolation test below would prove nothing.
    assert isolation().complete, isolation().describe()
    assert isolation().describe().startswith("Isolated with bubblewrap")


# ---------------------------------------------------------------- honest solutions keep their verdicts


def test_a_right_solution_passes_and_a_wrong_one_names_the_failing_assertion():
    assert run_tests(ADD, TESTS).passed
    result = run_tests("def add(a, b):\n    return a - b\n", TESTS)
    assert not result.passed and result.stage == "tests"
    assert "tests.py, line 1" in result.rationale and "assert add(2, 3) == 5" in result.rationale
    assert "AssertionError" in result.rationale


def test_a_crash_is_a_failure_with_the_error_and_where_it_happened():
    result = run_tests("def add(a, b):\n    return a + undefined_name\n", TESTS)
    assert not result.passed and "NameError: name 'undefined_name' is not defined" in result.rationale


def test_a_real_seed_solution_passes_its_seed_tests():
    from tests.conftest import ROOT

    seeds = [json.loads(line) for line in (ROOT / "sample_seeds" / "code.jsonl").read_text().splitlines()]
    for seed in seeds[:3] + [s for s in seeds if "median" in s["tests"]]:
        assert run_tests(seed["reference_answer"], seed["tests"]).passed, seed["instruction"]
    assert not run_tests("def is_palindrome(s):\n    return s == s[::-1]\n", seeds[0]["tests"]).passed


# ---------------------------------------------------------------- the verdict cannot be forged


def test_printing_success_and_exiting_before_the_tests_fails():
    forged = "def add(a, b):\n    return 0\nprint('ALL TESTS PASSED')\nimport sys\nsys.exit(0)\n"
    result = run_tests(forged, TESTS)
    assert not result.passed and result.stage == "load"
    assert result.rationale == "the solution exited before the tests ran (sys.exit(0))"
    for call in ("exit()", "quit(1)", "raise SystemExit"):
        result = run_tests(f"{call}\n" + ADD, TESTS)
        assert not result.passed and result.rationale.startswith("the solution exited before the tests ran"), call


def test_a_hard_exit_or_killing_itself_during_import_fails_with_the_status():
    result = run_tests("import os\nprint('ALL TESTS PASSED')\nos._exit(0)\n", TESTS)
    assert not result.passed and result.rationale == "the solution exited before the tests ran (exit status 0)"
    killed = run_tests("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", TESTS)
    assert not killed.passed and killed.rationale.startswith("the solution exited before the tests ran (killed by signal 9")


def test_looping_during_import_fails_saying_the_tests_never_ran():
    result = run_tests("while True:\n    pass\n", TESTS, timeout_s=1.5)
    assert not result.passed
    assert result.rationale == "timed out after 1.5 s while the solution loaded; the tests never ran"


def test_a_loop_inside_a_test_call_times_out_during_the_tests():
    result = run_tests("def add(a, b):\n    while True:\n        pass\n", TESTS, timeout_s=1.5)
    assert not result.passed and result.rationale == "timed out after 1.5 s while the tests ran"


def test_exiting_in_the_middle_of_the_tests_fails_even_when_the_tests_swallow_it():
    exits = "import os\ndef add(a, b):\n    os._exit(0)\n"
    result = run_tests(exits, TESTS)
    assert not result.passed and result.rationale.startswith("the solution's process ended during the tests (exit status 0)")
    system_exit = "import sys\ndef add(a, b):\n    sys.exit(0)\n"
    swallowing = "try:\n    add(2, 3)\nexcept BaseException:\n    pass\n"
    result = run_tests(system_exit, swallowing)
    assert not result.passed and result.rationale.startswith("the solution raised SystemExit(0) during the tests")


def test_writing_a_verdict_to_every_open_file_descriptor_does_not_pass():
    fake = json.dumps({"event": "verdict", "passed": True, "stage": "tests", "reason": "passed", "detail": ""})
    forger = (f"import os\nfor fd in range(64):\n    try:\n        os.write(fd, {fake!r}.encode() + b'\\n')\n"
              f"    except OSError:\n        pass\ndef add(a, b):\n    return 0\n")
    result = run_tests(forger, TESTS)
    assert not result.passed
    # Which side notices first depends on scheduling: the harness sees the broken protocol, or the tests run
    # and fail on add's wrong result. Either way the forged verdict is never read as one.
    assert result.rationale.startswith(("before the tests ran, the solution's process broke the protocol",
                                        "  tests.py, line 1, in <module>: assert add(2, 3) == 5"))


# ---------------------------------------------------------------- results compared as the tests mean them


def test_an_object_equal_to_everything_fails_with_a_note():
    always_equal = ("class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
                    "    def __ne__(self, other):\n        return False\n    def __hash__(self):\n        return 0\n"
                    "def add(a, b):\n    return AlwaysEqual()\n")
    result = run_tests(always_equal, TESTS)
    assert not result.passed and "AssertionError" in result.rationale
    assert "AlwaysEqual was compared with int 5" in result.rationale
    reversed_order = run_tests(always_equal, "assert 5 == add(2, 3)")
    assert not reversed_order.passed
    in_a_list = run_tests(always_equal, "assert [add(2, 3)] == [5]")
    assert not in_a_list.passed


def test_subclasses_of_builtins_that_claim_equality_are_compared_by_their_value():
    for base, value in (("int", "0"), ("str", "''"), ("float", "0.0"), ("tuple", "()")):
        cheat = (f"class Cheat({base}):\n    def __eq__(self, other):\n        return True\n"
                 f"def add(a, b):\n    return Cheat({value})\n")
        assert not run_tests(cheat, TESTS).passed, base


def test_arithmetic_and_stop_iteration_tricks_fail():
    closeness = ("class Zero:\n    def __sub__(self, other):\n        return 0\n    def __rsub__(self, other):\n"
                 "        return 0\ndef area(r):\n    return Zero()\n")
    result = run_tests(closeness, "assert abs(area(2) - 12.566) < 1e-6")
    assert not result.passed and "not compared through arithmetic" in result.rationale
    stop = "def add(a, b):\n    raise StopIteration\n"
    result = run_tests(stop, "assert all(map(lambda c: add(*c[0]) == c[1], [((2, 3), 5), ((1, 1), 2)]))")
    assert not result.passed and "StopIteration outside an iterator's __next__" in result.rationale


def test_honest_objects_and_library_values_compare_as_in_one_process():
    cases = {
        "from collections import namedtuple\nP = namedtuple('P', 'x y')\ndef f():\n    return P(1, 2)\n":
            "assert f() == (1, 2)\nassert f().x == 1\nx, y = f()\nassert y == 2",
        "from dataclasses import dataclass\n@dataclass\nclass Pt:\n    x: int\n    y: int\ndef mk():\n    return Pt(1, 2)\n":
            "assert mk() == Pt(1, 2)\nassert mk() != Pt(2, 2)\nassert isinstance(mk(), Pt)",
        "from collections import Counter\ndef wc(s):\n    return Counter(s.split())\n":
            "assert wc('a b a') == {'a': 2, 'b': 1}\nassert wc('a b a').most_common(1) == [('a', 2)]",
        "from enum import Enum, IntEnum\nclass C(Enum):\n    R = 1\n    G = 2\nclass N(IntEnum):\n    A = 1\n"
        "def f():\n    return C.R\ndef g():\n    return N.A\n":
            "assert f() == C.R and f() is C.R and f() != C.G\nassert g() == 1\nassert [c.name for c in C] == ['R', 'G']",
        "from fractions import Fraction\nimport datetime\ndef half():\n    return Fraction(1, 2)\n"
        "def day():\n    return datetime.date(2024, 2, 29)\n":
            "from fractions import Fraction\nimport datetime\nassert half() == Fraction(1, 2) == 0.5\n"
            "assert day() == datetime.date(2024, 2, 29)",
        "def area(r):\n    return 3.14159 * r * r\n":
            "import math\nassert math.isclose(area(1), 3.14159)\nassert abs(area(2) - 12.56636) < 1e-6\n"
            "assert round(area(1), 2) == 3.14",
        "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)\n"
        "    def pop(self):\n        return self.items.pop()\n    def __len__(self):\n        return len(self.items)\n":
            "s = Stack()\ns.push(1)\ns.push(2)\nassert len(s) == 2 and s.pop() == 2 and s.items == [1]",
        "def gen(n):\n    for i in range(n):\n        yield i * i\n":
            "assert list(gen(4)) == [0, 1, 4, 9]\nassert sum(gen(3)) == 5",
    }
    for solution, tests in cases.items():
        result = run_tests(solution, tests)
        assert result.passed, f"{solution}\n{result.rationale}"


def test_calls_go_both_ways_with_exceptions_output_input_and_changed_arguments():
    cases = {
        "def apply_twice(f, x):\n    return f(f(x))\n":
            "assert apply_twice(lambda v: v + 3, 1) == 7\nassert apply_twice(str.upper, 'a') == 'A'",
        "from concurrent.futures import ThreadPoolExecutor\ndef pmap(f, xs):\n    with ThreadPoolExecutor(4) as ex:\n"
        "        return list(ex.map(f, xs))\n":
            "assert pmap(lambda x: x * 2, range(20)) == [x * 2 for x in range(20)]",
        "def to_list(node):\n    out = []\n    while node is not None:\n        out.append(node.val)\n"
        "        node = node.next\n    return out\n":
            "class Node:\n    def __init__(self, val, next=None):\n        self.val, self.next = val, next\n"
            "assert to_list(Node(1, Node(2))) == [1, 2]",
        "class InvalidInput(ValueError):\n    pass\ndef check(x):\n    if x < 0:\n        raise InvalidInput('negative')\n"
        "    return x\n":
            "try:\n    check(-1)\n    raise AssertionError('no error')\nexcept InvalidInput as e:\n"
            "    assert 'negative' in str(e)\ntry:\n    check(-1)\nexcept ValueError:\n    pass",
        "def hello(name):\n    print(f'hi {name}')\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\n":
            "import contextlib, io, sys\nbuf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n    hello('bo')\n"
            "assert buf.getvalue() == 'hi bo\\n'\nsys.stdin = io.StringIO('2 3\\n')\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    main()\nassert buf.getvalue() == '5\\n'",
        "import sys\ndef total():\n    sys.stdout.buffer.write(str(sum(map(int, sys.stdin.buffer.read().split()))).encode())\n"
        "def lines():\n    return [line.strip() for line in sys.stdin]\n":
            "import contextlib, io, sys\nsys.stdin = io.StringIO('1 2\\n3\\n')\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n    total()\nassert out.getvalue() == '6'\n"
            "sys.stdin = io.StringIO('a\\nb\\n')\nassert lines() == ['a', 'b']",
        "def push(xs, v):\n    xs.append(v)\ndef fill(grid):\n    grid[1][1] = 1\n":
            "items = [1]\npush(items, 2)\nassert items == [1, 2]\ngrid = [[0] * 3 for _ in range(3)]\nrow = grid[1]\n"
            "fill(grid)\nassert row[1] == 1",
        "def add(a, b):\n    return a + b\n":
            "from solution import add as plus\nimport solution\nassert plus(1, 2) == solution.add(1, 2) == 3",
    }
    for solution, tests in cases.items():
        result = run_tests(solution, tests)
        assert result.passed, f"{solution}\n{result.rationale}"
    sorts_in_place = "def median(xs):\n    xs.sort()\n    return xs[len(xs) // 2]\n"
    assert not run_tests(sorts_in_place, "data = [5, 3, 9]\nmedian(data)\nassert data == [5, 3, 9]").passed


def test_test_functions_and_unittest_cases_run_and_tests_that_run_nothing_fail():
    wrong = "def add(a, b):\n    return a - b\n"
    pytest_style = "def test_add():\n    assert add(1, 2) == 3\n"
    assert run_tests(ADD, pytest_style).passed
    assert "in test_add" in run_tests(wrong, pytest_style).rationale
    unittest_style = ("import unittest\nclass T(unittest.TestCase):\n    def test_add(self):\n"
                      "        self.assertEqual(add(1, 2), 3)\n")
    for tests in (unittest_style, unittest_style + "unittest.main()\n"):
        assert run_tests(ADD, tests).passed
        failed = run_tests(wrong, tests)
        assert not failed.passed and "1 of 1 unittest cases failed" in failed.rationale and "-1 != 3" in failed.rationale
    uncalled = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    result = run_tests(wrong, uncalled)
    assert not result.passed and "run none of them" in result.rationale
    assert run_tests(ADD, uncalled + "check(add)\n").passed
    assert run_tests(ADD, "").rationale == "there are no tests to run"
    broken = run_tests(ADD, "assert add(1, 2) ==")
    assert not broken.passed and broken.rationale.startswith("the tests do not compile")


# ---------------------------------------------------------------- the file system, the network, processes


def test_writing_outside_its_folder_fails_and_leaves_nothing(tmp_path: Path):
    name = f"wb-escape-{uuid.uuid4().hex}.txt"
    targets = [Path(tempfile.gettempdir()) / name, tmp_path / name, Path.home() / name]
    for target in targets:
        result = run_tests(f"open({str(target)!r}, 'w').write('x')\n" + ADD, TESTS)
        assert not result.passed and result.stage == "load"
        assert "No such file or directory" in result.rationale or "Read-only file system" in result.rationale
        assert not target.exists()
    for folder in ("/tmp", "/home/anyone", "/wb-new"):  # no folder can be made outside its own
        made = run_tests(f"import os\nos.makedirs({folder!r}, exist_ok=True)\n" + ADD, TESTS)
        assert not made.passed and "Read-only file system" in made.rationale, folder
    usr = run_tests("open('/usr/wb-escape.txt', 'w')\n" + ADD, TESTS)
    assert not usr.passed and "Read-only file system" in usr.rationale


def test_its_own_folder_is_empty_writable_and_gone_afterwards():
    marker = f"wb-own-{uuid.uuid4().hex}"
    code = (f"import os, tempfile\nassert os.listdir('.') == [], os.listdir('.')\nopen({marker!r}, 'w').write('kept')\n"
            f"with tempfile.NamedTemporaryFile('w', delete=False) as handle:\n    handle.write('t')\n"
            f"def read():\n    return open({marker!r}).read(), os.getcwd(), os.path.expanduser('~')\n")
    result = run_tests(code, "assert read() == ('kept', '/sandbox', '/sandbox')")
    assert result.passed, result.rationale
    leftovers = [p for p in Path(tempfile.gettempdir()).rglob(marker + "*")]
    assert leftovers == []


def test_the_home_the_store_and_the_project_are_invisible(store, db_path: Path):
    from tests.conftest import ROOT

    secrets = [Path(tempfile.gettempdir()) / f"wb-secret-{uuid.uuid4().hex}", Path.home() / f".wb-secret-{uuid.uuid4().hex}"]
    try:
        for secret in secrets:
            secret.write_text("api key")
        for path in (*secrets, db_path, ROOT / "README.md", ROOT / ".streamlit" / "config.toml", ROOT):
            reader = f"import os\np = {str(path)!r}\ndata = os.listdir(p) if os.path.isdir(p) else open(p).read()\n"
            result = run_tests(reader + ADD, TESTS)
            assert not result.passed and "FileNotFoundError" in result.rationale, path
    finally:
        for secret in secrets:
            secret.unlink(missing_ok=True)


@pytest.fixture
def listening_socket():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_no_network_even_to_a_live_loopback_server(listening_socket):
    port, accepted = listening_socket
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n" + ADD
    result = run_tests(code, TESTS)
    assert not result.passed and "socket" in result.rationale
    assert accepted == []  # the connection never reached the host's loopback


def test_no_new_processes_neither_through_python_nor_past_its_audit_hook():
    bomb = run_tests("import os\nwhile True:\n    os.fork()\n" + ADD, TESTS)
    assert not bomb.passed and "does not allow os.fork" in bomb.rationale
    assert not run_tests("import subprocess\nsubprocess.run(['true'])\n" + ADD, TESTS).passed
    # _posixsubprocess raises no audit event: the kernel's seccomp filter refuses the fork itself
    raw = ("import _posixsubprocess, os\nr, w = os.pipe()\n_posixsubprocess.fork_exec([b'/usr/bin/true'], "
           "[b'/usr/bin/true'], True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, "
           "None, -1, None, False)\n" + ADD)
    result = run_tests(raw, TESTS)
    assert not result.passed and "Operation not permitted" in result.rationale


def test_memory_exhaustion_is_stopped_by_the_memory_limit():
    result = run_tests("block = bytearray(1024 * 1024 * 1024)\n" + ADD, TESTS, memory_mb=256)
    assert not result.passed and "MemoryError" in result.rationale
    growing = "def add(a, b):\n    hog = []\n    while True:\n        hog.append(' ' * 10 ** 6)\n"
    result = run_tests(growing, TESTS, memory_mb=256)
    assert not result.passed and "MemoryError" in result.rationale


def test_a_stopped_run_leaves_no_process_behind():
    code = ("import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()\n"
            "def add(a, b):\n    time.sleep(600)\n")
    result = run_tests(code, TESTS, timeout_s=1.0, memory_mb=333)
    assert not result.passed and "timed out" in result.rationale
    time.sleep(0.2)
    left = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"/code/harness.bin" in cmdline and b"333" in cmdline:
            left.append(proc.name)
    assert left == []


# ---------------------------------------------------------------- without isolation, it says so


def test_without_bwrap_verdicts_hold_and_every_rationale_says_it_is_not_isolated(monkeypatch: pytest.MonkeyPatch):
    missing = Isolation(bwrap=None, seccomp=None, problems=(f"bubblewrap (bwrap) is not installed; {sandbox.INSTALL_HINT}",))
    monkeypatch.setattr(code_module, "isolation", lambda: missing)
    right = run_tests(ADD, TESTS)
    assert right.passed and not right.isolated
    assert "Not isolated: bubblewrap (bwrap) is not installed" in right.rationale
    assert "your user rights and files" in right.rationale and "sandbox" not in right.rationale.lower()
    wrong = run_tests("def add(a, b):\n    return a - b\n", TESTS)
    assert not wrong.passed and "Not isolated" in wrong.rationale
    forged = run_tests("print('ALL TESTS PASSED')\nimport os\nos._exit(0)\n", TESTS)
    assert not forged.passed and "exited before the tests ran" in forged.rationale


def test_a_bwrap_that_cannot_make_namespaces_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    isolation.cache_clear()
    try:
        found = isolation()
        assert found.bwrap is None and not found.complete
        assert "bwrap cannot create its namespaces here (bwrap: No permissions to create new namespace)" in found.describe()
    finally:
        isolation.cache_clear()


# ---------------------------------------------------------------- the verifier


def test_extract_code_takes_the_last_python_block():
    text = "Plan.\n```python\ndef f():\n    return 1\n```\nBetter:\n```python\ndef f():\n    return 2\n```"
    assert extract_code(text) == "def f():\n    return 2\n"
    assert extract_code("def g():\n    return 3") == "def g():\n    return 3"
    assert extract_code("No code here.") is None


def test_the_verifier_scores_the_step_with_the_code():
    task = Task("Write add(a, b)", tests=TESTS)
    steps = ["Add the two numbers.", "The code:\n```python\n" + ADD + "```"]
    scores = asyncio.run(get_verifier("code").score_steps(task, steps))
    assert [(s.label, s.score) for s in scores] == [("unverifiable", 0.5), ("correct", 1.0)]
    assert scores[1].params["isolated"] is True
    broken = ["Add them.", "```python\ndef add(a, b):\n    return a * b\n```"]
    scores = asyncio.run(get_verifier("code").score_steps(task, broken))
    assert scores[1].label == "incorrect" and "AssertionError" in scores[1].rationale
    no_code = asyncio.run(get_verifier("code").score_steps(task, ["I would add them."]))
    assert no_code[0].label == "incorrect" and "no Python code" in no_code[0].rationale
    untested = asyncio.run(get_verifier("code").score_steps(Task("Write add"), steps))
    assert {s.label for s in untested} == {"unverifiable"}


def test_the_verifier_page_warns_when_the_code_verifier_is_not_isolated(store, monkeypatch: pytest.MonkeyPatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT
    from workbench.seeds.engine import load_sample_seeds

    load_sample_seeds(store)
    missing = Isolation(bwrap=None, seccomp=None, problems=("bubblewrap (bwrap) is not installed",))
    monkeypatch.setattr(sandbox, "isolation", lambda: missing)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("views/verifier.py").run()
    assert not at.exception and not at.warning
    next(m for m in at.multiselect if m.label == "Verifiers").set_value(["arithmetic", "code"]).run()
    warnings = [w.value for w in at.warning]
    assert any("Code verifier: Not isolated: bubblewrap (bwrap) is not installed" in w for w in warnings), warnings
