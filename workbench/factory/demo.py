"""The demo project: the real pipeline, small, on the configured teacher and student (the bundled model by default).

One `demo` job runs its stages in order, each as a real job of its own kind that shows on the Jobs page
(or, for the review and the export, as a step of the demo job): probe the student on the demo's seeds (k=2: its
known failures and uncertainty), evolve a handful of shipped seeds, let Magpie write questions, embed and map
everything (which filters near-duplicates of seeds), sample and verify reasoning paths, review by the gate, probe
the student on what was approved (the headroom), scan for PII and export what was approved: its verified paths as
chat data, and the preference pairs the gate made (passing against failing paths, and Step-DPO step pairs).

The gate decides on every teacher, the bundled 270M base model included. The reasoning stage runs on the
math seeds (they bring reference answers) and on the samples the demo made (they do not): their final answers
vote (self-consistency, 1/0 against the majority) and Monte-Carlo rollouts (Math-Shepherd) from their
steps aim at the reference or, without one, at the paths' majority answer, the pseudo-reference. The
arithmetic verifier re-computes every written calculation. A sample whose best path passes the gate is
approved; every other sample with paths is rejected with the gate's reason (its weakest step, the verifier
that decided it and why); each review is signed "demo (automatic, by the gate)". Nothing is hand-written.
"""

from __future__ import annotations

import asyncio
import os

from workbench.core.env import export_dir
from workbench.core.jobs import JobContext, register, run_job, submit
from workbench.core.settings import teacher_config
from workbench.evolve.engine import load_operators
from workbench.evolve.job import EvolveParams, submit_evolve
from workbench.magpie.engine import detect_template, get_template
from workbench.magpie.job import submit_magpie
from workbench.review.export import ExportError, ExportOptions, export
from workbench.review.pii import submit_scan
from workbench.seeds.engine import load_sample_seeds
from workbench.store import Store
from workbench.student.job import NothingToProbe, submit_probe
from workbench.student.settings import student_settings
from workbench.verify.reasoning import refresh_task_metric, verification_settings

KIND = "demo"
STAGES = ("probe", "evolve", "magpie", "embed", "project", "reason", "review", "headroom", "scan", "export")
DEMO_REVIEWER = "demo (automatic, by the gate)"
SEEDS_PER_DOMAIN = {"math": 3, "logic": 1, "science": 1, "writing": 1}
# The reasoning stage's budget on the bundled model (about 25 tokens/s on 2 cores): 4 paths per task at
# temperature 0.5 (at 0.8 the 270M model's paths seldom agree on anything: 1 task in 12 had a majority, at
# 0.5 half did), 2 rollouts of at most 48 tokens from at most 2 steps of each path whose answer reaches the
# target; a step is good when a rollout from it reaches the target (Math-Shepherd's hard estimation).
REASON_PARAMS = {
    "n": 4, "temperature": 0.5, "max_tokens": 128, "verifiers": ["arithmetic", "consistency", "rollout"],
    "consistency_mode": "majority", "rollout_k": 2, "rollout_max_steps": 2, "rollout_max_tokens": 48,
    "rollout_label": "any", "rollout_temperature": 0.5, "rollout_skip_wrong_paths": True, "concurrency": 1,
}
RESULT_KEYS = ("tasks_verified", "passed_gate", "rejected", "approved", "exported", "preference_pairs")
# The student's probe, small: k=2 attempts of at most 64 tokens on the demo's seeds that can be checked, first on the
# seeds (known failures, the frontier) and, after the review, on the approved tasks (the headroom).
PROBE_OVERRIDES = {"k": 2, "max_tokens": 64}
STUDENT_KEYS = ("student", "seeds_probed", "student_pass_at_1", "known_failures", "approved_probed", "headroom")


def demo_seed_ids(store: Store) -> list[int]:
    """The first seeds of a few domains (loading the shipped seeds into an empty store first)."""
    if store.counts()["seeds"] == 0:
        load_sample_seeds(store)
    chosen: list[int] = []
    for domain, count in SEEDS_PER_DOMAIN.items():
        chosen += [s["id"] for s in store.list_seeds(domain=domain, limit=count)]
    return chosen or [s["id"] for s in store.list_seeds(limit=6)]


def submit_demo(store: Store, student: dict | None = None) -> int:
    """Queue the demo job; the worker runs its stages one after another. `student` overrides the student settings
    (e.g. {"model": ...}) for its probes; ValueError for bad ones."""
    student = student or {}
    params = {"seeds": demo_seed_ids(store), "concurrency": 1,  # one unit at a time: the stages run in order
              "student": student}
    return submit(store, KIND, params, model=teacher_config(store).model, student=student_settings(store, student).model)


def _reason_tasks(ctx: JobContext) -> list[dict]:
    """The samples this demo made that no filter removed (near-duplicates of seeds are out by now), and its
    math seeds, which bring reference answers."""
    store, made_by = ctx.store, {_job_of(ctx, "evolve"), _job_of(ctx, "magpie")}
    tasks = [{"type": "sample", "id": s["id"]} for s in store.list_samples() if s["job_id"] in made_by]
    tasks += [{"type": "seed", "id": s["id"]} for s in store.list_seeds(ids=ctx.params["seeds"]) if s["domain"] == "math"]
    return tasks


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
        job_id = submit(store, "reason", {"tasks": _reason_tasks(ctx), **REASON_PARAMS}, model=config.model)
    elif stage in ("embed", "project"):
        job_id = submit(store, stage, {})
    elif stage == "probe":
        job_id = submit_probe(store, "seeds", params["seeds"], {**PROBE_OVERRIDES, **params.get("student", {})})
    elif stage == "headroom":
        job_id = submit_probe(store, "approved", student={**PROBE_OVERRIDES, **params.get("student", {})})
    elif stage == "scan":
        job_id = submit_scan(store)
    else:
        raise ValueError(f"unknown demo stage {stage!r}")
    store.set_setting(key, job_id)
    return job_id


def _job_of(ctx: JobContext, stage: str) -> int:
    return ctx.store.get_setting(f"demo:{ctx.job_id}:{stage}")


def review_by_gate(store: Store, tasks: list[dict]) -> dict[str, int]:
    """Re-evaluate each task under the saved gate settings. Pending samples whose best path passes are approved,
    the other pending samples with paths are rejected with the gate's reason as the review note (samples a
    person reviewed, or a filter removed, are left as they are).

    Returns tasks_verified (tasks with paths), passed_gate, approved and rejected (samples changed now)."""
    settings = verification_settings(store)
    counts = {"tasks_verified": 0, "passed_gate": 0, "approved": 0, "rejected": 0}
    for task in tasks:
        verdict = refresh_task_metric(store, task["type"], task["id"], settings)
        if verdict.best_path_id is None:
            continue
        counts["tasks_verified"] += 1
        counts["passed_gate"] += verdict.passed
        sample = store.get_sample(task["id"]) if task["type"] == "sample" else None
        if sample is None or sample["status"] != "pending" or sample["filter_reason"]:
            continue  # a seed, a sample a person (or a filter) has decided on already
        if verdict.passed:
            counts["approved"] += store.set_sample_status([task["id"]], "approved", DEMO_REVIEWER,
                                                          f"passed the gate: {verdict.reason}", automatic=True)
        else:
            counts["rejected"] += store.set_sample_status([task["id"]], "rejected", DEMO_REVIEWER,
                                                          f"gate {verdict.status}: {verdict.reason}", automatic=True)
    return counts


def export_approved(store: Store, job_id: int) -> dict:
    """Export the approved samples (OpenAI chat format, with lineage) to demo-<job>.jsonl in the export folder.

    Returns {"exported": rows written, "export_path": ..., "blocked_for_pii": ...}; with nothing to export,
    {"exported": 0, "export_note": why}."""
    try:
        result = export(store, ExportOptions(fmt="openai", lineage=True, overwrite=True), f"demo-{job_id}.jsonl",
                        export_dir())
    except ExportError as exc:
        return {"exported": 0, "export_note": str(exc)}
    return {"exported": result.written, "export_path": str(result.path), "blocked_for_pii": result.blocked}


def export_preferences(store: Store, job_id: int) -> dict:
    """Export the preference pairs the gate made on the approved samples (TRL DPO, conversational, with lineage) to
    demo-<job>-pairs.jsonl in the export folder: each passing path against the failing ones, and Step-DPO pairs.

    Returns {"preference_pairs": rows written, "preference_path": ...}; with none, {"preference_pairs": 0,
    "preference_note": why}."""
    try:
        result = export(store, ExportOptions(fmt="dpo-conversational", lineage=True, overwrite=True),
                        f"demo-{job_id}-pairs.jsonl", export_dir())
    except ExportError as exc:
        return {"preference_pairs": 0, "preference_note": str(exc)}
    return {"preference_pairs": result.written, "preference_path": str(result.path)}


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


def _add_result(ctx: JobContext, values: dict) -> None:
    """Merge figures into the demo job's result (each stage adds its own)."""
    ctx.store.set_job_result(ctx.job_id, {**(ctx.store.get_job(ctx.job_id)["result"] or {}), **values})


def student_figures(store: Store, stage: str, job_id: int | None, note: str | None = None) -> dict:
    """The demo's figures of a probe stage (STUDENT_KEYS): from its job's report, or the note saying why it did not
    run (no seed or approved task with a checkable answer)."""
    if job_id is None:
        return {f"{stage}_note": note}
    report = store.get_job(job_id)["result"] or {}
    if stage == "probe":
        return {"student": report.get("student"), "seeds_probed": report.get("probed"),
                "student_pass_at_1": report.get("pass_at_1"), "known_failures": len(report.get("known_failures", []))}
    return {"headroom": report.get("headroom"), "approved_probed": report.get("probed")}


class DemoHandler:
    kind = KIND

    def units(self, ctx: JobContext) -> list[str]:
        return [f"{index}-{stage}" for index, stage in enumerate(STAGES, start=1)]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        stage = unit_key.split("-", 1)[1]
        if stage == "review":
            reason_job = ctx.store.get_job(_job_of(ctx, "reason"))
            _add_result(ctx, review_by_gate(ctx.store, reason_job["params"]["tasks"]))
            return
        if stage == "export":
            result = {**(ctx.store.get_job(ctx.job_id)["result"] or {}), **export_approved(ctx.store, ctx.job_id),
                      **export_preferences(ctx.store, ctx.job_id)}
            ctx.store.set_job_result(ctx.job_id, result)
            return
        try:
            job_id = _stage_job(ctx, stage)
        except NothingToProbe as exc:  # the demo goes on, and says why this probe did not run
            _add_result(ctx, student_figures(ctx.store, stage, None, str(exc)))
            return
        status = await asyncio.to_thread(_run_stage_job, str(ctx.store.path), job_id)
        if status != "done":
            raise RuntimeError(f"the {stage} stage (job {job_id}) ended {status}")
        if stage in ("probe", "headroom"):
            _add_result(ctx, student_figures(ctx.store, stage, job_id))


register(DemoHandler())
