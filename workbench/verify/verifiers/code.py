"""The code verifier: runs the Python a path writes against the task's tests, so that the code cannot forge the verdict.

Two sandboxed processes take part (see `sandbox.py` for the isolation and `code_harness.py` for the
protocol between them):

- the solution's process loads the solution and only answers requests; it holds no channel to the verdict;
- the tests' process runs the tests against proxies of the solution's names and alone writes the verdict,
  on a pipe the solution's process never sees, and only after the test code ran to its end.

What this guarantees:

- A verdict of "passed" means the tests themselves ran to their end in a process the solution cannot reach.
  Printing "ALL TESTS PASSED", exiting with status 0, killing itself or looping during import fail with
  the reason ("the solution exited before the tests ran", "timed out while the solution loaded").
- Results are compared as the tests mean them: values cross as plain data and are compared in the tests'
  process; an object that is not plain data is compared only with objects of its own class, so an object
  that claims equality with everything fails; one derived from a built-in type is compared by its
  built-in value; arithmetic between such an object and a test value that yields plain data is refused.
- With bubblewrap and the seccomp filter (`isolation().complete`): the code sees a read-only system and an
  empty private folder, nothing of the user's home, the store or the project; no network; no new
  processes; and limits on time, memory (address space), CPU, file size and the folder's size. Whatever
  it writes disappears with it.

What it does not guarantee:

- It is not a security boundary against a determined attacker: the Linux kernel, bubblewrap and the
  harness are the whole defence, and a kernel hole defeats them. Python-level checks (the audit hook, the
  proxies) stop honest mistakes and the known reward hacks, not arbitrary native code.
- The solution's process can answer each call with any plain value it computes: the verifier proves that
  the tests passed, not that the code is free of special cases for the tests' inputs.
- Semantics differ from running in one process where the tests rely on shared identity: arguments cross
  by copy (changes to list, dict, set and bytearray arguments are copied back when a call returns), and
  objects that are not plain data stay in the solution's process. Only the standard library is available.
- Without bubblewrap or libseccomp (`isolation()` says which), the code runs with the user's rights and
  files; every rationale and the Verifier page then say so.

The step holding the (last) code block is scored: passing all tests scores 1, anything else 0 with the
reason as the rationale; other steps are unverifiable for this verifier.
"""

from __future__ import annotations

import asyncio
import functools
import json
import marshal
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from workbench.verify.verifiers.base import CORRECT, INCORRECT, OUTCOME, StepScore, Task, unverifiable
from workbench.verify.verifiers.sandbox import CODE_DIR, Isolation, isolation, spawn

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 512
MAX_REPORT_BYTES = 1024 * 1024
CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
SIGNAL_REASONS = {signal.SIGKILL: "killed", signal.SIGXCPU: "CPU time limit", signal.SIGXFSZ: "file size limit",
                  signal.SIGSEGV: "crashed", signal.SIGABRT: "aborted"}


@dataclass
class RunResult:
    """The verdict of one run: `stage` is where it ended ("load", "tests"); `returncode` is the solution
    process's exit status when it ended by itself; `isolated` whether bwrap and the filter were in force."""

    passed: bool
    rationale: str
    stage: str = "tests"
    returncode: int | None = None
    isolated: bool = True


def extract_code(text: str) -> str | None:
    """The last fenced Python block of a text, else the text itself when it looks like a definition."""
    blocks = [b for b in CODE_BLOCK.findall(text) if b.strip()]
    if blocks:
        return blocks[-1]
    stripped = text.strip()
    if re.match(r"^(def|class|import|from)\s", stripped):
        return stripped
    return None


# The harness is compiled once here and handed over as marshalled code (same interpreter version inside).
BOOTSTRAP = "import marshal, sys; exec(marshal.loads(open(sys.argv.pop(1), 'rb').read()))"


@functools.cache
def harness_code() -> bytes:
    path = Path(__file__).with_name("code_harness.py")
    return marshal.dumps(compile(path.read_text(encoding="utf-8"), "code_harness.py", "exec"))


def exit_status(returncode: int | None, through_bwrap: bool) -> str:
    """'exit status 3' or 'killed by signal 9 (killed)'; bwrap reports a signal as 128 + its number."""
    if returncode is None:
        return "still running"
    number = -returncode if returncode < 0 else returncode - 128 if through_bwrap and returncode > 128 else 0
    if number:
        reason = SIGNAL_REASONS.get(number)
        return f"killed by signal {number}" + (f", {reason}" if reason else "")
    return f"exit status {returncode}"


def _read_report(fd: int, deadline: float) -> tuple[list[dict], bool]:
    """JSON lines from the tests' report pipe until the verdict, its end, or the deadline (then timed out)."""
    events: list[dict] = []
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return events, True
        chunk = os.read(fd, 65536)
        if not chunk:
            return events, False
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                event = json.loads(line)
            except ValueError:  # a torn line from a dying process is no event
                continue
            events.append(event)
            if event.get("event") == "verdict":
                return events, False
        if len(buffer) > MAX_REPORT_BYTES:
            return events, False


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_tests(code: str, tests: str, timeout_s: float = DEFAULT_TIMEOUT_S,
              memory_mb: int = DEFAULT_MEMORY_MB) -> RunResult:
    """Load `code` in one sandboxed process and run `tests` against it from another; see the module doc."""
    isolated = isolation()
    run_dir = Path(tempfile.mkdtemp(prefix="workbench-code-"))
    try:
        result = _run(code, tests, timeout_s, memory_mb, isolated, run_dir)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    result.isolated = isolated.complete
    if not isolated.complete:
        result.rationale += "\n" + isolated.describe()
    return result


def _run(code: str, tests: str, timeout_s: float, memory_mb: int, isolated: Isolation, run_dir: Path) -> RunResult:
    for role, name, text in (("solution", "solution.py", code), ("tests", "tests.py", tests)):
        (run_dir / role).mkdir()
        (run_dir / f"{role}-work").mkdir()
        (run_dir / role / name).write_text(text, encoding="utf-8")
        (run_dir / role / "harness.bin").write_bytes(harness_code())
    to_solution = os.pipe()
    to_tests = os.pipe()
    report = os.pipe()
    limits = [str(memory_mb), str(int(timeout_s) + 1)]
    deadline = time.monotonic() + timeout_s
    processes: dict[str, subprocess.Popen] = {}
    try:
        for role, fds in (("solution", [to_solution[0], to_tests[1]]),
                          ("tests", [to_tests[0], to_solution[1], report[1]])):
            args = [f"{CODE_DIR}/harness.bin", role, f"{CODE_DIR}/{role}.py", *map(str, fds), *limits]
            processes[role] = spawn(isolated, BOOTSTRAP, args, run_dir / role, run_dir / f"{role}-work",
                                    run_dir / f"{role}.err", fds)
    except OSError as exc:
        for process in processes.values():
            _stop(process)
        return RunResult(False, f"could not start the code's process: {exc}", stage="load")
    finally:
        for fd in (*to_solution, *to_tests, report[1]):
            os.close(fd)
    try:
        events, timed_out = _read_report(report[0], deadline)
    finally:
        os.close(report[0])
    verdict = next((e for e in events if e.get("event") == "verdict"), None)
    loaded = any(e.get("event") == "loaded" for e in events)
    solution_status = None
    if verdict is not None and verdict.get("reason") == "solution_ended":
        try:
            solution_status = processes["solution"].wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    for process in processes.values():
        _stop(process)
    through_bwrap = isolated.bwrap is not None
    if verdict is not None:
        stage = str(verdict.get("stage", "tests"))
        if verdict.get("passed") is True:
            return RunResult(True, "all tests passed", stage="tests")
        detail = str(verdict.get("detail", ""))
        if verdict.get("reason") == "solution_ended":
            status = exit_status(solution_status, through_bwrap)
            if stage == "load":
                return RunResult(False, f"the solution exited before the tests ran ({status})", "load", solution_status)
            first, _, rest = detail.partition("\n")
            return RunResult(False, f"{first} ({status})" + (f"\n{rest}" if rest else ""), stage, solution_status)
        return RunResult(False, detail or "the tests failed", stage)
    if timed_out:
        where = "while the tests ran" if loaded else "while the solution loaded; the tests never ran"
        return RunResult(False, f"timed out after {timeout_s:g} s {where}", "tests" if loaded else "load")
    tests_status = exit_status(processes["tests"].returncode, through_bwrap)
    errors = _tail(run_dir / "tests.err")
    return RunResult(False, f"the tests' process ended without a verdict ({tests_status})"
                     + (f":\n{errors}" if errors else ""), "tests" if loaded else "load")


class CodeVerifier:
    """Scores the step that holds the solution code by running the task's tests against it."""

    name = "code"

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        scores = [unverifiable("no code in this step") for _ in steps]
        if not task.tests:
            return [unverifiable("the task has no tests to run") for _ in steps]
        located = [(i, extract_code(s)) for i, s in enumerate(steps)]
        with_code = [(i, c) for i, c in located if c]
        if not with_code:
            if steps:
                scores[-1] = StepScore(0.0, INCORRECT, "the path writes no Python code to test", checks=OUTCOME)
            return scores
        index, code = with_code[-1]
        result = await asyncio.to_thread(run_tests, code, task.tests, self.timeout_s, self.memory_mb)
        params = {"timeout_s": self.timeout_s, "memory_mb": self.memory_mb, "stage": result.stage,
                  "returncode": result.returncode, "isolated": result.isolated}
        scores[index] = StepScore(1.0 if result.passed else 0.0, CORRECT if result.passed else INCORRECT,
                                  result.rationale[:2000], params=params, checks=OUTCOME)
        return scores
