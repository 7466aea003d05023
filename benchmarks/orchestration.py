"""Orchestration: the factory's evolve job against bare litellm and peer frameworks on one loopback server.

    python -m benchmarks.orchestration --peers litellm,distilabel,curator --json
        [--calls 2000] [--concurrency 64] [--latency 0.1] [--rounds 2] [--rss-seeds 1000,10000]

A loopback OpenAI-compatible server (own process, fixed latency) answers every call; the ideal is
concurrency / latency calls per second. Every contender makes the same chat calls (an evolution with
logprobs, then an answer, per seed) at the same concurrency, and all of them run in every round,
alternating (in reverse order every other round), each keeping its best round (the CPUs are shared):

- factory: a real evolve job (depth 1) queued in a fresh store and run by the worker in this process, as
  it runs by default; factory_via_litellm: the same with every call through litellm (the teacher's
  `client: litellm`, the path all calls took before the lean client), to show what the lean path gains;
- litellm: bare `litellm.acompletion` in this process;
- distilabel (1.5.3 EvolInstruct) and curator (bespokelabs-curator 0.1.31, its own aiohttp client):
  each in its own virtual environment under benchmarks/.peers/ (or $WORKBENCH_PEERS_DIR), created on
  first use with pip from the package registry, run by the scripts in benchmarks/peers/.

Beside calls/s, each contender's CPU milliseconds per call, less noisy than calls/s on shared CPUs (this
process for the in-process contenders; a peer's own process during its measured section, as its script
reports it).

Also the worker's peak RSS (its own process, depth-1 evolve job over a fast server) for each size in
--rss-seeds: memory must stay flat as a job grows. Prints one JSON line.
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
from dataclasses import dataclass
from pathlib import Path

from benchmarks.loopback_server import reset_stats, serve, stats
from workbench.core.env import configure_offline_environment

configure_offline_environment()

import litellm  # noqa: E402

from workbench.core.jobs import worker as jobs_worker  # noqa: E402
from workbench.evolve.engine import BUILTIN_OPERATORS, build_prompt  # noqa: E402
from workbench.evolve.job import EvolveParams, submit_evolve  # noqa: E402
from workbench.store import Store  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_DIR = Path(os.environ.get("WORKBENCH_PEERS_DIR") or HERE / ".peers")
OPERATOR = BUILTIN_OPERATORS[0]
PEER_CPU: dict[str, float] = {}  # CPU seconds of a peer's last measured run, as its script reports them


@dataclass(frozen=True)
class Peer:
    """A peer framework in its own venv: what to install, how to check it, and its run script's input."""

    packages: tuple[str, ...]
    probe: str
    script: str
    input: str  # "seeds" (the peer builds its own evolution prompts) or "prompts" (ours, as chat messages)


PEERS = {
    # distilabel imports requests without declaring it
    "distilabel": Peer(("distilabel[openai]==1.5.3", "requests"), "import distilabel, requests", "distilabel_run.py",
                       "seeds"),
    "curator": Peer(("bespokelabs-curator==0.1.31",), "from bespokelabs import curator", "curator_run.py", "prompts"),
}


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


def queue_job(db_path: Path, url: str, seeds: list[str], concurrency: int, client: str = "auto") -> int:
    """A depth-1 evolve job over `seeds` in a fresh store at `db_path`; returns its id."""
    store = Store(db_path)
    ids = store.seeds.insert_seeds([{"instruction": text} for text in seeds])
    teacher = {"model": "openai/loopback", "api_base": url, "extra": {"api_key": "x"}, "concurrency": concurrency,
               "client": client}
    job_id = submit_evolve(store, EvolveParams(seeds=ids, operators=[OPERATOR.name], depth=1, max_tries=1,
                                               concurrency=concurrency, teacher=teacher))
    store.close()
    return job_id


def factory(url: str, seeds: list[str], concurrency: int, summary: dict, client: str = "auto") -> float:
    """A real evolve job run by the worker in this process. Fills `summary` with the outcome."""
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bench.db"
        job_id = queue_job(db_path, url, seeds, concurrency, client)
        started = time.perf_counter()
        jobs_worker.run_worker(db_path, exit_when_idle=True, log=lambda message: None)
        elapsed = time.perf_counter() - started
        store = Store(db_path)
        job = store.jobs.get_job(job_id)
        summary.update(status=job["status"], failed_units=job["failed_units"], nodes=len(store.evolve.evol_nodes(job_id)),
                       samples=len(store.samples.list_samples(source="evol")), model_calls=job["model_calls"])
        store.close()
    return elapsed


def where_peers_go(name: str) -> str:
    """Where a peer's virtual environment belongs, and how to put it there by hand."""
    peer = PEERS[name]
    return (f"{name} is looked for in {PEERS_DIR / name} (a virtual environment with {' '.join(peer.packages)}; "
            f"make it with `python -m venv {PEERS_DIR / name} && {PEERS_DIR / name}/bin/pip install "
            f"{' '.join(repr(p) for p in peer.packages)}`, or set WORKBENCH_PEERS_DIR to a folder holding one)")


def peer_python(name: str) -> Path:
    """The peer's venv python, creating the venv and installing the peer on first use. Raises RuntimeError saying
    where the peer goes when that cannot be done here."""
    peer = PEERS[name]
    venv = PEERS_DIR / name
    python = venv / "bin" / "python"
    if PEERS_DIR.is_symlink() and not PEERS_DIR.exists():
        raise RuntimeError(f"{PEERS_DIR} is a link to a folder that does not exist here: remove it. "
                           + where_peers_go(name))
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"cannot create {venv}: {made.stderr.strip()[-400:]}. " + where_peers_go(name))
    if subprocess.run([str(python), "-c", peer.probe], capture_output=True).returncode != 0:
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *peer.packages],
                                 capture_output=True, text=True, timeout=1800)
        if install.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(peer.packages)} failed: {install.stderr.strip()[-800:]}. "
                               + where_peers_go(name))
    return python


def peer_run(name: str, url: str, seeds: list[str], concurrency: int) -> float:
    peer = PEERS[name]
    python = peer_python(name)
    payload = seeds if peer.input == "seeds" else [build_prompt(OPERATOR, seed, completion=False) for seed in seeds]
    with tempfile.TemporaryDirectory() as home:
        env = {"HF_HUB_OFFLINE": "1", "DISTILABEL_LOG_LEVEL": "ERROR", "PATH": "/usr/bin:/bin", "TERM": "dumb",
               "COLUMNS": "200", "HOME": home, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "TELEMETRY_ENABLED": "false"}
        result = subprocess.run([str(python), str(HERE / "peers" / peer.script), url, str(concurrency)],
                                input=json.dumps(payload), capture_output=True, text=True, timeout=1800, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{name} run failed: {' | '.join(result.stderr.strip().splitlines()[-3:])[-800:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    PEER_CPU[name] = figures["cpu"]
    return figures["elapsed"]


def worker_peak_rss_mb(url: str, n_seeds: int, concurrency: int) -> dict:
    """Peak RSS of a worker process (`workbench worker --exit-when-idle`) running a depth-1 job over n seeds."""
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "rss.db"
        job_id = queue_job(db_path, url, seed_texts(n_seeds), concurrency)
        env = dict(os.environ)
        worker = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker",
                                   "--exit-when-idle"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(worker.pid, 0)
        worker.returncode = os.waitstatus_to_exitcode(status)
        store = Store(db_path)
        job = store.jobs.get_job(job_id)
        store.close()
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "status": job["status"], "model_calls": job["model_calls"]}


def cpu_seconds() -> float:
    """CPU time of this process (all threads)."""
    return time.process_time()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line (the default output anyway)")
    parser.add_argument("--peers", default="litellm",
                        help=f"comma-separated peers to measure beside the factory: litellm,{','.join(PEERS)}")
    parser.add_argument("--calls", type=int, default=2000, help="chat calls per contender (two per seed)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1, help="server latency per call, seconds")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate the contenders this many times and keep each one's best round (shared CPUs)")
    parser.add_argument("--skip", default="", help="comma-separated factory contenders to leave out "
                        "(factory_via_litellm)")
    parser.add_argument("--rss-seeds", default="1000,10000",
                        help="job sizes (seeds) for the worker's peak RSS; empty to skip")
    args = parser.parse_args(argv)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(peers) - {"litellm", *PEERS}
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; choose from litellm,{','.join(PEERS)}")
    seeds = seed_texts(args.calls // 2)
    figures: dict = {"calls": 2 * len(seeds), "concurrency": args.concurrency, "latency_s": args.latency,
                     "ideal_rps": round(args.concurrency / args.latency, 1), "cpus": os.cpu_count()}
    summary: dict = {}  # the default factory job's outcome
    ignored: dict = {}
    contenders: dict[str, Callable[[str], float]] = {
        "factory": lambda url: factory(url, seeds, args.concurrency, summary),
        "factory_via_litellm": lambda url: factory(url, seeds, args.concurrency, ignored, client="litellm"),
    }
    for name in args.skip.split(","):
        contenders.pop(name.strip(), None)
    if "litellm" in peers:
        contenders["litellm"] = lambda url: asyncio.run(bare_litellm(url, seeds, args.concurrency))
    for name in peers:
        if name in PEERS:
            contenders[name] = lambda url, name=name: peer_run(name, url, seeds, args.concurrency)
    rps: dict[str, list[float]] = {name: [] for name in contenders}
    cpu_ms: dict[str, list[float]] = {name: [] for name in contenders}
    with serve(latency_s=args.latency) as url:
        asyncio.run(bare_litellm(url, seed_texts(args.concurrency), args.concurrency))  # warm the client
        for round_index in range(args.rounds):
            order = list(contenders) if round_index % 2 == 0 else list(reversed(contenders))
            for name in order:
                if name not in contenders:
                    continue
                reset_stats(url)
                cpu = cpu_seconds()
                try:
                    elapsed = contenders[name](url)
                except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
                    if name not in PEERS:
                        raise
                    figures[f"{name}_error"] = str(exc)  # the peer could not be installed or run here
                    del contenders[name], rps[name], cpu_ms[name]
                    continue
                cpu = PEER_CPU[name] if name in PEERS else cpu_seconds() - cpu
                requests = stats(url)["requests"]
                rps[name].append(requests / elapsed)
                cpu_ms[name].append(1000 * cpu / requests)
    for name, values in rps.items():
        figures[f"{name}_rps"] = round(max(values), 1)
        if cpu_ms[name]:
            figures[f"{name}_cpu_ms_per_call"] = round(min(cpu_ms[name]), 3)
    figures["rounds"] = {f"{name}_rps": [round(r, 1) for r in values] for name, values in rps.items()}
    figures["factory_job"] = summary

    def ratio(name: str, over: str) -> None:
        if f"{over}_rps" in figures:
            figures[f"{name}_over_{over}"] = round(figures[f"{name}_rps"] / figures[f"{over}_rps"], 3)

    for over in ("curator", "litellm", "distilabel", "factory_via_litellm"):
        ratio("factory", over)
    sizes = [int(n) for n in args.rss_seeds.split(",") if n.strip()]
    if sizes:
        with serve(latency_s=0.01) as url:
            rss = {str(n): worker_peak_rss_mb(url, n, args.concurrency) for n in sizes}
        figures["worker_peak_rss"] = rss
        figures["worker_peak_rss_mb"] = {n: r["peak_rss_mb"] for n, r in rss.items()}
        if len(sizes) > 1:
            figures["rss_largest_over_smallest"] = round(
                rss[str(max(sizes))]["peak_rss_mb"] / rss[str(min(sizes))]["peak_rss_mb"], 3)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
