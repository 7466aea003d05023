"""Seed import speed: an Alpaca-sized JSON file (52k records, pretty-printed like alpaca_data.json) and GSM8K-style
JSONL (worked solutions split into answer and solution), read, validated and stored in one transaction.

`python -m benchmarks.seed_import --n 52000 --json` prints one JSON line: seconds and seeds/s per file, and the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from workbench.seeds.engine import import_seeds
from workbench.store import Store


def alpaca(rng: random.Random, n: int) -> bytes:
    records = [{"instruction": f"Explain idea {i} of topic {rng.random():.6f} to a new student.",
                "input": " ".join(["some context"] * rng.randint(0, 12)),
                "output": "A careful answer sentence. " * rng.randint(5, 40)} for i in range(n)]
    return json.dumps(records, indent=4).encode()


def gsm8k(rng: random.Random, n: int) -> bytes:
    lines = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        answer = f"She buys {a} boxes of {b}: {a}*{b}=<<{a}*{b}={a * b}>>{a * b} items.\n#### {a * b}"
        lines.append(json.dumps({"question": f"Problem {i}: {a} boxes of {b} items. How many items?", "answer": answer}))
    return "\n".join(lines).encode()


def timed_import(data: bytes, name: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        started = time.perf_counter()
        result = import_seeds(store, data, name)
        seconds = time.perf_counter() - started
        store.close()
    return {"seeds": result.imported, "megabytes": round(len(data) / 1e6, 1), "seconds": round(seconds, 2),
            "seeds_per_s": round(result.imported / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=52_000, help="records per file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(0)
    figures = {
        "alpaca_json": timed_import(alpaca(rng, args.n), "alpaca_data.json"),
        "gsm8k_jsonl": timed_import(gsm8k(rng, args.n), "train.jsonl"),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
