"""Page speed at scale: `python -m benchmarks.pages --n 100000 --json`.

Fills a fresh store with the sample seeds and N synthetic samples (lexical metrics, a verifier score on
every tenth one, a map with every item placed), then runs each page twice with AppTest and prints the
second (warm) run's seconds per page. Target: every page script <= 2 s warm at 100k samples.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("WORKBENCH_NO_WORKER", "1")

from benchmarks.maps import build_store, page_warm  # noqa: E402
from workbench.analysis.maps import current_key, current_params  # noqa: E402

PAGES = ["home", "overview", "seeds", "evolution", "magpie", "verifier", "maps", "distributions", "review",
         "export", "jobs", "settings"]


def fill(path: Path, n: int) -> int:
    store = build_store(path, n)
    sample_ids = [row["item_id"] for row in store.analysis_items() if row["item_type"] == "sample"]
    scores = np.random.default_rng(1).choice([0.5, 1.0], size=len(sample_ids))
    store.set_metrics_bulk(
        "sample", [(i, {"best_path_score": float(s)}) for i, s in zip(sample_ids[::10], scores[::10], strict=False)]
    )
    key = current_key(store)
    store.save_projection(key, {**current_params(store).to_dict(), "synthetic": True}, b"")
    items = store.analysis_items()
    coords = np.random.default_rng(0).normal(size=(len(items), 2))
    store.add_projection_points(key, [(it["item_type"], it["item_id"], float(x), float(y))
                                      for it, (x, y) in zip(items, coords, strict=True)])
    count = store.counts()["samples"]
    store.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pages", nargs="+", default=PAGES)
    args = parser.parse_args()
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
