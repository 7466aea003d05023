"""CPU-bound stages on a Ray cluster against one process: `python -m benchmarks.scale --json [--n 20000]`.

Starts a local Ray cluster of two nodes of one CPU each (as Ray's own tests do: `ray.cluster_utils.Cluster`),
then runs each stage twice on copies of one store, as the worker runs it: once on this machine (the worker
process), once with the worker pointed at the cluster (its batches as Ray tasks; the worker writes the rows):

- pii: the `pii_scan` job over N samples of real text of real length (about 760 characters; benchmarks.maps'
  real_text_items), every tenth with a name, an e-mail and a phone number planted;
- verify: the `reason` job's offline verifier (arithmetic, with its final-answer check) over N stored reasoning
  paths, 8 per task: real GSM8K solutions (ProcessBench's gsm8k_dev beside the repo, else the committed fixture).

Prints, per stage, seconds and texts (or paths) per second of each and `ray_over_one_process`. Both runs are
cold: each loads its models (presidio and spaCy, in every Ray worker too) inside the timed run. The machine's
load average is printed beside the figures: on a shared machine, compare ratios from one run only. Beside the
wall times, `one_process_cpu_s` and `ray_cpu_s` are the CPU seconds each run spent (the Ray run's: the worker
process and every process of the cluster, read from /proc), which other programs' load does not inflate:
`ray_cpu_overhead` is how much more CPU the cluster run spent on the same work.

Ray starts its worker processes at niceness 15 (`RAY_worker_niceness`), below the one-process run's 0: on a
machine other people load, that alone starves the cluster's workers and measures the neighbours, not Ray. The
benchmark starts its cluster with worker niceness 0 (as Ray's own job manager does for its drivers), so both runs
compete for the cores on equal terms; the JSON says so (`ray_worker_niceness`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.maps import processbench_dir, real_text_items
from workbench.core.jobs import queue, worker
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.store import Store

ROOT = Path(__file__).resolve().parent.parent
PATHS_PER_TASK = 8
RAY_WORKER_NICENESS = "RAY_worker_niceness"
PEOPLE = ["Maria Gonzalez", "John Smith", "Priya Patel", "Chen Wei", "Olga Petrova", "Kwame Mensah"]


def pii_store(path: Path, n: int) -> int:
    """N samples of real text; every tenth carries contact data. Returns the queued job's id."""
    store = Store(path)
    items, _ = real_text_items(n, seed=7)
    for i, item in enumerate(items[::10]):
        person = PEOPLE[i % len(PEOPLE)]
        item["instruction"] += f" Send it to {person} at {person.split()[0].lower()}.{i}@example.com or +1 415-555-{i % 10000:04d}."
    store.samples.insert_samples([{"source": "import", "unit_key": f"scale-{i}", "instruction": item["instruction"]}
                          for i, item in enumerate(items)])
    job_id = queue.submit(store, "pii_scan", {"scope": "all", "concurrency": 1})
    store.close()
    return job_id


def solutions() -> list[tuple[list[str], str]]:
    """Real GSM8K solutions as (steps, reference answer)."""
    folder = processbench_dir()
    if folder is not None:
        rows = [json.loads(line) for line in (folder / "gsm8k_dev.jsonl").read_text().splitlines() if line.strip()]
        return [(row["steps"], str(row["reference_answer"])) for row in rows]
    rows = [json.loads(line) for line in (ROOT / "tests" / "fixtures" / "gsm8k_style_solutions.jsonl").read_text()
            .splitlines() if line.strip()]
    return [(row["solution"].split("\n"), row["solution"].rsplit("####", 1)[-1].strip()) for row in rows]


def verify_store(path: Path, n: int) -> int:
    """N stored paths, PATHS_PER_TASK per task, for a reason job with the arithmetic verifier. Returns its id."""
    store = Store(path)
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": "unused"}))
    pool = solutions()
    tasks = -(-n // PATHS_PER_TASK)
    seed_ids = store.seeds.insert_seeds([{"instruction": f"GSM8K problem, copy {t}: what is the answer?",
                                    "reference_answer": pool[t % len(pool)][1]} for t in range(tasks)])
    job_id = queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": s} for s in seed_ids],
                                           "n": PATHS_PER_TASK, "verifiers": ["arithmetic"]})
    with store.transaction():
        for t, seed_id in enumerate(seed_ids):
            for k in range(PATHS_PER_TASK):
                steps, answer = pool[(t * PATHS_PER_TASK + k) % len(pool)]
                store.verify.add_reasoning_path({"job_id": job_id, "task_type": "seed", "task_id": seed_id, "path_index": k,
                                          "text": "\n".join(steps), "final_answer": answer}, steps)
    store.close()
    return job_id


def cluster_cpu_s() -> float:
    """CPU seconds (user + system) spent so far by this machine's Ray processes (raylets, GCS, workers), from
    /proc; 0.0 where /proc is missing. Processes that ended before the call are not counted."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) != os.getpid() and (b"ray::" in command or b"/ray/" in command):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def timed_run(path: Path, job_id: int, address: str | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a worker that runs the job to its end: the CPU of this process and, on a
    cluster, of the cluster's processes."""
    started, cpu_before, cluster_before = time.perf_counter(), time.process_time(), cluster_cpu_s()
    code = worker.run_worker(path, exit_when_idle=True, log=lambda message: None, ray_address=address)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before + (cluster_cpu_s() - cluster_before if address else 0.0)
    store = Store(path)
    job = store.jobs.get_job(job_id)
    store.close()
    if code != 0 or job["status"] != "done" or job["failed_units"]:
        raise RuntimeError(f"job {job_id} ended {job['status']} ({job['failed_units']} failed units): {job['error']}")
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="texts (pii) and reasoning paths (verify)")
    parser.add_argument("--stages", default="pii,verify")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    from ray.cluster_utils import Cluster

    os.environ.pop("WORKBENCH_RAY_ADDRESS", None)
    os.environ[RAY_WORKER_NICENESS] = "0"  # read by the raylets the cluster starts: workers at the driver's priority
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    figures: dict = {"n": args.n, "nodes": 2, "cpus_per_node": 1, "cores": os.cpu_count(),
                     "ray_worker_niceness": 0,
                     "load_avg_1m_before": round(os.getloadavg()[0], 2)}
    builders = {"pii": pii_store, "verify": verify_store}
    try:
        for stage in [s.strip() for s in args.stages.split(",") if s.strip()]:
            with tempfile.TemporaryDirectory() as tmp:
                local, remote = Path(tmp) / "local.db", Path(tmp) / "ray.db"
                job_id = builders[stage](local, args.n)
                shutil.copy(local, remote)
                one, one_cpu = timed_run(local, job_id, None)
                ray_s, ray_cpu = timed_run(remote, job_id, cluster.address)
            figures[stage] = {"one_process_s": round(one, 2), "ray_s": round(ray_s, 2),
                              "one_process_cpu_s": round(one_cpu, 1), "ray_cpu_s": round(ray_cpu, 1),
                              "ray_cpu_overhead": round(ray_cpu / one_cpu, 2) if one_cpu else None,
                              "one_process_per_s": round(args.n / one, 1), "ray_per_s": round(args.n / ray_s, 1),
                              "ray_over_one_process": round(one / ray_s, 2)}
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
    figures["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
