"""The code verifier's sandbox: tests pass or fail, and time, memory and network are fenced off."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path

import pytest

from workbench.verifiers import get_verifier
from workbench.verifiers.base import Task
from workbench.verifiers.code import extract_code, run_tests

ADD = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"


def test_passing_code_passes_and_failing_code_names_the_assertion():
    assert run_tests(ADD, TESTS).passed
    result = run_tests("def add(a, b):\n    return a - b\n", TESTS)
    assert not result.passed and "AssertionError" in result.rationale and "tests.py" in result.rationale


def test_a_crash_is_a_failure_with_the_error():
    result = run_tests("def add(a, b):\n    return a + undefined_name\n", TESTS)
    assert not result.passed and "NameError" in result.rationale


def test_an_endless_loop_is_stopped_by_the_time_limit():
    result = run_tests("while True:\n    pass\n", TESTS, timeout_s=1.5)
    assert not result.passed and result.rationale == "timed out after 1.5 s"


def test_a_memory_hog_is_stopped_by_the_memory_limit():
    result = run_tests("block = bytearray(1024 * 1024 * 1024)\n", "", memory_mb=256)
    assert not result.passed and "MemoryError" in result.rationale


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
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n"
    result = run_tests(code, "")
    assert not result.passed
    assert accepted == []  # the connection never reached the host's loopback


def test_no_new_processes():
    result = run_tests("import subprocess\nsubprocess.run(['true'])\n", "")
    assert not result.passed and "blocked in the sandbox" in result.rationale


def test_runs_in_a_throwaway_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    code = "import os, json\nopen('left.txt', 'w').write('x')\nprint(json.dumps(os.getcwd()))\n"
    result = run_tests(code, "import os\nassert os.listdir('.') and 'left.txt' in os.listdir('.')")
    assert result.passed
    assert list(tmp_path.iterdir()) == []  # nothing written where we run


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
    broken = ["Add them.", "```python\ndef add(a, b):\n    return a * b\n```"]
    scores = asyncio.run(get_verifier("code").score_steps(task, broken))
    assert scores[1].label == "incorrect" and "AssertionError" in scores[1].rationale
    no_code = asyncio.run(get_verifier("code").score_steps(task, ["I would add them."]))
    assert no_code[0].label == "incorrect" and "no Python code" in no_code[0].rationale
    untested = asyncio.run(get_verifier("code").score_steps(Task("Write add"), steps))
    assert {s.label for s in untested} == {"unverifiable"}


def test_a_real_seed_solution_passes_its_seed_tests():
    from tests.conftest import ROOT

    seed = json.loads((ROOT / "sample_seeds" / "code.jsonl").read_text().splitlines()[0])
    assert run_tests(seed["reference_answer"], seed["tests"]).passed
    assert not run_tests("def is_palindrome(s):\n    return s == s[::-1]\n", seed["tests"]).passed
