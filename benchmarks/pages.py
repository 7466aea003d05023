"""Page speed: at scale (`python -m benchmarks.pages --n 100000 --json`) and with several users at once
(`python -m benchmarks.pages --concurrent 8 --json`).

At scale: fills a fresh store with the sample seeds and N synthetic samples (lexical metrics, a verifier score on
every tenth one, a map with every item placed), then runs each page twice with AppTest and prints the
second (warm) run's seconds per page. Target: every page script <= 2 s warm at 100k samples.

Several users: starts a fresh server (`streamlit run app.py`) over a fresh store (or `--db`), and N browser users
open it at the same moment, each walking Overview, Verifier, Maps, Review, Distributions and Evolution `--rounds`
times (benchmarks.page_walk). Prints the median and p95 seconds per visit, their ratio (target: p95 within 3x the
median), the pages that showed an exception and the tracebacks in the server log (target: none).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

os.environ.setdefault("WORKBENCH_NO_WORKER", "1")

from benchmarks.maps import build_store, page_warm  # noqa: E402
from workbench.analyse.maps import current_key, current_params  # noqa: E402

PAGES = ["home", "overview", "seeds", "evolution", "magpie", "verifier", "maps", "distributions", "review",
         "export", "jobs", "settings"]


def fill(path: Path, n: int) -> int:
    store = build_store(path, n)
    sample_ids = [row["item_id"] for row in store.analyse.analysis_items() if row["item_type"] == "sample"]
    scores = np.random.default_rng(1).choice([0.5, 1.0], size=len(sample_ids))
    store.metrics.set_metrics_bulk(
        "sample", [(i, {"best_path_score": float(s)}) for i, s in zip(sample_ids[::10], scores[::10], strict=False)]
    )
    key = current_key(store)
    store.analyse.save_projection(key, {**current_params(store).to_dict(), "synthetic": True}, b"")
    items = store.analyse.analysis_items()
    coords = np.random.default_rng(0).normal(size=(len(items), 2))
    store.analyse.add_projection_points(key, [(it["item_type"], it["item_id"], float(x), float(y))
                                      for it, (x, y) in zip(items, coords, strict=True)])
    count = store.overview.counts()["samples"]
    store.close()
    return count


def serve(db: Path, log: Path, start_timeout_s: float = 90.0) -> tuple[subprocess.Popen, str]:
    """A fresh `streamlit run app.py` over `db` on a free loopback port, once it answers its health check:
    (the process, its URL). Its output goes to `log`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key != "WORKBENCH_NO_WORKER"}
    root = Path(__file__).resolve().parent.parent
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--", "--db", str(db)],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.time() + start_timeout_s
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")


def concurrent_figures(users: int, rounds: int, db: Path | None) -> dict:
    """Several users at once on a fresh server: page_walk's figures plus the tracebacks in the server log."""
    from benchmarks.page_walk import walk_at_once

    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "streamlit.log"
        process, url = serve(db or Path(folder) / "pages.db", log)
        try:
            report = walk_at_once(url, users=users, rounds=rounds)
        finally:
            process.terminate()
            process.wait(timeout=30)
        tracebacks = log.read_text(errors="replace").count("Traceback")
    return {"users": users, "rounds": rounds, **report.figures(), "server_tracebacks": tracebacks,
            "problem_lines": report.problems[:10]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pages", nargs="+", default=PAGES)
    parser.add_argument("--concurrent", type=int, metavar="USERS",
                        help="instead: this many browser users walk a fresh server at once")
    parser.add_argument("--rounds", type=int, default=2, help="with --concurrent: walks per user")
    parser.add_argument("--db", type=Path, help="with --concurrent: serve this store (default: a fresh empty one)")
    args = parser.parse_args()
    if args.concurrent:
        figures = concurrent_figures(args.concurrent, args.rounds, args.db)
        print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pages.db"
        started = time.perf_counter()
        samples = fill(path, args.n)
        fill_s = time.perf_counter() - started
        warm = {page: round(page_warm(path, page), 3) for page in args.pages}
    figures = {"n": samples, "fill_s": round(fill_s, 1), "warm_s": warm, "max_warm_s": max(warm.values()),
               "slowest": max(warm, key=warm.get)}
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
