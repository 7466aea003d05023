"""The `probe` job: the student's attempts at the gold seeds (known failures) or at the approved tasks (headroom).

Params (set by `submit_probe`): on ("seeds" | "approved"); tasks [{"type", "id", "against"}] and not_probed
[{"id", "reason"}], both fixed when the job is queued; k; threshold; temperature; max_tokens; student (the student
settings in full, so a rerun asks the same model the same way); concurrency; bypass_cache. The job row names the
student (`jobs.student`).

Units are keyed by task and attempt (`seed:12/a3`). A unit samples one attempt (a named sample of the response cache,
`attempts.attempt_index`, so a rerun is served from the cache), checks it and stores it with its verdict in one row
keyed (job, task, attempt), with its tokens and cost added to the job in the same transaction: a unit rerun after a
kill -9 finds its attempt stored and calls nothing, and a rerun never stores or counts an attempt twice. Before any unit runs, `units` makes one tiny uncached call: an unreachable student or an
unknown model fails the job with a plain message naming the student (also in the job's result as "error").
On seeds, a seed's last attempt also measures the student's uncertainty on it from its stored attempts (no new call;
workbench/analyse/uncertainty.py). `finish` reports pass@1 and pass@k per task, overall and per domain
(`probe.probe_report`); on seeds it marks the known failures by probe, measures the seeds left (fewer than k attempts,
or finished before a kill) and ranks the student's uncertainty.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import replace

from workbench.analyse.uncertainty import measure, rank_uncertainty, save_uncertainty
from workbench.core.jobs.queue import submit
from workbench.core.jobs.runner import JobContext, register
from workbench.core.response_cache import ACTIVE
from workbench.core.teacher import Teacher, TeacherConfig
from workbench.store import Store
from workbench.student.attempts import (
    Verdict,
    attempt_index,
    check_answer_attempt,
    check_code_attempt,
    sample_attempt,
)
from workbench.student.probe import TARGETS, ProbeTask, TaskResult, plan_approved, plan_seeds, probe_report
from workbench.student.settings import StudentSettings, student_settings
from workbench.verify.reasoning import load_task
from workbench.verify.verifiers.base import Task

KIND = "probe"
CHECK_TIMEOUT_S = 30.0


class StudentUnavailable(Exception):
    """The student cannot be called (unreachable, unknown model, missing key); the message names it."""


class NothingToProbe(ValueError):
    """No task of the chosen kind can be probed; the message says why, by reason."""


def unit_key(task: ProbeTask, attempt: int) -> str:
    return f"{task.type}:{task.id}/a{attempt}"


def parse_unit_key(key: str) -> tuple[str, int, int]:
    task, attempt = key.split("/a")
    task_type, task_id = task.split(":")
    return task_type, int(task_id), int(attempt)


def plan(store: Store, on: str, seed_ids: list[int] | None = None) -> tuple[list[ProbeTask], list[dict]]:
    """What a probe `on` seeds (all, or `seed_ids`) or approved tasks would sample, and what it cannot, with why."""
    if on == "seeds":
        seeds = store.seeds.list_seeds(ids=seed_ids) if seed_ids is not None else store.seeds.list_seeds()
        if seed_ids is not None and (missing := sorted(set(seed_ids) - {s["id"] for s in seeds})):
            raise ValueError(f"No seed with id {', '.join(map(str, missing))}.")
        return plan_seeds(seeds)
    if on == "approved":
        return plan_approved(store.student.approved_probe_candidates())
    raise ValueError(f"probe on one of {', '.join(TARGETS)}, not {on!r}")


def _refusal(on: str, not_probed: list[dict]) -> str:
    what = "seed" if on == "seeds" else "approved task"
    if not not_probed:
        return f"There is no {what} to probe." + (" Approve samples first (Review page)." if on == "approved" else "")
    reasons: dict[str, int] = {}
    for row in not_probed:
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    listed = "; ".join(f"{n} with {reason}" for reason, n in reasons.items())
    return f"None of the {len(not_probed)} {what}s can be probed: {listed}."


def submit_probe(store: Store, on: str = "seeds", seed_ids: list[int] | None = None, student: dict | None = None,
                 bypass_cache: bool = False) -> int:
    """Queue a probe of the student (the saved settings with `student` overrides: model, k, threshold, ...) on the
    seeds (all, or `seed_ids`) or the approved tasks; returns the job id. Raises ValueError for bad settings (k < 1, a
    threshold outside [0, 1]) and NothingToProbe when no task can be probed."""
    settings = student_settings(store, student)
    tasks, not_probed = plan(store, on, seed_ids)
    if not tasks:
        raise NothingToProbe(_refusal(on, not_probed))
    params = {"on": on, "tasks": [t.to_dict() for t in tasks], "not_probed": not_probed, "k": settings.k,
              "threshold": settings.threshold, "temperature": settings.temperature, "max_tokens": settings.max_tokens,
              "student": settings.to_dict(), "concurrency": settings.concurrency, "bypass_cache": bypass_cache}
    return submit(store, KIND, params, student=settings.model)


async def check_student(config: TeacherConfig) -> str | None:
    """None when the student answers one tiny call (never from the response cache), else a plain message naming it."""
    from workbench.core.connection_test import diagnose, missing_keys

    missing = [] if config.extra.get("api_key") else missing_keys(config)
    if missing:
        keys = ", ".join(f"`{k}`" for k in missing)
        return f"The student `{config.model}` needs {keys}, which is not set: set it in the environment or in " \
               "`.streamlit/secrets.toml`, then probe again."
    quick = replace(config, max_retries=0, timeout_s=min(config.timeout_s, CHECK_TIMEOUT_S))
    uncached = ACTIVE.set(None)
    try:
        model = Teacher(quick)
        if quick.uses_completion_prompts:
            await model.acomplete("Question: 1 + 1\nAnswer:", max_tokens=2, temperature=0.0, logprobs=False)
        else:
            await model.achat([{"role": "user", "content": "Say OK."}], max_tokens=2, temperature=0.0, logprobs=False)
    except Exception as exc:  # every failure is the answer: a TeacherError, a bad router file, an unknown provider
        cause, message = diagnose(exc, quick)
        if cause != "rate_limited":  # a rate-limited student answers; the probe's own retries wait for it
            return f"The student `{config.model}` cannot be probed. {message}"
    finally:
        ACTIVE.reset(uncached)
    return None


def probe_task(store: Store, spec: ProbeTask) -> Task:
    """The task as the attempt sees it; for `majority`, the reference is the latest verified majority answer."""
    task = load_task(store, spec.type, spec.id)
    if spec.against == "majority":
        majorities = store.verify.pseudo_references(spec.type, spec.id)
        if not majorities:
            raise LookupError(f"{spec.type} {spec.id} has no majority answer any more")
        task = replace(task, reference_answer=majorities[0]["answer"])
    return task


class ProbeHandler:
    kind = KIND
    units_per_slot = 2  # the student's client caps the calls; a unit checking its answer leaves no call slot idle

    def _state(self, ctx: JobContext) -> dict:
        if "probe" not in ctx.extras:
            settings = StudentSettings.from_dict(ctx.params.get("student"))
            config = settings.client_config()
            attempts: dict[tuple[str, int], list[dict]] = defaultdict(list)
            for row in ctx.store.student.job_attempts(ctx.job_id):  # what runs before a kill stored, read once
                attempts[(row["task_type"], row["task_id"])].append(row)
            ctx.extras["probe"] = {
                "settings": settings, "config": config, "model": Teacher(config), "task_text": {},
                "attempts": attempts, "measured": set(),
                "stored": {(t, i, row["attempt"]) for (t, i), rows in attempts.items() for row in rows},
                "tasks": {(t["type"], int(t["id"])): ProbeTask(t["type"], int(t["id"]), t["against"])
                          for t in ctx.params.get("tasks") or []},
            }
        return ctx.extras["probe"]

    def units(self, ctx: JobContext) -> list[str]:
        state = self._state(ctx)
        problem = asyncio.run(check_student(state["config"]))
        if problem is not None:
            ctx.store.jobs.set_job_result(ctx.job_id, {"error": problem})
            raise StudentUnavailable(problem)
        k = int(ctx.params.get("k") or 1)
        return [unit_key(task, attempt) for task in state["tasks"].values() for attempt in range(k)]

    async def run_unit(self, ctx: JobContext, key: str) -> None:
        task_type, task_id, attempt = parse_unit_key(key)
        state = self._state(ctx)
        if (task_type, task_id, attempt) in state["stored"]:
            return  # stored before a kill: nothing to call, nothing to count again
        spec = state["tasks"][(task_type, task_id)]
        task = state["task_text"].get((task_type, task_id)) or probe_task(ctx.store, spec)
        state["task_text"][(task_type, task_id)] = task
        ctx.check_stop()
        made = await sample_attempt(state["model"], task, temperature=float(ctx.params["temperature"]),
                                    max_tokens=int(ctx.params["max_tokens"]),
                                    sample_index=attempt_index(task_type, task_id, attempt))
        # off the event loop, so that the other attempts' calls go on while one is checked (a code run takes seconds)
        if spec.against == "tests":
            verdict: Verdict = await asyncio.to_thread(check_code_attempt, task.tests or "", made.text)
        else:
            verdict = await asyncio.to_thread(check_answer_attempt, task.reference_answer or "", made.final_answer,
                                              spec.against)
        generation = made.generation
        row = {
            "job_id": ctx.job_id, "task_type": task_type, "task_id": task_id, "attempt": attempt, "text": made.text,
            "final_answer": made.final_answer, "correct": verdict.correct, "verdict": verdict.reason,
            "checked_against": spec.against, "token_entropy": made.token_entropy_bits,
            "entropy_note": generation.entropy_source, "model": generation.model, "params": generation.params,
            "prompt_tokens": generation.prompt_tokens, "completion_tokens": generation.completion_tokens,
        }
        if not ctx.store.student.add_student_attempt(row, cost=generation.cost):
            return
        done = state["attempts"][(task_type, task_id)]
        done.append(row)
        if ctx.params["on"] == "seeds" and len(done) == int(ctx.params["k"]):  # its last attempt: measure it now,
            await self._measure(ctx, state, (task_type, task_id))  # while the other attempts' calls are in flight

    async def _measure(self, ctx: JobContext, state: dict, key: tuple[str, int]) -> None:
        """The student's uncertainty on one probed seed, from its stored attempts (no model call)."""
        from workbench.core.embeddings import encode, model_name

        rows = state["attempts"][key]
        task = state["task_text"].get(key) or probe_task(ctx.store, state["tasks"][key])
        embedding_model = state.setdefault("embedding_model", model_name(ctx.store))
        result = await asyncio.to_thread(
            measure, task, [r["text"] for r in rows], [r["final_answer"] for r in rows],
            [r["token_entropy"] for r in rows], [r["entropy_note"] or "" for r in rows],
            lambda texts: encode(texts, embedding_model))
        save_uncertainty(ctx.store, "student", key[1], result, len(rows), state["settings"].model)
        state["measured"].add(key)

    async def finish(self, ctx: JobContext) -> None:
        state = self._state(ctx)
        params, store = ctx.params, ctx.store
        attempts = store.student.job_attempts(ctx.job_id)
        by_task: dict[tuple[str, int], list[dict]] = {}
        for row in attempts:
            by_task.setdefault((row["task_type"], row["task_id"]), []).append(row)
        domains = self._domains(store, params["on"], [task_id for _, task_id in by_task])
        k = int(params["k"])
        results = [TaskResult(task_id, len(rows), sum(r["correct"] is True for r in rows), k, domains.get(task_id))
                   for (_, task_id), rows in sorted(by_task.items())]
        errors = {parse_unit_key(e["unit_key"])[:2]: e["error"] for e in store.jobs.unit_errors(ctx.job_id)}
        failed = [{"id": t.id, "reason": f"every attempt failed: {errors.get((t.type, t.id), 'no attempt was stored')}"}
                  for t in state["tasks"].values() if (t.type, t.id) not in by_task]
        report = probe_report(params["on"], state["settings"].model, k, float(params["threshold"]), results,
                              [*params.get("not_probed", []), *failed])
        if params["on"] == "seeds":
            known = set(report["known_failures"])
            report["marked"] = store.seeds.mark_probe_failures(known, [r.id for r in results if r.id not in known])
            for key in set(by_task) - state["measured"]:  # fewer than k attempts, or measured before a kill
                state["attempts"][key] = by_task[key]
                try:
                    await self._measure(ctx, state, key)
                except LookupError:
                    continue  # deleted while the job ran
            rank_uncertainty(store, "student")
        store.jobs.set_job_result(ctx.job_id, report)

    @staticmethod
    def _domains(store: Store, on: str, ids: list[int]) -> dict[int, str | None]:
        if on == "seeds":
            return {s["id"]: s["domain"] for s in store.seeds.list_seeds(ids=ids)}
        seeds = {s["id"]: s["domain"] for s in store.seeds.list_seeds()}
        return {s["id"]: seeds.get(s["seed_id"]) for s in store.samples.list_samples(ids=ids, include_filtered=True)}


register(ProbeHandler())
