"""Shared fixtures: every test gets its own store; nothing reaches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["WORKBENCH_NO_WORKER"] = "1"

from workbench.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "workbench.db"
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    monkeypatch.setenv("WORKBENCH_EXPORT_DIR", str(tmp_path / "exports"))
    return path


@pytest.fixture
def store(db_path: Path) -> Store:
    opened = Store(db_path)
    yield opened
    opened.close()


# ---------------------------------------------------------------- real app in a real browser

import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningApp:
    """`streamlit run app.py` on a free loopback port over its own store, with its worker."""

    def __init__(self, db: Path, port: int, process: subprocess.Popen) -> None:
        self.db = db
        self.port = port
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    def page_url(self, url_path: str = "") -> str:
        return f"{self.url}/{url_path}"


def kill_workers_of(db_path: Path, settle_s: float = 3.0) -> None:
    """Kill every worker process serving this store, also one the app spawned just before it stopped."""
    deadline = time.time() + settle_s
    while True:
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"workbench.cli" in cmdline and str(db_path).encode() in cmdline and b"worker" in cmdline:
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        if time.time() >= deadline:
            return
        time.sleep(0.5)


@pytest.fixture
def running_app(db_path: Path, tmp_path: Path) -> RunningApp:
    port = free_port()
    env = {**os.environ, "WORKBENCH_DB": str(db_path)}
    env.pop("WORKBENCH_NO_WORKER", None)
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--", "--db", str(db_path)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
    app = RunningApp(db_path, port, process)
    yield app
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    kill_workers_of(db_path)
    log.close()


@pytest.fixture
def browser():
    """Chromium for one test: Playwright's sync API keeps an event loop running while it is open, which
    would break every later test that calls asyncio.run, so it never outlives its test."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


def wait_for_streamlit(page, timeout_ms: int = 60_000) -> None:
    """Wait until the script run finished: the title rendered, no "Running" indicator, the page stable."""
    page.wait_for_selector("[data-testid='stMainBlockContainer'] h1", timeout=timeout_ms)  # every page has a title
    snapshot = (
        "() => [document.querySelectorAll('[data-testid=\"stElementContainer\"]').length,"
        " !!document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running'),"
        " document.querySelectorAll('[data-testid=\"stSkeleton\"]').length]"
    )
    deadline = time.time() + timeout_ms / 1000
    previous, stable = None, 0
    while time.time() < deadline:
        count, running, skeletons = page.evaluate(snapshot)
        current = (count, running, skeletons)
        stable = stable + 1 if current == previous and not running and not skeletons else 0
        if stable >= 3:
            return
        previous = current
        page.wait_for_timeout(300)
    raise TimeoutError("the Streamlit page did not settle")


def assert_no_exception(page) -> None:
    exceptions = page.locator("[data-testid='stException']")
    assert exceptions.count() == 0, exceptions.first.inner_text()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------- the bundled-model demo, built once per session

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sqlite3  # noqa: E402
from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class BundledDemo:
    """The store `workbench demo --json` built on the bundled model (`db`, not to be written: copy it with
    `copy_store`), the JSON line it printed (`printed`) and its export folder (`exports`)."""

    db: Path
    printed: dict
    exports: Path


@pytest.fixture(scope="session")
def bundled_demo(tmp_path_factory: pytest.TempPathFactory) -> BundledDemo:
    """The demo project on the bundled 270M model, built ONCE per test session (several minutes on 2 cores) and
    shared by every test that needs a demo store: each reads it, or a copy of it (`demo_db`)."""
    from workbench.cli import main

    folder = tmp_path_factory.mktemp("bundled-demo")
    db, exports, out = folder / "demo.db", folder / "exports", io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setenv("WORKBENCH_DB", str(db))
        patch.setenv("WORKBENCH_EXPORT_DIR", str(exports))
        code = main(["--db", str(db), "demo", "--json"])
    printed = json.loads(out.getvalue().strip().splitlines()[-1])
    assert code == 0, printed
    return BundledDemo(db, printed, exports)


def copy_store(source: Path, target: Path) -> None:
    """Copy a store file whole (SQLite's online backup: the write-ahead log included)."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture
def demo_db(bundled_demo: BundledDemo, db_path: Path) -> Path:
    """This test's own copy of the session's bundled-model demo store, at `db_path` (the store the app opens)."""
    copy_store(bundled_demo.db, db_path)
    return db_path
