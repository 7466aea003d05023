"""Decontamination scan figures: `python -m benchmarks.decontam --json`.

A fresh store holds N samples (default 100,000) and one registered benchmark of M questions (default 10,000),
all made by construction (no downloads):
- the benchmark: GSM8K-like word problems (savings, travel, recipes; 30-60 words each, every one different);
- the samples: question-and-answer pairs of real datasets' lengths (benchmarks.maps.real_length_items), among
  them `--planted` copies (a benchmark question inside a longer sample, which the scan must flag) and as many
  lookalikes (a benchmark question's template with other names and numbers, which it must leave alone). A
  lookalike may still share half its words in order with ANOTHER benchmark item (the generator's names, jobs and
  small numbers repeat): `lookalikes_flagged_for_their_own_item` counts only flags for the item it imitates.

Embeddings sit in the store's embedding cache, as the product caches them (table `embeddings`, keyed by model
and text hash). By default they are random unit vectors of the bundled model's size (384), so `scan_s` is the
scan alone, with every vector cached: the `decontam_scan` job run by the worker code in this process (read the
corpus and the cached vectors, n-gram index, blockwise similarity, write the hits). The time to embed every
text with the bundled model is measured on `--embed-sample` texts and extrapolated (`embed_all_estimated_s`,
`total_cold_estimated_s`). `--embed-real` embeds every text with the bundled model instead, inside the job
(`scan_s` then includes it: a cold store).
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

from benchmarks.maps import NAMES, real_length_items  # noqa: E402
from workbench.core.embeddings import DEFAULT_MODEL, encode, load_model  # noqa: E402
from workbench.core.jobs import (
    queue,
    worker,  # noqa: E402
)
from workbench.safety.benchmark_sets import register_benchmark  # noqa: E402
from workbench.safety.decontamination import Settings  # noqa: E402
from workbench.safety.job import KIND, Corpus  # noqa: E402
from workbench.store import Store  # noqa: E402

SURNAMES = ["Okafor", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Novak", "Reyes", "Kowalski", "Mensah", "Ivanova",
            "Schulz", "Ferreira", "Nakamura", "O'Brien", "Petrov", "Ahmed", "Rossi", "Jensen", "Kim", "Dubois"]
GOALS = ["bicycle", "laptop", "guitar", "school trip", "telescope", "pair of skates", "camera", "tent", "violin",
         "chess set", "drone", "sewing machine", "microscope", "keyboard", "kayak"]
JOBS = ["walking dogs", "tutoring maths", "washing cars", "mowing lawns", "babysitting", "delivering newspapers",
        "painting fences", "shelving books", "tending a garden", "fixing phones"]
TEMPLATES = [
    "{name} {surname} is saving for a {goal} that costs ${cost}. {name} already has ${saved} and earns ${wage} an "
    "hour {job} after school on weekdays. Each week {name} also spends ${spend} on bus fares. If {name} works "
    "{hours} hours every week, how many weeks will it take to save enough for the {goal}?",
    "A train leaves the station in {town} at {hour} o'clock and travels at {speed} kilometres per hour for "
    "{hours} hours. It then stops for {stop} minutes and continues at {speed2} kilometres per hour for another "
    "{hours2} hours before reaching {town2}. How far is {town2} from {town}, in kilometres?",
    "{name} {surname} is baking for a party of {guests} guests. One batch of the recipe makes {batch} muffins and "
    "needs {flour} grams of flour and {eggs} eggs. {name} wants every guest to get {each} muffins and has {have} "
    "grams of flour at home. How many grams of flour does {name} still need to buy?",
]
TOWNS = ["Aldermoor", "Brightwater", "Caskford", "Dunmere", "Eastvale", "Fernhollow", "Greystone", "Harrowgate",
         "Ivybridge", "Juniper Falls", "Kestrel Point", "Larkspur"]


def benchmark_question(rng: np.random.Generator, index: int) -> str:
    """One GSM8K-like question with its own names and numbers (and its number, so that no two are the same)."""
    town, town2 = (str(t) for t in rng.choice(TOWNS, 2, replace=False))
    values = {
        "name": str(rng.choice(NAMES)), "surname": str(rng.choice(SURNAMES)), "goal": str(rng.choice(GOALS)),
        "job": str(rng.choice(JOBS)), "cost": int(rng.integers(120, 2400)), "saved": int(rng.integers(5, 100)),
        "wage": int(rng.integers(6, 25)), "spend": int(rng.integers(3, 30)), "hours": int(rng.integers(2, 12)),
        "town": town, "town2": town2, "hour": int(rng.integers(5, 12)), "speed": int(rng.integers(40, 160)),
        "stop": int(rng.integers(5, 50)), "speed2": int(rng.integers(40, 160)), "hours2": int(rng.integers(1, 6)),
        "guests": int(rng.integers(8, 90)), "batch": int(rng.integers(6, 24)), "flour": int(rng.integers(150, 600)),
        "eggs": int(rng.integers(1, 5)), "each": int(rng.integers(1, 4)), "have": int(rng.integers(100, 3000)),
    }
    return TEMPLATES[index % len(TEMPLATES)].format(**values) + f" (test item {index})"


def build(path: Path, n_samples: int, n_items: int, planted: int, seed: int = 0) -> dict:
    """The store: a registered benchmark of n_items questions and n_samples samples with `planted` copies
    and `planted` lookalikes; returns the planted sample ids and each lookalike's source item (0-based)."""
    rng = np.random.default_rng(seed)
    questions = [benchmark_question(rng, i) for i in range(n_items)]
    store = Store(path)
    data = "".join(json.dumps({"question": q}) + "\n" for q in questions).encode()
    register_benchmark(store, data, "synthetic-gsm.jsonl", "question", "synthetic-gsm")
    items = real_length_items(n_samples - 2 * planted, seed + 1)
    picked = rng.choice(n_items, planted, replace=False)
    copies = [{"instruction": f"Solve this word problem step by step and explain each step. {questions[k]} "
                              "Give the final answer on its own line.", "output": "Let us work through it."} for k in picked]
    lookalikes = [{"instruction": benchmark_question(rng, int(k)).rsplit(" (test item", 1)[0],
                   "output": "Let us work through it."} for k in picked]
    rows = items + copies + lookalikes
    ids: list[int] = []
    for start in range(0, len(rows), 5000):
        ids += store.samples.insert_samples([{"source": "import", **row, "unit_key": f"bench-{start + i}"}
                                     for i, row in enumerate(rows[start : start + 5000])])
    store.close()
    lookalike_ids = ids[len(items) + planted :]
    return {"copies": set(ids[len(items) : len(items) + planted]), "lookalikes": set(lookalike_ids),
            "lookalike_source": dict(zip(lookalike_ids, (int(k) for k in picked), strict=True))}


def cache_random_vectors(path: Path, dim: int = 384, seed: int = 0) -> int:
    """Random unit vectors in the embedding cache for every sample's and benchmark item's text (the product's
    keys: the default model and the text hash). Returns how many texts."""
    store = Store(path)
    hashes = list(dict.fromkeys(Corpus(store).hashes + store.safety.benchmark_items(1)["text_hash"]))
    rng = np.random.default_rng(seed)
    for start in range(0, len(hashes), 10000):
        chunk = hashes[start : start + 10000]
        vectors = rng.standard_normal((len(chunk), dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.embeddings.put_embeddings(DEFAULT_MODEL, dim, ((h, v.tobytes()) for h, v in zip(chunk, vectors, strict=True)))
    store.close()
    return len(hashes)


def embed_rate(path: Path, n: int) -> float:
    """Texts per second of the bundled model on n of the store's sample task texts (model already loaded)."""
    store = Store(path)
    texts = [row["text"] for row in store.safety.decontam_unembedded(DEFAULT_MODEL) if row["kind"] == "sample"][:n]
    store.close()
    load_model(DEFAULT_MODEL)
    encode(texts[:16])
    started = time.perf_counter()
    encode(texts)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--planted", type=int, default=1000, help="copies of benchmark questions (and as many lookalikes)")
    parser.add_argument("--embed-sample", type=int, default=1000, help="texts the embedding rate is measured on")
    parser.add_argument("--embed-real", action="store_true", help="embed every text with the bundled model in the scan job")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        planted = build(path, args.samples, args.items, args.planted)
        build_s = time.perf_counter() - started
        rate = embed_rate(path, args.embed_sample)
        texts = None if args.embed_real else cache_random_vectors(path)
        store = Store(path)
        job_id = queue.submit(store, KIND, {"settings": Settings().__dict__, "similarity": True, "concurrency": 1})
        started, cpu = time.perf_counter(), time.process_time()
        worker.run_worker(path, exit_when_idle=True, log=lambda message: None)
        scan_s, scan_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        job = store.jobs.get_job(job_id)
        if job["status"] != "done" or job["failed_units"]:
            raise RuntimeError(f"scan ended {job['status']}: {job['error'] or store.jobs.unit_errors(job_id)}")
        hits = store.safety.contamination_hits("sample")
        flagged = {h["item_id"] for h in hits}
        own_item = sum(planted["lookalike_source"].get(h["item_id"]) == h["item_index"] for h in hits)
        unique_texts = texts or store.embeddings.embedding_count(DEFAULT_MODEL)
        store.close()
    figures = {
        "samples": args.samples, "benchmark_items": args.items, "ngram": Settings().ngram,
        "embeddings": "computed in the scan job with the bundled model (included in scan_s)" if args.embed_real
        else "cached in the store (random 384-d unit vectors); embedding time not included in scan_s",
        "scan_s": round(scan_s, 1), "scan_cpu_s": round(scan_cpu_s, 1), "target_s": 60,
        "flagged": len(flagged), "planted_copies": len(planted["copies"]),
        "planted_copies_flagged": len(flagged & planted["copies"]),
        "lookalikes_flagged": len(flagged & planted["lookalikes"]),
        "lookalikes_flagged_for_their_own_item": own_item,
        "other_samples_flagged": len(flagged - planted["copies"] - planted["lookalikes"]),
        "embed_rate_texts_per_s": round(rate, 1), "texts_to_embed": unique_texts,
        "embed_all_estimated_s": round(unique_texts / rate, 1),
        "total_cold_estimated_s": round(scan_s + (0 if args.embed_real else unique_texts / rate), 1),
        "build_store_s": round(build_s, 1), "cores": os.cpu_count(),
    }
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
