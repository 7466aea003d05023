"""Export speed and memory: `python -m benchmarks.export --n 100000 --json`.

Builds a store of N approved, PII-scanned samples (each with two 3-step scored reasoning paths, one the gate passes
and one it fails, so the chat layouts ship a verified path and the preference layouts have pairs), then
exports it once per format, each in a fresh process that reports its wall time and peak RSS. The
same is done for a store of N/5 side by side: memory flat in N shows as equal peaks.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.export.engine import FORMATS, ExportOptions, export
from workbench.store import Store

CLEAN = {"engine": "ner", "note": "benchmark", "scanned_at": 0.0, "findings": []}


def build_store(path: Path, n: int) -> None:
    store = Store(path)
    with store.transaction():
        for start in range(0, n, 5000):
            batch = [
                {"source": "evol", "instruction": f"Task {i}: add {i} and {i + 1}, then explain each step.",
                 "output": f"The sum is {2 * i + 1}.", "status": "approved", "model": "local/gemma-3-270m",
                 "params": {"temperature": 0.7}}
                for i in range(start, min(n, start + 5000))
            ]
            ids = store.samples.insert_samples(batch)
            scores = []
            for sample_id in ids:  # a path the gate passes and one it fails: chat rows ship a path, pairs are made
                for index, last in enumerate((2 * sample_id + 1, 2 * sample_id + 2)):
                    steps = [f"Write {sample_id}.", "Add one.", f"Answer: {last}"]
                    path_id = store.verify.add_reasoning_path(
                        {"task_type": "sample", "task_id": sample_id, "path_index": index, "text": "\n".join(steps)}, steps
                    )
                    scores += [
                        {"step_id": step["id"], "verifier": "bench", "score": 1.0 if index == 0 or step["idx"] < 2 else 0.0,
                         "label": "correct" if index == 0 or step["idx"] < 2 else "incorrect"}
                        for step in store.verify.path_steps(path_id)
                    ]
            store.verify.set_step_scores(scores)
            store.samples.set_sample_pii(dict.fromkeys(ids, CLEAN))
    store.close()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(db: Path, fmt: str, out_dir: Path) -> dict:
    store = Store(db)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    result = export(store, ExportOptions(fmt=fmt, overwrite=True), f"bench.{fmt}", out_dir)
    return {"seconds": round(time.perf_counter() - started, 2), "rows": result.written,
            "peak_rss_mb": round(peak_rss_mb(), 1), "rss_growth_mb": round(peak_rss_mb() - baseline, 1),
            "bytes": result.path.stat().st_size}


def measure(db: Path, fmt: str, out_dir: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.export", "--child", str(db), "--format", fmt, "--out-dir", str(out_dir)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def report_formats(figures: dict, sizes: list[int], as_json: bool) -> None:
    """Add the headline figures of a per-format run at N/5 and N (`max_seconds_at_n`, `peak_rss_ratio_n_over_n5`)
    and print them: one JSON line, or a line per format."""
    big, small = str(sizes[1]), str(sizes[0])
    figures["max_seconds_at_n"] = max(f[big]["seconds"] for f in figures["formats"].values())
    figures["peak_rss_ratio_n_over_n5"] = round(
        max(f[big]["peak_rss_mb"] / f[small]["peak_rss_mb"] for f in figures["formats"].values()), 2
    )
    if as_json:
        print(json.dumps(figures))
    else:
        for fmt, by_size in figures["formats"].items():
            print(fmt, {size: (m["seconds"], m["peak_rss_mb"]) for size, m in by_size.items()})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.format, args.out_dir)))
        return
    sizes = [max(1, args.n // 5), args.n]
    figures: dict = {"n": args.n, "sizes": sizes, "formats": {}}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            db = Path(folder) / f"bench-{size}.db"
            started = time.perf_counter()
            build_store(db, size)
            figures[f"build_s_{size}"] = round(time.perf_counter() - started, 1)
            for fmt in args.formats:
                figures["formats"].setdefault(fmt, {})[str(size)] = measure(db, fmt, Path(folder) / "out")
    report_formats(figures, sizes, args.json)


if __name__ == "__main__":
    main()
