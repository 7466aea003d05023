"""The demo job: the demo project's stages in order, each a job of its own (table demo_stages) or a step of
the demo job.
"""

from __future__ import annotations

import asyncio

from workbench.core.jobs.queue import submit
from workbench.core.jobs.runner import JobContext, register, run_here
from workbench.core.queries.jobs import DONE
from workbench.core.settings import teacher_config
from workbench.evolve.engine import load_operators
from workbench.evolve.job import EvolveParams, submit_evolve
from workbench.factory.demo import (
    MAGPIE_N,
    PROBE_OVERRIDES,
    REASON_PARAMS,
    STAGES,
    add_seed_copies,
    checkable_seed_ids,
    demo_seed_ids,
    export_approved,
    export_preferences,
    review_by_gate,
    student_figures,
)
from workbench.magpie.engine import detect_template, get_template
from workbench.magpie.job import submit_magpie
from workbench.safety.job import submit_pii_scan
from workbench.store import Store
from workbench.student.job import NothingToProbe, submit_probe
from workbench.student.settings import student_settings

KIND = "demo"


def submit_demo(store: Store, student: dict | None = None) -> int:
    """Queue the demo job; the worker runs its stages one after another. `student` overrides the student settings
    (e.g. {"model": ...}) for its probes; ValueError for bad ones."""
    student = student or {}
    params = {"seeds": demo_seed_ids(store), "checkable": checkable_seed_ids(store),
              "concurrency": 1,  # one unit at a time: the stages run in order
              "student": student}
    return submit(store, KIND, params, model=teacher_config(store).model, student=student_settings(store, student).model)


def _reason_tasks(ctx: JobContext) -> list[dict]:
    """The samples this demo made that no filter removed (near-duplicates of seeds are out by now): evolutions, Magpie's
    questions and the seed copies; and its math seeds, which bring reference answers."""
    store, made_by = ctx.store, {_job_of(ctx, "evolve"), _job_of(ctx, "magpie"), ctx.job_id}
    tasks = [{"type": "sample", "id": s["id"]} for s in store.samples.list_samples() if s["job_id"] in made_by]
    tasks += [{"type": "seed", "id": s["id"]} for s in store.seeds.list_seeds(ids=ctx.params["seeds"]) if s["domain"] == "math"]
    return tasks


def _stage_job(ctx: JobContext, stage: str) -> int:
    """Create the stage's own job once; a resumed demo finds and resumes the same one."""
    if (job_id := ctx.store.factory.stage_job(ctx.job_id, stage)) is not None:
        return job_id
    store, params = ctx.store, ctx.params
    config = teacher_config(store)
    if stage == "evolve":
        job_id = submit_evolve(store, EvolveParams(seeds=params["seeds"], operators=list(load_operators(store)), depth=2,
                                                   branching=1, max_tries=2, concurrency=2, teacher=config.to_dict()))
    elif stage == "magpie":
        family, _ = detect_template(config.model)
        job_id = submit_magpie(store, config, get_template(family or "chatml", store), {"n": MAGPIE_N})
    elif stage == "reason":
        job_id = submit(store, "verify", {"tasks": _reason_tasks(ctx), **REASON_PARAMS}, model=config.model)
    elif stage in ("embed", "project"):
        job_id = submit(store, f"analyse.{stage}", {})
    elif stage == "probe":
        job_id = submit_probe(store, "seeds", params["seeds"], {**PROBE_OVERRIDES, **params.get("student", {})})
    elif stage == "headroom":
        job_id = submit_probe(store, "approved", student={**PROBE_OVERRIDES, **params.get("student", {})})
    elif stage == "scan":
        job_id = submit_pii_scan(store)
    else:
        raise ValueError(f"unknown demo stage {stage!r}")
    store.factory.set_stage_job(ctx.job_id, stage, job_id)
    return job_id


def _job_of(ctx: JobContext, stage: str) -> int:
    return ctx.store.factory.stage_job(ctx.job_id, stage)


def _run_stage_job(db_path: str, job_id: int) -> str:
    """Run one stage's job to its end in this thread (its own store connection and event loop)."""
    store = Store(db_path)
    try:
        return run_here(store, job_id, resume=True)
    finally:
        store.close()


def _add_result(ctx: JobContext, values: dict) -> None:
    """Merge figures into the demo job's result (each stage adds its own)."""
    ctx.store.jobs.set_job_result(ctx.job_id, {**(ctx.store.jobs.get_job(ctx.job_id)["result"] or {}), **values})


class DemoHandler:
    kind = KIND

    def units(self, ctx: JobContext) -> list[str]:
        return [f"{index}-{stage}" for index, stage in enumerate(STAGES, start=1)]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        stage = unit_key.split("-", 1)[1]
        if stage == "seed_copies":
            add_seed_copies(ctx.store, ctx.job_id, ctx.params.get("checkable", []))
            return
        if stage == "review":
            reason_job = ctx.store.jobs.get_job(_job_of(ctx, "reason"))
            _add_result(ctx, review_by_gate(ctx.store, reason_job["params"]["tasks"]))
            return
        if stage == "export":
            result = {**(ctx.store.jobs.get_job(ctx.job_id)["result"] or {}), **export_approved(ctx.store, ctx.job_id),
                      **export_preferences(ctx.store, ctx.job_id)}
            ctx.store.jobs.set_job_result(ctx.job_id, result)
            return
        try:
            job_id = _stage_job(ctx, stage)
        except NothingToProbe as exc:  # the demo goes on, and says why this probe did not run
            _add_result(ctx, student_figures(ctx.store, stage, None, str(exc)))
            return
        status = await asyncio.to_thread(_run_stage_job, str(ctx.store.path), job_id)
        if status != DONE:
            raise RuntimeError(f"the {stage} stage (job {job_id}) ended {status}")
        if stage in ("probe", "headroom"):
            _add_result(ctx, student_figures(ctx.store, stage, job_id))


register(DemoHandler())
