"""CLI start time against sqlite-utils: `python -m benchmarks.cli_start --json`.

Makes one store (the sample seeds, a few jobs), then times, each in a fresh process and in alternating rounds,
`workbench seeds list --json`, `workbench --help` and `workbench jobs list --json` beside `sqlite-utils tables`
on the same store (sqlite-utils' own CLI answering a question about the same file: the floor of a Python CLI
over this store). Prints the best and median wall seconds of each, and each of ours over sqlite-utils' best
(`over_sqlite_utils`; the aim is at most 2). Both run as `python -m`, with the same interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "seeds_list": ["-m", "workbench.cli", "--db", "{db}", "seeds", "list", "--json"],
    "help": ["-m", "workbench.cli", "--help"],
    "jobs_list": ["-m", "workbench.cli", "--db", "{db}", "jobs", "list", "--json"],
    "sqlite_utils_tables": ["-m", "sqlite_utils", "tables", "{db}"],
}


def make_store(path: Path) -> None:
    from workbench.core.jobs import queue
    from workbench.seeds.engine import load_sample_seeds
    from workbench.store import Store

    store = Store(path)
    load_sample_seeds(store)
    for _ in range(3):
        queue.submit(store, "analyse.embed", {})
    store.close()


def timed(argv: list[str], db: Path) -> float:
    """Wall seconds of one run in a fresh interpreter; raises when the command fails."""
    command = [sys.executable, *(part.format(db=db) for part in argv)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_NO_WORKER": "1"}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; each command runs once a round")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "cli.db"
        make_store(db)
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for argv in COMMANDS.values():  # one unmeasured run each: the OS file cache, .pyc files
            timed(argv, db)
        for _ in range(args.rounds):
            for name, argv in COMMANDS.items():
                times[name].append(timed(argv, db))
    best = {name: min(values) for name, values in times.items()}
    floor = best["sqlite_utils_tables"]
    figures = {
        "rounds": args.rounds,
        "best_s": {name: round(value, 3) for name, value in best.items()},
        "median_s": {name: round(statistics.median(values), 3) for name, values in times.items()},
        "over_sqlite_utils": {name: round(value / floor, 2) for name, value in best.items()
                              if name != "sqlite_utils_tables"},
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
