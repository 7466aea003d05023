"""Isolation for code the verifier runs: bubblewrap namespaces plus a seccomp filter, and an honest account of it.

Each sandboxed Python process is started by bubblewrap (`bwrap`, Debian package `bubblewrap`) with:

- a read-only view of the system (`/usr` and its `/bin`, `/lib*` links) and of the Python installation the
  app runs on, at its own path (which may lie in the home, as pyenv's does; nothing else of the home is
  there), and nothing else of the machine: no home, no /etc, no /tmp, no store, no project; the root
  itself is read-only, so no folder can be made outside the private one;
- its own empty writable folder, `/sandbox` (a tmpfs of `TMPFS_MB`, gone when the process ends), as working
  directory, HOME and TMPDIR, plus its input file read-only under `/code`;
- new user, PID, network, IPC, UTS and cgroup namespaces (no network at all), all capabilities dropped,
  a new session, and death with its parent;
- a seccomp filter (compiled with libseccomp through `pyseccomp`) that refuses new processes (fork, vfork,
  clone without CLONE_THREAD; threads still work), namespace and mount calls, ptrace and
  process_vm_readv/writev, bpf, perf_event_open, userfaultfd, io_uring and the kernel keyring.

The harness inside sets hard limits on address space, CPU seconds and file size. Where bwrap or the
filter is unavailable, `isolation()` says what is missing and why, and the code runs with the limits
and an audit hook only: with the user's rights and file system, which the verifier then states in every
rationale and on the Verifier page; it never calls that a sandbox.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TMPFS_MB = 64
SANDBOX_DIR = "/sandbox"
CODE_DIR = "/code"
PROBE_TIMEOUT_S = 20.0
CLONE_THREAD = 0x00010000
# Calls that make or reach other processes, namespaces or kernel facilities a solution never needs.
REFUSED_CALLS = ("fork", "vfork", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "ptrace",
                 "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "userfaultfd", "keyctl",
                 "add_key", "request_key", "io_uring_setup", "open_tree", "move_mount", "fsopen", "fsmount",
                 "fspick", "mount_setattr")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"


@dataclass(frozen=True)
class Isolation:
    """What this machine gives the code verifier: bwrap's namespaces, the seccomp filter, and why not."""

    bwrap: str | None
    seccomp: bytes | None
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.bwrap is not None and self.seccomp is not None

    def describe(self) -> str:
        """One sentence for the page and for rationales."""
        if self.complete:
            return ("Isolated with bubblewrap: read-only system, an empty private folder, no network, "
                    "no new processes, time, memory and file-size limits.")
        problems = "; ".join(self.problems)
        if self.bwrap:
            return (f"Partly isolated: the file system is isolated and the network cut, but {problems}. The code "
                    f"runs with the time, memory and file-size limits.")
        return (f"Not isolated: {problems}. The code runs with the time, memory and file-size limits, and "
                f"with your user rights and files.")


def _python() -> tuple[str, list[str]]:
    """The base interpreter (outside any virtualenv) and the folders it needs, read-only."""
    executable = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    folders = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix),
               os.path.dirname(executable)}
    needed = sorted(f for f in folders if not f.startswith("/usr/") and f != "/usr")
    # keep only outermost folders: bwrap binds each once
    outermost = [f for f in needed if not any(f != o and f.startswith(o + "/") for o in needed)]
    return executable, outermost


def python_command(source: str, args: list[str]) -> list[str]:
    executable, _ = _python()
    return [executable, "-I", "-S", "-B", "-X", "utf8", "-c", source, *args]


def environment(home: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}


def bwrap_prefix(bwrap: str, code_dir: str, seccomp_fd: int | None) -> list[str]:
    """The bwrap arguments that put a command in the sandbox described above."""
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    for key, value in environment(SANDBOX_DIR).items():
        args += ["--setenv", key, value]
    args += ["--ro-bind", "/usr", "/usr"]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for folder in _python()[1]:
        args += ["--ro-bind", folder, folder]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--dev", "/dev",
             "--size", str(TMPFS_MB * 1024 * 1024), "--tmpfs", SANDBOX_DIR,
             "--ro-bind", code_dir, CODE_DIR, "--remount-ro", "/", "--chdir", SANDBOX_DIR]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args


def seccomp_filter() -> bytes:
    """The compiled BPF program bwrap loads before it starts the command (raises when libseccomp is missing)."""
    import pyseccomp as seccomp

    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for call in REFUSED_CALLS:
        try:
            rules.add_rule(refuse, call)
        except (OSError, RuntimeError, ValueError):  # a call this architecture does not have
            continue
    rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # glibc then falls back to clone for threads
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def filter_pipe(program: bytes) -> int:
    """A pipe's read end holding the filter, for `bwrap --seccomp FD` (the program fits a pipe's buffer)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)
    finally:
        os.close(write_end)
    return read_end


def _probe(bwrap: str, program: bytes | None) -> str | None:
    """Start a trivial Python in the sandbox; None when it works, else bwrap's complaint."""
    with tempfile.TemporaryDirectory(prefix="workbench-probe-") as code_dir:
        seccomp_fd = filter_pipe(program) if program is not None else None
        command = [*bwrap_prefix(bwrap, code_dir, seccomp_fd),
                   *python_command("import os, sys; os.listdir('/code'); print('ok')", [])]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL, pass_fds=[seccomp_fd] if seccomp_fd else [])
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
    if done.returncode == 0 and done.stdout.strip() == "ok":
        return None
    return (done.stderr.strip() or f"exit status {done.returncode}").splitlines()[-1]


@functools.cache
def isolation() -> Isolation:
    """Find out once per process what isolation works here (about 0.1 s)."""
    problems: list[str] = []
    try:
        program: bytes | None = seccomp_filter()
    except Exception as exc:  # ImportError, or libseccomp missing (OSError / RuntimeError from ctypes)
        program = None
        problems.append(f"no seccomp filter, so new processes are not refused by the kernel "
                        f"(libseccomp2 and pyseccomp are needed: {type(exc).__name__}: {exc})")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        problems.append(f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}")
    else:
        complaint = _probe(bwrap, program)
        if complaint is not None and program is not None and _probe(bwrap, None) is None:
            problems.append(f"bwrap cannot load the seccomp filter here ({complaint})")
            program = None
        elif complaint is not None:
            problems.append(f"bwrap cannot create its namespaces here ({complaint}); user namespaces may be "
                            f"disabled (sysctl kernel.unprivileged_userns_clone or a container's profile)")
            bwrap = None
    return Isolation(bwrap=bwrap, seccomp=program, problems=tuple(problems))


@functools.cache
def unshare_network() -> tuple[str, ...]:
    """`unshare -rn` as a prefix when bwrap is missing but this system lets us cut the network that way."""
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    try:
        probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return (unshare, "-rn") if probe.returncode == 0 else ()


def spawn(isolated: Isolation, program: str, args: list[str], code_dir: Path, work_dir: Path, stderr: Path,
          pass_fds: list[int]) -> subprocess.Popen:
    """Start `python -c program args` in the sandbox (or, without bwrap, in `work_dir` with the user's rights).

    `code_dir` is seen read-only as CODE_DIR; `args` name its files as CODE_DIR/<name>, rewritten to
    `code_dir` without bwrap. The process's stderr goes to the file `stderr` (outside the sandbox).
    """
    fds = list(pass_fds)
    seccomp_fd = None
    if isolated.bwrap is not None:
        if isolated.seccomp is not None:
            seccomp_fd = filter_pipe(isolated.seccomp)
            fds.append(seccomp_fd)
        command = [*bwrap_prefix(isolated.bwrap, str(code_dir), seccomp_fd), *python_command(program, args)]
        env, cwd = None, None
    else:
        args = [a.replace(CODE_DIR + "/", f"{code_dir}/", 1) if a.startswith(CODE_DIR + "/") else a for a in args]
        command = [*unshare_network(), *python_command(program, args)]
        env, cwd = environment(str(work_dir)), str(work_dir)
    try:
        with open(stderr, "wb") as errors:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                                    pass_fds=fds, env=env, cwd=cwd, start_new_session=True)
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
