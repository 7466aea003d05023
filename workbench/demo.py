"""The demo project: the real pipeline, small, on the configured teacher (the bundled model by default).

One `demo` job runs its stages in order, each as a real job of its own kind that shows on the Jobs page:
evolve a handful of shipped seeds, let Magpie write questions, sample and verify reasoning paths for
the evolved samples and the math seeds, embed and map everything, then review by the gate: samples whose
best path passed are approved and samples with a verified false calculation are rejected, each review
signed "demo (automatic, by the gate)". Nothing is hand-written; a few minutes on 2 cores.
"""

from __future__ import annotations

import asyncio
import os

from workbench.evol import load_operators
from workbench.evolve_job import EvolveParams, submit_evolve
from workbench.jobs import JobContext, register, run_job, submit
from workbench.magpie import detect_template, get_template
from workbench.magpie_job import submit_magpie
from workbench.reasoning import passes_gate, verification_settings
from workbench.seeds import load_sample_seeds
from workbench.settings import teacher_config
from workbench.store import Store

KIND = "demo"
STAGES = ("evolve", "magpie", "reason", "embed", "project", "review")
DEMO_REVIEWER = "demo (automatic, by the gate)"
SEEDS_PER_DOMAIN = {"math": 3, "logic": 1, "science": 1, "writing": 1}


def demo_seed_ids(store: Store) -> list[int]:
    """The first seeds of a few domains (loading the shipped seeds into an empty store first)."""
    if store.counts()["seeds"] == 0:
        load_sample_seeds(store)
    chosen: list[int] = []
    for domain, count in SEEDS_PER_DOMAIN.items():
        chosen += [s["id"] for s in store.list_seeds(domain=domain, limit=count)]
    return chosen or [s["id"] for s in store.list_seeds(limit=6)]


def submit_demo(store: Store) -> int:
    """Queue the demo job; the worker runs its stages one after another."""
    params = {"seeds": demo_seed_ids(store), "concurrency": 1}  # one unit at a time: the stages run in order
    return submit(store, KIND, params, model=teacher_config(store).model)


def _stage_job(ctx: JobContext, stage: str) -> int:
    """Create the stage's own job once; a resumed demo finds and resumes the same one."""
    key = f"demo:{ctx.job_id}:{stage}"
    if (job_id := ctx.store.get_setting(key)) is not None:
        return job_id
    store, params = ctx.store, ctx.params
    config = teacher_config(store)
    if stage == "evolve":
        job_id = submit_evolve(store, EvolveParams(seeds=params["seeds"], operators=list(load_operators(store)), depth=2,
                                                   branching=1, max_tries=2, concurrency=2, teacher=config.to_dict()))
    elif stage == "magpie":
        family, _ = detect_template(config.model)
        job_id = submit_magpie(store, config, get_template(family or "chatml", store), {"n": 6})
    elif stage == "reason":
        evolve_job = _job_of(ctx, "evolve")
        tasks = [{"type": "sample", "id": s["id"]} for s in store.list_samples(source="evol") if s["job_id"] == evolve_job]
        tasks += [{"type": "seed", "id": s["id"]} for s in store.list_seeds(ids=params["seeds"]) if s["domain"] == "math"]
        job_id = submit(store, "reason", {"tasks": tasks, "n": 4, "verifiers": ["arithmetic"], "concurrency": 1},
                        model=config.model)
    elif stage in ("embed", "project"):
        job_id = submit(store, stage, {})
    else:
        raise ValueError(f"unknown demo stage {stage!r}")
    store.set_setting(key, job_id)
    return job_id


def _job_of(ctx: JobContext, stage: str) -> int:
    return ctx.store.get_setting(f"demo:{ctx.job_id}:{stage}")


def review_by_gate(store: Store) -> dict[str, int]:
    """Approve pending samples whose best path passed the gate; reject those with a verified false step."""
    settings = verification_settings(store)
    scores = store.metric_values("sample", "best_path_score")
    pending = {s["id"] for s in store.list_samples(status="pending")}
    passed = [i for i, score in scores.items() if i in pending and passes_gate(score, settings.threshold)]
    failed = [i for i, score in scores.items() if i in pending and score == 0.0]
    note = f"gate: best path >= {settings.threshold:g} ({settings.aggregation}); 0 = a verified false step"
    return {
        "approved": store.set_sample_status(passed, "approved", DEMO_REVIEWER, note),
        "rejected": store.set_sample_status(failed, "rejected", DEMO_REVIEWER, note),
    }


def _run_stage_job(db_path: str, job_id: int) -> str:
    """Run one stage's job to its end in this thread (its own store connection and event loop)."""
    store = Store(db_path)
    try:
        job = store.get_job(job_id)
        if job["status"] in ("done", "cancelled"):
            return job["status"]
        if job["status"] in ("running", "paused", "failed"):
            store.request_job_status(job_id, "queued")
        claimed = store.claim_job(job_id, os.getpid())
        return run_job(store, claimed) if claimed else store.job_status(job_id)
    finally:
        store.close()


class DemoHandler:
    kind = KIND

    def units(self, ctx: JobContext) -> list[str]:
        return [f"{index}-{stage}" for index, stage in enumerate(STAGES, start=1)]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        stage = unit_key.split("-", 1)[1]
        if stage == "review":
            ctx.store.set_job_result(ctx.job_id, review_by_gate(ctx.store))
            return
        job_id = _stage_job(ctx, stage)
        status = await asyncio.to_thread(_run_stage_job, str(ctx.store.path), job_id)
        if status != "done":
            raise RuntimeError(f"the {stage} stage (job {job_id}) ended {status}")


register(DemoHandler())
