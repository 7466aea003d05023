"""The code verifier: runs the Python a path writes against the tests given with the task, in a sandbox.

The sandbox is a child process in a throwaway directory with a wall-clock time limit, CPU,
memory, file-size and process limits (resource.setrlimit), no network (a fresh network namespace
via `unshare -rn` where the system allows it, and always an audit hook that refuses sockets and
new processes), an empty environment and Python's isolated mode. The step holding the (last) code
block is scored: passing all tests scores 1, a failure, crash or timeout 0 with the error as the
rationale; other steps are unverifiable for this verifier.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from workbench.verifiers.base import CORRECT, INCORRECT, StepScore, Task, unverifiable

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 512
CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)

GUARD = '''
import sys
def _guard(event, args):
    if event.startswith(("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                         "os.fork", "os.forkpty", "pty.spawn", "ctypes.dlopen")):
        raise PermissionError(f"blocked in the sandbox: {event}")
sys.addaudithook(_guard)
del _guard
with open("solution.py", encoding="utf-8") as _f:
    _code = _f.read()
_globals = {"__name__": "__main__"}
exec(compile(_code, "solution.py", "exec"), _globals)
with open("tests.py", encoding="utf-8") as _f:
    _tests = _f.read()
exec(compile(_tests, "tests.py", "exec"), _globals)
print("ALL TESTS PASSED")
'''


@dataclass
class RunResult:
    passed: bool
    rationale: str
    returncode: int | None


def extract_code(text: str) -> str | None:
    """The last fenced Python block of a text, else the text itself when it looks like a definition."""
    blocks = [b for b in CODE_BLOCK.findall(text) if b.strip()]
    if blocks:
        return blocks[-1]
    stripped = text.strip()
    if re.match(r"^(def|class|import|from)\s", stripped):
        return stripped
    return None


@functools.cache
def network_isolation() -> list[str]:
    """`unshare -rn` as a command prefix when this system lets us make a network namespace, else []."""
    unshare = shutil.which("unshare")
    if not unshare:
        return []
    try:
        probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [unshare, "-rn"] if probe.returncode == 0 else []


def _limits(timeout_s: float, memory_mb: int) -> None:
    """Runs in the child before exec: caps memory, CPU, file size and process count."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_tests(code: str, tests: str, timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB) -> RunResult:
    """Run code, then tests, in the sandbox; passed when the tests raise nothing."""
    with tempfile.TemporaryDirectory(prefix="workbench-sandbox-") as workdir:
        for name, content in (("solution.py", code), ("tests.py", tests), ("guard.py", GUARD)):
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as handle:
                handle.write(content)
        command = [*network_isolation(), sys.executable, "-I", "-B", "guard.py"]
        try:
            completed = subprocess.run(
                command, cwd=workdir, env={"PATH": "/usr/bin:/bin", "HOME": workdir, "PYTHONHASHSEED": "0"},
                capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                preexec_fn=functools.partial(_limits, timeout_s, memory_mb), start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            return RunResult(False, f"timed out after {timeout_s:g} s", None)
    output = completed.stdout + completed.stderr
    if completed.returncode == 0 and "ALL TESTS PASSED" in completed.stdout:
        return RunResult(True, "all tests passed", 0)
    if completed.returncode < 0:
        return RunResult(False, f"killed by signal {-completed.returncode} (CPU or memory limit?)\n{_tail(output)}",
                         completed.returncode)
    return RunResult(False, _tail(completed.stderr or completed.stdout) or f"exit status {completed.returncode}",
                     completed.returncode)


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
                scores[-1] = StepScore(0.0, INCORRECT, "the path writes no Python code to test")
            return scores
        index, code = with_code[-1]
        result = await asyncio.to_thread(run_tests, code, task.tests, self.timeout_s, self.memory_mb)
        params = {"timeout_s": self.timeout_s, "memory_mb": self.memory_mb, "returncode": result.returncode}
        scores[index] = StepScore(1.0 if result.passed else 0.0, CORRECT if result.passed else INCORRECT,
                                  result.rationale[:2000], params=params)
        return scores
