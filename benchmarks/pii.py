"""PII scan speed and what the policy keeps and catches: `python -m benchmarks.pii --json [--baseline ROOT]`.

Figures, on the sets of tests/fixtures/pii (written for this project, not taken from a benchmark):
- gk_left_out_share: the share of 100 general-knowledge texts (public figures, dates of birth, decimals,
  calculations) the default policy would leave out (any finding flags a text);
- record_leaks: the 12 identifiers planted in personal records (names, passport, national ID and record numbers,
  a date of birth, a street address, a postcode) still readable after redaction;
- contact_leaks: the same for 12 planted contact identifiers (emails, phones, cards, an IBAN, an SSN, IPs, an
  address, a key);
- texts_per_s: `pii.analyse` throughput under the default policy on the sets repeated to --n texts, each round in a
  fresh process after a warm-up; with --baseline ROOT (another checkout, e.g. the main branch) the same is measured
  there in alternating rounds and `speed_ratio` = ours / baseline (the best round of each); `cpu_speed_ratio` compares
  texts per CPU second, which holds steadier than wall time on a machine other work shares.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
SETS = ROOT / "tests" / "fixtures" / "pii"
REPEATS = 3  # per process: the best of three passes (the machine is shared)


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (SETS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def policy_figures() -> dict:
    """What the default policy leaves out of general knowledge and lets through of planted identifiers."""
    from workbench.safety import pii

    analyzer = pii.shared_analyzer()
    general = [row["text"] for row in load("general_knowledge")]
    flagged = [bool(found) for found in pii.scan_texts(analyzer, general)]
    figures = {"gk_texts": len(general), "gk_left_out": sum(flagged), "gk_left_out_share": round(sum(flagged) / len(general), 4)}
    for name in ("records", "contacts"):
        rows = load(name)
        found = pii.scan_texts(analyzer, [row["text"] for row in rows])
        leaks = [value for row, hits in zip(rows, found, strict=True) for value in row["planted"]
                 if value in pii.redact(row["text"], hits)]
        figures[f"{name[:-1]}_planted"] = sum(len(row["planted"]) for row in rows)
        figures[f"{name[:-1]}_leaks"] = len(leaks)
        figures[f"{name[:-1]}_leaked"] = leaks
    return figures


def child(corpus: Path) -> dict:
    """Run in a fresh process whose PYTHONPATH picks the checkout: texts/s of pii.analyse after a warm-up (best of REPEATS passes)."""
    from workbench.safety import pii

    texts = json.loads(corpus.read_text(encoding="utf-8"))
    analyzer = pii.shared_analyzer()
    pii.analyse(analyzer, texts[:32], pii.PiiPolicy())
    wall, cpu = float("inf"), float("inf")
    for _ in range(REPEATS):
        started, started_cpu = time.perf_counter(), time.process_time()
        pii.analyse(analyzer, texts, pii.PiiPolicy())
        wall, cpu = min(wall, time.perf_counter() - started), min(cpu, time.process_time() - started_cpu)
    return {"texts_per_s": round(len(texts) / wall, 1), "texts_per_cpu_s": round(len(texts) / cpu, 1)}


def measure(root: Path, corpus: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "", "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run([sys.executable, str(HERE), "--child", str(corpus)], capture_output=True, text=True,
                               check=True, env=env, cwd=tempfile.gettempdir())
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="texts per speed round")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per checkout, alternating")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside this one (e.g. the main branch)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    texts = [row["text"] for name in ("general_knowledge", "records", "contacts") for row in load(name)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump([texts[i % len(texts)] for i in range(args.n)], handle)
    corpus = Path(handle.name)
    try:
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(measure(ROOT, corpus))
            if args.baseline:
                theirs.append(measure(args.baseline.resolve(), corpus))
    finally:
        corpus.unlink(missing_ok=True)
    best = {key: max(run[key] for run in ours) for key in ("texts_per_s", "texts_per_cpu_s")}
    figures = {"texts": args.n, **best, **policy_figures()}
    if theirs:
        baseline = {key: max(run[key] for run in theirs) for key in ("texts_per_s", "texts_per_cpu_s")}
        figures.update(baseline_texts_per_s=baseline["texts_per_s"], baseline_texts_per_cpu_s=baseline["texts_per_cpu_s"],
                       speed_ratio=round(best["texts_per_s"] / baseline["texts_per_s"], 3),
                       cpu_speed_ratio=round(best["texts_per_cpu_s"] / baseline["texts_per_cpu_s"], 3))
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
