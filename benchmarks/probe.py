"""The failure probe against the loopback server: its throughput beside the evolve job's, and its exactness.

    python -m benchmarks.probe --json [--calls 2000] [--concurrency 64] [--latency 0.1] [--rounds 2] [--k 4]

Throughput: a loopback OpenAI-compatible server (own process, fixed latency) answers every call. In every round, a
real evolve job (depth 1, the same job benchmarks/orchestration.py measures) and a real probe job (k attempts on
calls / k seeds, each attempt checked against the seed's reference answer) are queued in fresh stores and run by
the worker in this process, alternating which goes first; each keeps its best round (the CPUs are shared). The
evolve job's figure is the server's requests per second; the probe's is its attempts per second (its one
reachability call aside). The probe's replies are scripted ("Step 1: ... Answer: n", right or wrong by turn) so that
every attempt is parsed and checked, as in real use. Target: probe_over_evolve >= 0.9. Beside the rates, each
contender's CPU milliseconds per call in this process (the worker's), less noisy than rates on shared CPUs.

Exactness: a scripted student answers a chosen set of seeds always wrong, another set right on every other attempt,
the rest always right. The known failures must be exactly the always-wrong set, and each seed's pass@1 and pass@k
must equal the values computed here from the script by Chen et al.'s formula. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from math import comb
from pathlib import Path

from benchmarks.loopback_server import configure, reset_stats, serve, stats
from benchmarks.orchestration import factory, seed_texts
from workbench.core.jobs import worker
from workbench.store import Store
from workbench.student.job import submit_probe


def student(url: str, concurrency: int) -> dict:
    return {"model": "openai/loopback", "api_base": url, "extra": {"api_key": "x"}, "concurrency": concurrency,
            "max_retries": 0}


def arithmetic_seeds(n: int) -> list[tuple[str, int]]:
    """(instruction, its answer): 'Problem i: a shop sells ...' with a distinct marker per seed."""
    return [(f"Problem {i}: a shop sells {i % 17 + 2} apples at {i % 9 + 1} dollars each. What is the total cost?",
             (i % 17 + 2) * (i % 9 + 1)) for i in range(n)]


def run_probe(db_path: Path, url: str, seeds: list[tuple[str, int]], k: int, concurrency: int) -> tuple[int, dict]:
    """A probe job over `seeds` in a fresh store, run by the worker here; returns (job id, the job row)."""
    store = Store(db_path)
    store.seeds.insert_seeds([{"instruction": text, "reference_answer": str(answer), "domain": "math"}
                        for text, answer in seeds])
    job_id = submit_probe(store, "seeds", student={**student(url, concurrency), "k": k})
    store.close()
    worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    store = Store(db_path)
    job = store.jobs.get_job(job_id)
    store.close()
    return job_id, job


def probe_throughput(url: str, n_seeds: int, k: int, concurrency: int, summary: dict) -> float:
    """Attempts per second of one probe job whose replies are scripted answers, right or wrong by turn."""
    configure(url, script=[{"contains": "Problem ", "replies": ["Step 1: 3 * 4 = 12.\nAnswer: 12",
                                                                "Step 1: 3 * 4 = 13.\nAnswer: 13"]}])
    try:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            _, job = run_probe(Path(folder) / "probe.db", url, arithmetic_seeds(n_seeds), k, concurrency)
            elapsed = time.perf_counter() - started
    finally:
        configure(url, script=[])
    summary.update(status=job["status"], failed_units=job["failed_units"], attempts=job["done_units"],
                   model_calls=job["model_calls"])
    return job["done_units"] / elapsed


def scripted_exactness(url: str, n_seeds: int, k: int) -> dict:
    """A scripted student: seeds i % 4 == 0 always wrong, i % 4 == 1 right on every other attempt, the rest right.
    Returns whether the known failures and every seed's pass@1 and pass@k are exactly what the script implies."""
    seeds = arithmetic_seeds(n_seeds)
    script, expected = [], {}
    for i, (_, answer) in enumerate(seeds):
        right, wrong = f"Answer: {answer}", f"Answer: {answer + 1}"
        replies = [wrong] if i % 4 == 0 else [right, wrong] if i % 4 == 1 else [right]
        script.append({"contains": f"Problem {i}:", "replies": replies})
        correct = sum(replies[turn % len(replies)] == right for turn in range(k))
        expected[i] = (correct, correct / k, 1 - comb(k - correct, k) / comb(k, k))
    configure(url, script=script)
    try:
        with tempfile.TemporaryDirectory() as folder:
            _, job = run_probe(Path(folder) / "exact.db", url, seeds, k, 8)
    finally:
        configure(url, script=[])
    report = job["result"]
    by_position = {row["id"] - 1: row for row in report["seeds"]}  # seed ids are 1..n in a fresh store
    wrong_set = sorted(i + 1 for i in range(n_seeds) if i % 4 == 0)
    exact_rates = all((by_position[i]["correct"], by_position[i]["pass_at_1"], by_position[i]["pass_at_k"]) == values
                      for i, values in expected.items())
    return {"seeds": n_seeds, "k": k, "known_failures": len(report["known_failures"]),
            "known_failures_exact": report["known_failures"] == wrong_set, "pass_at_k_exact": exact_rates,
            "pass_at_1": report["pass_at_1"], "pass_at_k": report["pass_at_k"]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line (the default output anyway)")
    parser.add_argument("--calls", type=int, default=2000, help="model calls per contender")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1, help="server latency per call, seconds")
    parser.add_argument("--rounds", type=int, default=3, help="alternations; each contender keeps its best round")
    parser.add_argument("--k", type=int, default=4, help="attempts per seed")
    args = parser.parse_args(argv)
    figures: dict = {"calls": args.calls, "concurrency": args.concurrency, "latency_s": args.latency, "k": args.k,
                     "ideal_rps": round(args.concurrency / args.latency, 1), "cpus": os.cpu_count()}
    evolve_summary: dict = {}
    probe_summary: dict = {}
    rates: dict[str, list[float]] = {"evolve_calls_per_s": [], "probe_attempts_per_s": []}
    cpu_ms: dict[str, list[float]] = {"evolve": [], "probe": []}  # this process's CPU per call (less noisy)

    def evolve_round(url: str) -> float:
        reset_stats(url)
        cpu = time.process_time()
        elapsed = factory(url, seed_texts(args.calls // 2), args.concurrency, evolve_summary)
        requests = stats(url)["requests"]
        cpu_ms["evolve"].append(1000 * (time.process_time() - cpu) / requests)
        return requests / elapsed

    def probe_round(url: str) -> float:
        cpu = time.process_time()
        rate = probe_throughput(url, args.calls // args.k, args.k, args.concurrency, probe_summary)
        cpu_ms["probe"].append(1000 * (time.process_time() - cpu) / probe_summary["attempts"])
        return rate

    with serve(latency_s=args.latency) as url:
        for round_index in range(args.rounds):
            order = ["evolve_calls_per_s", "probe_attempts_per_s"]
            for name in order if round_index % 2 == 0 else reversed(order):
                rates[name].append(evolve_round(url) if name == "evolve_calls_per_s" else probe_round(url))
        figures["scripted"] = scripted_exactness(url, 24, args.k)
    for name, values in rates.items():
        figures[name] = round(max(values), 1)
    figures["rounds"] = {name: [round(v, 1) for v in values] for name, values in rates.items()}
    figures["probe_over_evolve"] = round(figures["probe_attempts_per_s"] / figures["evolve_calls_per_s"], 3)
    figures["evolve_cpu_ms_per_call"] = round(min(cpu_ms["evolve"]), 3)
    figures["probe_cpu_ms_per_attempt"] = round(min(cpu_ms["probe"]), 3)
    figures["evolve_job"] = evolve_summary
    figures["probe_job"] = probe_summary
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
