"""The `reason` job: N reasoning paths per task, every step scored by the chosen verifiers, best-of-N metric.

Params: tasks [{"type": "seed"|"sample", "id": N}], n (default 8), verifiers (["arithmetic"]),
temperature, max_tokens, aggregation, threshold, teacher (overrides), judge_model, prm_path,
prm_style, code_timeout_s, concurrency. One unit per task, keyed `seed:12` / `sample:7`: a rerun
skips paths already stored for (job, task, index) and verdicts already stored for (step, verifier).
"""

from __future__ import annotations

import asyncio

from workbench.jobs import JobContext, register
from workbench.metrics import token_entropy_metrics
from workbench.reasoning import (
    COMPLETION_STOP,
    DEFAULT_N,
    DEFAULT_TEMPERATURE,
    MAX_N,
    TASK_TYPES,
    chat_messages,
    completion_prompt,
    final_answer,
    load_task,
    refresh_task_metric,
    split_steps,
    verification_settings,
)
from workbench.settings import teacher_config
from workbench.teacher import Teacher
from workbench.verifiers import DEFAULT_VERIFIER, Verifier, get_verifier, parse_names
from workbench.verifiers.base import Task


def unit_key(task_type: str, task_id: int) -> str:
    return f"{task_type}:{task_id}"


def parse_unit_key(key: str) -> tuple[str, int]:
    task_type, _, task_id = key.partition(":")
    if task_type not in TASK_TYPES or not task_id.isdigit():
        raise ValueError(f"bad task key {key!r}: expected seed:ID or sample:ID")
    return task_type, int(task_id)


def build_verifiers(ctx: JobContext) -> list[Verifier]:
    """The job's verifiers, built once per job run (a PRM loads its weights once)."""
    params = ctx.params
    built: list[Verifier] = []
    for name in parse_names(params.get("verifiers") or [DEFAULT_VERIFIER]):
        if name == "judge":
            overrides = {**(params.get("teacher") or {})}
            if params.get("judge_model"):
                overrides = {"model": params["judge_model"]}
            built.append(get_verifier("judge", teacher=Teacher(teacher_config(ctx.store, overrides))))
        elif name == "prm":
            built.append(get_verifier("prm", path=params.get("prm_path"), style=params.get("prm_style") or "qwen"))
        elif name == "code":
            built.append(get_verifier("code", timeout_s=float(params.get("code_timeout_s") or 10.0)))
        else:
            built.append(get_verifier(name))
    return built


class ReasonHandler:
    kind = "reason"

    def units(self, ctx: JobContext) -> list[str]:
        keys = [unit_key(t["type"], int(t["id"])) for t in ctx.params.get("tasks") or []]
        for key in keys:
            parse_unit_key(key)
        return list(dict.fromkeys(keys))

    def _shared(self, ctx: JobContext) -> tuple[Teacher, list[Verifier]]:
        if "teacher" not in ctx.extras:
            ctx.extras["teacher"] = Teacher(teacher_config(ctx.store, ctx.params.get("teacher")))
            ctx.extras["verifiers"] = build_verifiers(ctx)
        return ctx.extras["teacher"], ctx.extras["verifiers"]

    async def _sample_path(self, ctx: JobContext, teacher: Teacher, task: Task, task_type: str, task_id: int,
                           index: int) -> None:
        ctx.check_stop()
        temperature = float(ctx.params.get("temperature", DEFAULT_TEMPERATURE))
        max_tokens = int(ctx.params.get("max_tokens") or teacher.config.max_tokens)
        seed = task_id * 1009 + index  # a different, reproducible sample per path
        if teacher.config.uses_completion_prompts:
            generation = await teacher.acomplete(completion_prompt(task), temperature=temperature,
                                                 max_tokens=max_tokens, stop=COMPLETION_STOP, seed=seed)
            text = "Step 1:" + generation.text
        else:
            generation = await teacher.achat(chat_messages(task), temperature=temperature, max_tokens=max_tokens,
                                             seed=seed)
            text = generation.text
        ctx.add_usage(generation.prompt_tokens, generation.completion_tokens, generation.cost)
        steps = split_steps(text) or [text.strip() or "(empty output)"]
        path_id = ctx.store.add_reasoning_path(
            {"job_id": ctx.job_id, "task_type": task_type, "task_id": task_id, "path_index": index,
             "text": text, "final_answer": final_answer(steps), "model": generation.model,
             "params": generation.params},
            steps,
        )
        ctx.store.set_metrics("path", path_id, token_entropy_metrics(generation.token_entropies),
                              note=generation.entropy_source)

    async def _score_path(self, ctx: JobContext, verifier: Verifier, task: Task, path_id: int) -> None:
        steps = ctx.store.path_steps(path_id)
        if not steps or {s["id"] for s in steps} <= ctx.store.scored_step_ids(path_id, verifier.name):
            return
        ctx.check_stop()
        scores = await verifier.score_steps(task, [s["text"] for s in steps])
        usage = [s.params for s in scores if "prompt_tokens" in s.params]
        if usage:
            costs = [u.get("cost") for u in usage if u.get("cost") is not None]
            ctx.add_usage(sum(u["prompt_tokens"] for u in usage), sum(u["completion_tokens"] for u in usage),
                          sum(costs) if costs else None)
        ctx.store.set_step_scores([
            {"step_id": step["id"], "verifier": verifier.name, "score": score.score, "label": score.label,
             "rationale": score.rationale, "model": score.model, "params": score.params}
            for step, score in zip(steps, scores, strict=True)
        ])

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        task_type, task_id = parse_unit_key(unit_key)
        task = load_task(ctx.store, task_type, task_id)
        teacher, verifiers = self._shared(ctx)
        n = max(1, min(MAX_N, int(ctx.params.get("n") or DEFAULT_N)))
        stored = ctx.store.job_path_ids(ctx.job_id, task_type, task_id)
        await asyncio.gather(*(
            self._sample_path(ctx, teacher, task, task_type, task_id, index) for index in range(n) if index not in stored
        ))
        path_ids = list(ctx.store.job_path_ids(ctx.job_id, task_type, task_id).values())
        for verifier in verifiers:
            await asyncio.gather(*(self._score_path(ctx, verifier, task, path_id) for path_id in path_ids))
        refresh_task_metric(ctx.store, task_type, task_id, verification_settings(ctx.store, ctx.params))


register(ReasonHandler())
