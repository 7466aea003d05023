"""Magpie filter throughput: exchanges per second through every filter against a store-sized duplicate index.

`python -m benchmarks.magpie_filters --json` prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from workbench.magpie.engine import DuplicateIndex, FilterSettings, filter_turn, get_template

WORDS = (
    "how why what explain describe compare write list give the a of in for with about between water energy market "
    "python function prime number river history poem budget protein orbit vaccine language graph tree loop"
).split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--known", type=int, default=10_000, help="texts already in the index (seeds + samples)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(0)
    index = DuplicateIndex(similarity=90.0)
    started = time.perf_counter()
    for number in range(args.known):
        index.add(sentence(rng, rng.randint(6, 16)), f"sample {number}")
    build_s = time.perf_counter() - started
    template, settings = get_template("gemma"), FilterSettings()
    filter_turn("Warm up the language identifier?", "Yes.", template, settings)
    exchanges = [(sentence(rng, rng.randint(6, 16)), sentence(rng, 40)) for _ in range(args.queries)]
    started = time.perf_counter()
    dropped = 0
    for query, answer in exchanges:
        dropped += bool(filter_turn(query, answer, template, settings) or index.match(query))
    filter_s = time.perf_counter() - started
    figures = {
        "benchmark": "magpie_filters",
        "known_texts": args.known,
        "queries": args.queries,
        "index_build_s": round(build_s, 3),
        "exchanges_per_s": round(args.queries / filter_s, 1),
        "dropped": dropped,
    }
    print(json.dumps(figures) if args.json else figures)


if __name__ == "__main__":
    main()
