"""Import speed and memory: `python -m benchmarks.imports --n 100000 --json`.

Writes a file of N samples per format with the format's own writer (conversations with a system prompt for
the chat formats; three rated steps each for the stepwise ones), then imports it into an empty store, each
in a fresh process that reports its wall time and peak RSS. The same is done for N/5 side by side: memory
flat in N shows as equal peaks (the import streams rows and inserts them in batches).
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

from benchmarks.export import report_formats
from workbench.formats.sample_formats import FORMATS as LAYOUTS
from workbench.formats.sample_formats import SampleRecord

FORMATS = ("openai", "sharegpt", "alpaca", "trl-stepwise", "prm800k", "processbench", "parquet")


def record(i: int) -> SampleRecord:
    return SampleRecord(
        turns=[{"role": "system", "content": "You are a careful maths tutor."},
               {"role": "user", "content": f"Task {i}: add {i} and {i + 1}, then explain each step."},
               {"role": "assistant", "content": f"{i} + {i + 1} = {2 * i + 1}, so the sum is {2 * i + 1}."}],
        steps=[f"Write {i} and {i + 1}.", f"Add them: {i} + {i + 1} = {2 * i + 1}.", f"Answer: {2 * i + 1}"],
        ratings=[1, 1, -1 if i % 7 == 0 else 1],
    )


def row(fmt: str, i: int) -> dict:
    sample = record(i)
    if fmt in ("trl-stepwise", "prm800k"):  # single-turn samples only
        sample.turns = sample.turns[1:]
    if fmt == "processbench":
        return {"id": f"bench-{i}", "problem": sample.instruction, "steps": sample.steps, "label": 2 if i % 7 == 0 else -1}
    return LAYOUTS["workbench" if fmt == "parquet" else fmt].write(sample)


def write_file(fmt: str, n: int, folder: Path) -> Path:
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from workbench.export.engine import ExportOptions, parquet_schema

        path = folder / f"bench-{n}.parquet"
        schema = parquet_schema(ExportOptions(fmt="parquet"), [])
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, n, 5000):
                writer.write_table(pa.Table.from_pylist([row(fmt, i) for i in range(start, min(n, start + 5000))], schema=schema))
        return path
    path = folder / f"bench-{fmt}-{n}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row(fmt, i), ensure_ascii=False) + "\n" for i in range(n))
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(db: Path, path: Path) -> dict:
    from workbench.formats.sample_import import import_samples
    from workbench.store import Store

    store = Store(db)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    result = import_samples(store, path, path.name)
    return {"seconds": round(time.perf_counter() - started, 2), "imported": result.imported, "format": result.format,
            "labelled_steps": result.labelled_steps, "peak_rss_mb": round(peak_rss_mb(), 1),
            "rss_growth_mb": round(peak_rss_mb() - baseline, 1), "file_mb": round(path.stat().st_size / 1e6, 1)}


def measure(db: Path, path: Path) -> dict:
    completed = subprocess.run([sys.executable, "-m", "benchmarks.imports", "--child", str(db), "--file", str(path)],
                               capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.file)))
        return
    sizes = [max(1, args.n // 5), args.n]
    figures: dict = {"n": args.n, "sizes": sizes, "formats": {}}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in args.formats:
            for size in sizes:
                path = write_file(fmt, size, Path(folder))
                figures["formats"].setdefault(fmt, {})[str(size)] = measure(Path(folder) / f"{fmt}-{size}.db", path)
                path.unlink()
    report_formats(figures, sizes, args.json)


if __name__ == "__main__":
    main()
