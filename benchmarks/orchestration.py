"""Orchestration overhead: the factory's evolve job against bare litellm on the same loopback server.

    python -m benchmarks.orchestration --json [--calls 2000] [--concurrency 64] [--latency 0.1] [--peer distilabel]

A loopback OpenAI-compatible server (own process, fixed latency) answers every call. The same number
of chat calls at the same concurrency run through bare `litellm.acompletion`, then as a real evolve
job (depth 1: one evolution and one answer per seed) through the worker and the store, once as the
worker runs it (spread over helper processes, one per core) and once held to the worker process
alone; the contenders alternate for --rounds rounds and each keeps its best round (the CPUs here
are shared). Prints one JSON line: litellm_rps, factory_rps, ratio (target >= 0.9),
factory_one_process_rps and ratio_one_process. With `--peer distilabel`, distilabel 1.5.3's
EvolInstruct runs in the same rounds, in its own virtual environment (benchmarks/.peer-venv,
created on first use), on the same server and workload, adding distilabel_rps and
factory_over_distilabel (or distilabel_error when distilabel cannot be installed or run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.loopback_server import reset_stats, serve, stats
from workbench.env import configure_offline_environment

configure_offline_environment()

import litellm  # noqa: E402

from workbench import jobs  # noqa: E402
from workbench.evol import BUILTIN_OPERATORS, build_prompt  # noqa: E402
from workbench.evolve_job import EvolveParams, submit_evolve  # noqa: E402
from workbench.shards import PROCESSES_ENV  # noqa: E402
from workbench.store import Store  # noqa: E402

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
DISTILABEL = ["distilabel[openai]==1.5.3", "requests"]  # distilabel imports requests without declaring it
OPERATOR = BUILTIN_OPERATORS[0]


def seed_texts(n: int) -> list[str]:
    return [f"Task {i}: a shop sells {i % 17 + 2} apples at {i % 9 + 1} dollars each. What is the total cost?" for i in range(n)]


async def bare_litellm(url: str, seeds: list[str], concurrency: int) -> float:
    """The same calls the job makes (an evolution with logprobs, then an answer), straight through litellm."""
    semaphore = asyncio.Semaphore(concurrency)
    common = {"model": "openai/loopback", "api_base": url, "api_key": "x", "timeout": 120.0, "max_tokens": 256}

    async def call(**kwargs) -> None:
        async with semaphore:
            await litellm.acompletion(**common, **kwargs)

    evolutions = [
        call(messages=[{"role": "user", "content": build_prompt(OPERATOR, seed, completion=False)}],
             temperature=0.8, logprobs=True, top_logprobs=5)
        for seed in seeds
    ]
    answers = [call(messages=[{"role": "user", "content": seed}], temperature=0.2) for seed in seeds]
    started = time.perf_counter()
    await asyncio.gather(*evolutions, *answers)
    return time.perf_counter() - started


def factory(url: str, seeds: list[str], concurrency: int, summary: dict, processes: int | None = None) -> float:
    """A real evolve job, queued in a fresh store and run by the worker; `processes` caps the processes it may
    use (WORKBENCH_JOB_PROCESSES), None leaves the default (one per core). Fills `summary` with the outcome."""
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bench.db"
        store = Store(db_path)
        ids = store.insert_seeds([{"instruction": text} for text in seeds])
        teacher = {"model": "openai/loopback", "api_base": url, "extra": {"api_key": "x"}, "concurrency": concurrency}
        job_id = submit_evolve(store, EvolveParams(seeds=ids, operators=[OPERATOR.name], depth=1, max_tries=1,
                                                   concurrency=concurrency, teacher=teacher))
        previous = os.environ.pop(PROCESSES_ENV, None)
        if processes is not None:
            os.environ[PROCESSES_ENV] = str(processes)
        try:
            started = time.perf_counter()
            jobs.run_worker(db_path, exit_when_idle=True, log=lambda message: None)
            elapsed = time.perf_counter() - started
        finally:
            os.environ.pop(PROCESSES_ENV, None)
            if previous is not None:
                os.environ[PROCESSES_ENV] = previous
        job = store.get_job(job_id)
        summary.update(status=job["status"], failed_units=job["failed_units"], nodes=len(store.evol_nodes(job_id)),
                       samples=len(store.list_samples(source="evol")))
        store.close()
    return elapsed


PEER_SCRIPT = """
import json, sys, time
from distilabel.models import OpenAILLM
from distilabel.steps.tasks import EvolInstruct
url, concurrency = sys.argv[1], int(sys.argv[2])
seeds = json.loads(sys.stdin.read())
llm = OpenAILLM(model="loopback", base_url=url, api_key="x", max_retries=0, timeout=120,
                generation_kwargs={"max_new_tokens": 256, "temperature": 0.8})
task = EvolInstruct(llm=llm, num_evolutions=1, generate_answers=True, input_batch_size=concurrency)
task.load()
started = time.perf_counter()
rows = 0
for start in range(0, len(seeds), concurrency):
    batch = [{"instruction": s} for s in seeds[start:start + concurrency]]
    rows += len(next(task.process(batch)))
print(json.dumps({"elapsed": time.perf_counter() - started, "rows": rows}))
"""


def peer_python() -> Path:
    """The peer venv's python, creating the venv and installing distilabel on first use."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True)
    probe = subprocess.run([str(python), "-c", "import distilabel, requests"], capture_output=True)
    if probe.returncode != 0:
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *DISTILABEL],
                                 capture_output=True, text=True, timeout=1800)
        if install.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(DISTILABEL)} failed: {install.stderr.strip()[-800:]}")
    return python


def distilabel_run(url: str, seeds: list[str], concurrency: int) -> float:
    python = peer_python()
    env = {"HF_HUB_OFFLINE": "1", "DISTILABEL_LOG_LEVEL": "ERROR", "PATH": "/usr/bin:/bin", "TERM": "dumb",
           "COLUMNS": "200", "HOME": str(Path.home())}
    result = subprocess.run([str(python), "-c", PEER_SCRIPT, url, str(concurrency)], input=json.dumps(seeds),
                            capture_output=True, text=True, timeout=1800, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"distilabel run failed: {' | '.join(result.stderr.strip().splitlines()[-3:])[-800:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["elapsed"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line (the default output anyway)")
    parser.add_argument("--calls", type=int, default=2000, help="chat calls per contender (two per seed)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1, help="server latency per call, seconds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the contenders this many times and keep each one's best round (shared CPUs)")
    parser.add_argument("--peer", choices=["distilabel"], help="also measure a peer framework")
    args = parser.parse_args(argv)
    seeds = seed_texts(args.calls // 2)
    figures: dict = {"calls": 2 * len(seeds), "concurrency": args.concurrency, "latency_s": args.latency}
    summary: dict = {}  # the factory job's outcome, filled by each factory run
    contenders: dict[str, Callable[[str], float]] = {
        "litellm": lambda url: asyncio.run(bare_litellm(url, seeds, args.concurrency)),
        "factory": lambda url: factory(url, seeds, args.concurrency, summary),
        "factory_one_process": lambda url: factory(url, seeds, args.concurrency, summary, processes=1),
    }
    if args.peer == "distilabel":
        contenders["distilabel"] = lambda url: distilabel_run(url, seeds, args.concurrency)
    rps: dict[str, list[float]] = {name: [] for name in contenders}
    with serve(latency_s=args.latency) as url:
        asyncio.run(bare_litellm(url, seed_texts(args.concurrency), args.concurrency))  # warm the client
        for _ in range(args.rounds):
            for name, run in list(contenders.items()):
                reset_stats(url)
                try:
                    elapsed = run(url)
                except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
                    if name != "distilabel":
                        raise
                    figures[f"{name}_error"] = str(exc)  # distilabel could not be installed or run here
                    del contenders[name], rps[name]
                    continue
                rps[name].append(stats(url)["requests"] / elapsed)
    for name, values in rps.items():
        figures[f"{name}_rps"] = round(max(values), 1)
    figures["rounds"] = {f"{name}_rps": [round(r, 1) for r in values] for name, values in rps.items()}
    figures["factory_job"] = summary
    figures["ratio"] = round(figures["factory_rps"] / figures["litellm_rps"], 3)
    figures["ratio_one_process"] = round(figures["factory_one_process_rps"] / figures["litellm_rps"], 3)
    if "distilabel_rps" in figures:
        figures["factory_over_distilabel"] = round(figures["factory_rps"] / figures["distilabel_rps"], 3)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
