"""The `reason` job: N reasoning paths per task, every step scored by the chosen verifiers, best-of-N metric.

Params: tasks [{"type": "seed"|"sample", "id": N}], n (default 8), verifiers (default DEFAULT_VERIFIERS),
temperature, max_tokens, aggregation, threshold, margin, step_rule, teacher (overrides), judge_model, judge_mode
("step"|"critic"), prm_path,
prm_style, code_timeout_s, consistency_mode ("share"|"majority"), rollout_k, rollout_max_steps,
rollout_max_tokens, rollout_label ("soft"|"any"|"most"), rollout_skip_wrong_paths, concurrency.

One unit per task, keyed `seed:12` / `sample:7`. A unit samples the task's N paths, lets their final
answers vote (self-consistency; the majority is stored as the task's pseudo-reference when the task
has no reference answer), then runs each verifier over every path. A rerun skips paths already stored
for (job, task, index), verdicts already stored for (step, verifier) and rollouts already stored for
(step, k): a unit killed at any point resumes without duplicates or repeated calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from workbench.core.jobs.runner import JobContext, register
from workbench.core.metrics import token_entropy_metrics
from workbench.core.settings import teacher_config
from workbench.core.teacher import Teacher
from workbench.store import Store
from workbench.verify.prompts import COMPLETION_STOP, chat_messages, completion_prompt
from workbench.verify.reasoning import (
    DEFAULT_N,
    DEFAULT_TEMPERATURE,
    MAX_N,
    TASK_TYPES,
    final_answer,
    load_task,
    refresh_task_metric,
    split_steps,
    verification_settings,
)
from workbench.verify.verifiers import DEFAULT_VERIFIERS, Verifier, get_verifier, parse_names
from workbench.verify.verifiers.base import CHARS_PER_TOKEN, CallBudget, StepScore, Task
from workbench.verify.verifiers.consistency import (
    PSEUDO_REFERENCE,
    PathContext,
    stated_answer,
    task_target,
    vote,
)
from workbench.verify.verifiers.judge import DEFAULT_MODE as DEFAULT_JUDGE_MODE
from workbench.verify.verifiers.judge import MODES as JUDGE_MODES
from workbench.verify.verifiers.judge import judge_budget
from workbench.verify.verifiers.rollout import (
    DEFAULT_K,
    DEFAULT_MAX_STEPS,
    Rollout,
    RolloutLedger,
    rollout_budget,
)
from workbench.verify.verifiers.rollout import DEFAULT_MAX_TOKENS as DEFAULT_ROLLOUT_TOKENS

ASSUMED_STEPS = 6  # steps per path the judge's cost estimate assumes before any path exists


def unit_key(task_type: str, task_id: int) -> str:
    return f"{task_type}:{task_id}"


def parse_unit_key(key: str) -> tuple[str, int]:
    task_type, _, task_id = key.partition(":")
    if task_type not in TASK_TYPES or not task_id.isdigit():
        raise ValueError(f"bad task key {key!r}: expected seed:ID or sample:ID")
    return task_type, int(task_id)


class StoreLedger:
    """Rollouts kept in the store, keyed on step id; each new one counts its tokens to the job when stored."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    def stored(self, key: Hashable) -> dict[int, Rollout]:
        return {
            row["k"]: Rollout(row["k"], row["text"], row["final_answer"], row["model"], row["params"],
                              row["prompt_tokens"], row["completion_tokens"])
            for row in self.ctx.store.verify.stored_rollouts(int(key))
        }

    def save(self, key: Hashable, rollout: Rollout) -> None:
        added = self.ctx.store.verify.add_rollout({
            "step_id": int(key), "k": rollout.k, "text": rollout.text, "final_answer": rollout.final_answer,
            "model": rollout.model, "params": rollout.params, "prompt_tokens": rollout.prompt_tokens,
            "completion_tokens": rollout.completion_tokens,
        })
        if added:
            self.ctx.add_usage(rollout.prompt_tokens, rollout.completion_tokens, rollout.cost)


def build_verifiers(store: Store, params: dict, teacher: Teacher, ledger: RolloutLedger | None = None) -> list[Verifier]:
    """The verifiers named in params["verifiers"] (DEFAULT_VERIFIERS when none) with their options from params
    (judge_model, judge_mode, prm_path, prm_style, code_timeout_s, consistency_*, rollout_*); rollouts use `teacher`
    and keep their rollouts in `ledger` (memory when None). Built once per job run: a PRM loads its weights once.
    Raises VerifierError."""
    built: list[Verifier] = []
    for name in parse_names(params.get("verifiers") or list(DEFAULT_VERIFIERS)):
        if name == "judge":
            overrides = {**(params.get("teacher") or {})}
            if params.get("judge_model"):
                overrides = {"model": params["judge_model"]}
            built.append(get_verifier("judge", teacher=Teacher(teacher_config(store, overrides)),
                                      mode=params.get("judge_mode") or DEFAULT_JUDGE_MODE))
        elif name == "prm":
            built.append(get_verifier("prm", path=params.get("prm_path"), style=params.get("prm_style") or "qwen"))
        elif name == "code":
            built.append(get_verifier("code", timeout_s=float(params.get("code_timeout_s") or 10.0)))
        elif name == "consistency":
            built.append(get_verifier("consistency", **prefixed_options(params, "consistency_")))
        elif name == "rollout":
            built.append(get_verifier("rollout", teacher=teacher, ledger=ledger, **prefixed_options(params, "rollout_")))
        else:
            built.append(get_verifier(name))
    return built


def prefixed_options(params: dict, prefix: str) -> dict:
    """One verifier's options among the job params: prefix 'rollout_' turns rollout_k into k."""
    return {key[len(prefix):]: value for key, value in params.items() if key.startswith(prefix) and value is not None}


def expected_usage(store: Store, params: dict) -> dict[str, int]:
    """The most a reason job with these params can spend, before it starts: calls, completion tokens and
    (estimated, ~4 characters a token) prompt tokens, for the paths, the rollouts and the judge in each of its
    modes (`judge_step_*`, `judge_critic_*`, whether or not the judge is chosen, so that a page can compare them).
    Rollouts are an upper bound: every path rolls out `rollout_max_steps` prefixes K times with a prefix as long as
    a whole path. The judge's figures assume ASSUMED_STEPS steps per path of at most max_tokens tokens."""
    config = teacher_config(store, params.get("teacher"))
    n = max(1, min(MAX_N, int(params.get("n") or DEFAULT_N)))
    max_tokens = int(params.get("max_tokens") or config.max_tokens)
    usage = dict.fromkeys(("path_calls", "path_completion_tokens", "path_prompt_tokens", "rollout_calls",
                           "rollout_completion_tokens", "rollout_prompt_tokens",
                           *(f"judge_{mode}_{part}" for mode in JUDGE_MODES
                             for part in ("calls", "completion_tokens", "prompt_tokens"))), 0)
    rollouts = "rollout" in (params.get("verifiers") or [])
    options = prefixed_options(params, "rollout_")
    for spec in params.get("tasks") or []:
        try:
            task = load_task(store, spec["type"], int(spec["id"]))
        except LookupError:
            continue
        if config.uses_completion_prompts:
            prompt_chars = len(completion_prompt(task))
        else:
            prompt_chars = sum(len(m["content"]) for m in chat_messages(task))
        _add_budget(usage, "path", CallBudget.of(n, max_tokens, prompt_chars))
        if rollouts:
            budget = rollout_budget(n, int(options.get("k", DEFAULT_K)), int(options.get("max_steps", DEFAULT_MAX_STEPS)),
                                    int(options.get("max_tokens", DEFAULT_ROLLOUT_TOKENS)),
                                    prompt_chars + max_tokens * CHARS_PER_TOKEN)
            _add_budget(usage, "rollout", budget)
        for mode in JUDGE_MODES:
            _add_budget(usage, f"judge_{mode}", judge_budget(mode, n, ASSUMED_STEPS, len(task.text),
                                                             max_tokens * CHARS_PER_TOKEN))
    return usage


def _add_budget(usage: dict[str, int], prefix: str, budget: CallBudget) -> None:
    usage[f"{prefix}_calls"] += budget.calls
    usage[f"{prefix}_completion_tokens"] += budget.completion_tokens
    usage[f"{prefix}_prompt_tokens"] += budget.prompt_tokens


OFFLINE_VERIFIERS = ("arithmetic", "alignment", "grounding", "code")  # CPU-bound, no model, no store: their batches go to the job's executor


def score_paths(verifiers: list[Verifier], task: Task, paths: list[list[list[str]]]) -> list[list[list[StepScore]]]:
    """A batch function for an executor (workbench.core.executor): the offline verifiers' verdicts on one task's
    paths, all in one batch so that the work that scales runs where the batch runs. `paths[i]` are the paths (each
    a list of step texts) that `verifiers[i]` still has to score; returns result[i][j][k], verifier i's verdict on
    step k of its path j (the arithmetic verifier checks the final answer against the reference too)."""

    async def every_path() -> list[list[list[StepScore]]]:
        return [[await verifier.score_steps(task, steps) for steps in batch]
                for verifier, batch in zip(verifiers, paths, strict=True)]

    return asyncio.run(every_path())


class ReasonHandler:
    kind = "verify"
    cpu_bound = True  # the offline verifiers' batches go to the job's executor

    def units(self, ctx: JobContext) -> list[str]:
        keys = [unit_key(t["type"], int(t["id"])) for t in ctx.params.get("tasks") or []]
        for key in keys:
            parse_unit_key(key)
        return list(dict.fromkeys(keys))

    def _shared(self, ctx: JobContext) -> tuple[Teacher, list[Verifier]]:
        if "teacher" not in ctx.extras:
            teacher = Teacher(teacher_config(ctx.store, ctx.params.get("teacher")))
            ctx.extras["verifiers"] = build_verifiers(ctx.store, ctx.params, teacher, StoreLedger(ctx))
            ctx.extras["teacher"] = teacher
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
        path_id = ctx.store.verify.add_reasoning_path(
            {"job_id": ctx.job_id, "task_type": task_type, "task_id": task_id, "path_index": index,
             "text": text, "final_answer": final_answer(steps), "model": generation.model,
             "params": generation.params},
            steps,
        )
        ctx.store.metrics.set_metrics("path", path_id, token_entropy_metrics(generation.token_entropies),
                              note=generation.entropy_source)

    def _contexts(self, ctx: JobContext, task: Task, task_type: str, task_id: int,
                  steps_of: dict[int, list[dict]]) -> dict[int, PathContext]:
        """Every path's place in the vote of the job's paths for this task; records the pseudo-reference."""
        path_ids = list(steps_of)
        paths_vote = vote([stated_answer([s["text"] for s in steps_of[p]])[1] for p in path_ids])
        target = task_target(task, paths_vote)
        if target is not None and target.kind == PSEUDO_REFERENCE:
            ctx.store.verify.set_pseudo_reference(task_type, task_id, ctx.job_id, target.answer, target.votes, target.voters)
        return {p: PathContext(paths_vote, i, [s["id"] for s in steps_of[p]]) for i, p in enumerate(path_ids)}

    async def _score_path(self, ctx: JobContext, verifier: Verifier, task: Task, path_id: int, steps: list[dict],
                          context: PathContext | None) -> None:
        if not steps or {s["id"] for s in steps} <= ctx.store.verify.scored_step_ids(path_id, verifier.name):
            return
        ctx.check_stop()
        texts = [s["text"] for s in steps]
        if hasattr(verifier, "score_in_context"):  # verifiers that use the task's other paths (vote, rollouts)
            scores = await verifier.score_in_context(task, texts, context)
        else:
            scores = await verifier.score_steps(task, texts)
        self._store_scores(ctx, verifier, steps, scores)

    async def _score_offline(self, ctx: JobContext, verifiers: list[Verifier], task: Task,
                             steps_of: dict[int, list[dict]]) -> None:
        """Every path of the task not yet scored by each offline verifier, all in one batch on the job's executor;
        the verdicts are stored in one transaction."""
        pending = {verifier.name: [p for p, steps in steps_of.items()
                                   if steps and not all(verifier.name in s.get("scores", {}) for s in steps)]
                   for verifier in verifiers}
        busy = [verifier for verifier in verifiers if pending[verifier.name]]
        if not busy:
            return
        ctx.check_stop()
        batch = [[[s["text"] for s in steps_of[p]] for p in pending[verifier.name]] for verifier in busy]
        results = await ctx.executor.run(score_paths, busy, task, batch)
        ctx.store.verify.set_step_scores([row for verifier, scored in zip(busy, results, strict=True)
                                   for path_id, scores in zip(pending[verifier.name], scored, strict=True)
                                   for row in self._score_rows(ctx, verifier, steps_of[path_id], scores)])

    def _store_scores(self, ctx: JobContext, verifier: Verifier, steps: list[dict], scores: list[StepScore]) -> None:
        ctx.store.verify.set_step_scores(self._score_rows(ctx, verifier, steps, scores))

    def _score_rows(self, ctx: JobContext, verifier: Verifier, steps: list[dict], scores: list[StepScore]) -> list[dict]:
        """The step_scores rows of one path's verdicts; the model calls they cost are counted to the job."""
        usage = [s.params for s in scores if "prompt_tokens" in s.params]
        if usage:
            costs = [u.get("cost") for u in usage if u.get("cost") is not None]
            ctx.add_usage(sum(u["prompt_tokens"] for u in usage), sum(u["completion_tokens"] for u in usage),
                          sum(costs) if costs else None)
        return [
            {"step_id": step["id"], "verifier": verifier.name, "score": score.score, "label": score.label,
             "checks": score.checks, "rationale": score.rationale, "model": score.model, "params": score.params}
            for step, score in zip(steps, scores, strict=True)
        ]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        task_type, task_id = parse_unit_key(unit_key)
        task = load_task(ctx.store, task_type, task_id)
        teacher, verifiers = self._shared(ctx)
        n = max(1, min(MAX_N, int(ctx.params.get("n") or DEFAULT_N)))
        stored = ctx.store.verify.job_path_ids(ctx.job_id, task_type, task_id)
        await asyncio.gather(*(
            self._sample_path(ctx, teacher, task, task_type, task_id, index) for index in range(n) if index not in stored
        ))
        nested = ctx.store.verify.reasoning_paths_nested(task_type, task_id).get((task_type, task_id), [])
        steps_of = {path["id"]: path["steps"] for path in nested if path["job_id"] == ctx.job_id}
        path_ids = list(steps_of)  # in path_index order
        uses_context = any(hasattr(v, "score_in_context") for v in verifiers)
        contexts = self._contexts(ctx, task, task_type, task_id, steps_of) if uses_context else {}
        await self._score_offline(ctx, [v for v in verifiers if v.name in OFFLINE_VERIFIERS], task, steps_of)
        for verifier in verifiers:
            if verifier.name in OFFLINE_VERIFIERS:
                continue
            await asyncio.gather(*(
                self._score_path(ctx, verifier, task, path_id, steps_of[path_id], contexts.get(path_id))
                for path_id in path_ids
            ))
        refresh_task_metric(ctx.store, task_type, task_id, verification_settings(ctx.store, ctx.params))


register(ReasonHandler())
