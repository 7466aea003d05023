"""Analysis jobs: `embed` (embeddings + per-item metrics + the similarity gate), `project` (UMAP map)
and `uncertainty` (how unsure the student, or the teacher, is about each seed).

CPU-heavy steps run in a thread with their own store connection, so the worker's heartbeat (and
with it pause/cancel) keeps going while a batch is embedded or a map is fitted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, TypeVar

import numpy as np

from workbench.analyse.maps import MapParams, current_params, project, warm_up_helps
from workbench.analyse.umap_jit import start_warm_up
from workbench.analyse.uncertainty import measure, metric_names, rank_uncertainty, save_uncertainty
from workbench.core.embeddings import embed_missing, encode, item_matrix, model_name
from workbench.core.jobs.queue import submit
from workbench.core.jobs.runner import JobContext, register
from workbench.core.metrics import (
    entropy_gain,
    lexical_entropy,
    lexical_metrics,
    max_similarity,
    near_duplicate_groups,
    novelty,
)
from workbench.core.settings import teacher_config
from workbench.core.teacher import Teacher
from workbench.store import Store
from workbench.student.attempts import attempt_index, sample_attempt
from workbench.student.settings import student_settings
from workbench.verify.reasoning import DEFAULT_TEMPERATURE, load_task

GATE_KEY = "similarity_gate_threshold"
DEFAULT_GATE = 0.9
DUPLICATE_KEY = "near_duplicate_threshold"
DEFAULT_DUPLICATE = 0.95
EMBED_BATCH = 512

T = TypeVar("T")


async def in_thread(ctx: JobContext, work: Callable[[Store], T]) -> T:
    """Run work(store) in a thread on its own connection to the job's store."""

    def run() -> T:
        store = Store(ctx.store.path)
        try:
            return work(store)
        finally:
            store.close()

    return await asyncio.to_thread(run)


@contextmanager
def timed(ctx: JobContext, name: str) -> Iterator[None]:
    """Add the seconds spent in the block to the job's timings[name] (this process's; the embed job reports them)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings = ctx.extras.setdefault("timings", {})
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def threshold(store: Store, params: dict, key: str, default: float) -> float:
    """A threshold from the job params, else the setting, else its default."""
    value = params.get(key, store.settings.get_setting(key, default))
    return float(value)


# ---------------------------------------------------------------- embed + metrics


def compute_item_metrics(store: Store, gate: float = DEFAULT_GATE, duplicate: float = DEFAULT_DUPLICATE,
                         model: str | None = None) -> dict[str, Any]:
    """Novelty, near-duplicate groups, the similarity gate and entropy gains, from cached embeddings."""
    items, matrix = item_matrix(store, model)
    types = np.array([t for t, _ in items])
    ids = np.array([i for _, i in items], dtype=np.int64)
    is_seed = types == "seed"
    seed_vectors, seed_ids = matrix[is_seed], ids[is_seed]
    own_seed = np.full(len(items), -1)
    own_seed[is_seed] = np.arange(is_seed.sum())  # a seed is not novel against itself

    approved = set(store.samples.approved_sample_ids())
    is_accepted = np.array([t == "sample" and i in approved for t, i in items], dtype=bool)
    own_accepted = np.full(len(items), -1)
    own_accepted[is_accepted] = np.arange(is_accepted.sum())

    similarity, nearest = max_similarity(matrix, seed_vectors, own_seed)
    novelty_seeds = 1.0 - similarity
    novelty_accepted = novelty(matrix, matrix[is_accepted], own_accepted)

    def value(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    for kind in ("seed", "sample"):
        store.metrics.set_metrics_bulk(
            kind,
            [
                (int(ids[k]), {"novelty_seeds": value(novelty_seeds[k]), "novelty_accepted": value(novelty_accepted[k])})
                for k in np.nonzero(types == kind)[0]
            ],
        )

    index = {item: k for k, item in enumerate(items)}
    reasons: dict[int, str] = {}
    for sample in store.samples.gate_candidates():
        k = index.get(("sample", sample["id"]))
        if k is not None and not np.isnan(similarity[k]) and similarity[k] > gate:
            reasons[sample["id"]] = (
                f"{store.samples.SIMILARITY_GATE_PREFIX} {int(seed_ids[nearest[k]])} (cosine {similarity[k]:.3f} > {gate:.2f})"
            )
    gated = store.samples.apply_similarity_gate(reasons)

    groups = near_duplicate_groups(matrix, duplicate)
    for kind in ("seed", "sample"):
        store.metrics.delete_metric("near_duplicate_group", kind)
    for number, group in enumerate(groups, start=1):
        for kind in ("seed", "sample"):
            members = [int(ids[k]) for k in group if types[k] == kind]
            store.metrics.set_metrics_bulk(kind, [(m, {"near_duplicate_group": float(number)}) for m in members],
                                   note=f"cosine >= {duplicate}")
    gains = compute_entropy_gains(store)
    return {"items": len(items), "gated": gated, "near_duplicate_groups": len(groups),
            "near_duplicates": sum(len(g) for g in groups), "nodes_with_gain": gains}


def compute_entropy_gains(store: Store) -> int:
    """Lexical metrics of every evolution node and its entropy gain over its parent and its seed
    (nodes, and the samples grown from them). Returns how many nodes got a gain."""
    nodes = store.evolve.evol_node_texts()
    if not nodes:
        return 0
    seeds = {s["id"]: lexical_entropy(s["instruction"]) for s in store.seeds.list_seeds()}
    node_metrics = {n["id"]: lexical_metrics(n["instruction"]) for n in nodes}
    rows = []
    for node in nodes:
        own = node_metrics[node["id"]]["lexical_entropy"]
        seed = seeds.get(node["seed_id"])
        parent = seed if node["parent_id"] is None else node_metrics.get(node["parent_id"], {}).get("lexical_entropy")
        rows.append((node["id"], {**node_metrics[node["id"]], "entropy_gain_parent": entropy_gain(own, parent),
                                  "entropy_gain_seed": entropy_gain(own, seed)}))
    store.metrics.set_metrics_bulk("node", rows, note="lexical entropy (bits) of the instruction")
    gains = dict(rows)
    store.metrics.set_metrics_bulk(
        "sample",
        [
            (sample_id, {k: gains[node_id][k] for k in ("entropy_gain_parent", "entropy_gain_seed")})
            for sample_id, node_id in store.samples.sample_nodes().items()
            if node_id in gains
        ],
        note="from its evolution node",
    )
    return sum(1 for _, values in rows if values["entropy_gain_parent"] is not None)


class EmbedHandler:
    """Embed every seed and sample (cache first), store lexical metrics, then novelty, duplicates, the gate."""

    kind = "analyse.embed"
    cpu_bound = True  # its batches go to the job's executor

    def units(self, ctx: JobContext) -> list[str]:
        items = ctx.store.analyse.analysis_items()
        batches: dict[str, list[dict]] = {}
        for kind in ("seed", "sample"):
            of_kind = [item for item in items if item["item_type"] == kind]
            for start in range(0, len(of_kind), EMBED_BATCH):
                batch = of_kind[start : start + EMBED_BATCH]
                batches[f"{kind}:{batch[0]['item_id']}-{batch[-1]['item_id']}"] = batch
        ctx.extras["batches"] = batches
        params = current_params(ctx.store)
        if warm_up_helps(params, len(items)):  # a map usually follows: compile while embedding
            start_warm_up(params.metric)
        return list(batches)

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        batch = ctx.extras["batches"][unit_key]
        model = ctx.params.get("model") or model_name(ctx.store)
        with timed(ctx, "embed_s"):  # computed where the executor runs batches; this worker writes them
            how = await embed_missing(ctx.store, [item["instruction"] for item in batch], model, ctx.executor)
        if how:
            ctx.note(how)

        def lexical(store: Store) -> None:
            with timed(ctx, "lexical_s"):
                kind = batch[0]["item_type"]
                store.metrics.set_metrics_bulk(kind, [(item["item_id"], lexical_metrics(item["instruction"])) for item in batch])

        await in_thread(ctx, lexical)

    async def finish(self, ctx: JobContext) -> None:
        gate = threshold(ctx.store, ctx.params, GATE_KEY, DEFAULT_GATE)
        duplicate = threshold(ctx.store, ctx.params, DUPLICATE_KEY, DEFAULT_DUPLICATE)
        model = ctx.params.get("model")
        with timed(ctx, "finish_s"):
            summary = await in_thread(ctx, lambda store: compute_item_metrics(store, gate, duplicate, model))
        timings = {name: round(seconds, 2) for name, seconds in ctx.extras.get("timings", {}).items()}
        ctx.store.jobs.set_job_result(ctx.job_id, {**summary, "gate": gate, "duplicate_threshold": duplicate,
                                              "timings": timings})


# ---------------------------------------------------------------- project


class ProjectHandler:
    """Fit (or extend with transform) the UMAP map for the given parameters."""

    kind = "analyse.project"

    def units(self, ctx: JobContext) -> list[str]:
        return ["project"]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        params = MapParams.from_dict(ctx.params["map"]) if ctx.params.get("map") else current_params(ctx.store)
        refit = bool(ctx.params.get("refit"))
        model = ctx.params.get("model")
        result = await in_thread(ctx, lambda store: project(store, params, model, refit))
        ctx.store.jobs.set_job_result(ctx.job_id, asdict(result))


# ---------------------------------------------------------------- uncertainty


def uncertainty_model(store: Store, params: dict) -> tuple[str, Teacher, float]:
    """The model an uncertainty job samples (params["role"]: the student by default, or the teacher), with the
    temperature it samples at (params["temperature"], else the student's setting, else the reasoning default)."""
    role = params.get("role") or "student"
    metric_names(role)  # refuses an unknown role
    if role == "student":
        settings = student_settings(store, params.get("student"))
        return role, Teacher(settings.client_config()), float(params.get("temperature") or settings.temperature)
    config = teacher_config(store, params.get("teacher"))
    return role, Teacher(config), float(params.get("temperature") or DEFAULT_TEMPERATURE)


def submit_uncertainty(store: Store, params: dict) -> int:
    """Queue an uncertainty job (params: role, k, max_tokens, temperature, student or teacher overrides, seed_ids,
    concurrency, bypass_cache); the job row names the model it samples as its student or its teacher."""
    role, model, _ = uncertainty_model(store, params)
    if role == "student":
        return submit(store, "analyse.uncertainty", params, student=model.model)
    return submit(store, "analyse.uncertainty", params, model=model.model)


class UncertaintyHandler:
    """Per seed: k attempts of the student (or the teacher), their token entropy and semantic disagreement in bits
    (workbench/analyse/uncertainty.py); then a rank. Attempts are named samples (`attempt_index`), so after a probe
    with the same settings the student's answers come from the response cache."""

    kind = "analyse.uncertainty"

    def units(self, ctx: JobContext) -> list[str]:
        ids = ctx.params.get("seed_ids") or [s["id"] for s in ctx.store.seeds.list_seeds()]
        return [f"seed:{i}" for i in ids]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        seed_id = int(unit_key.split(":")[1])
        if ctx.store.seeds.get_seed(seed_id) is None:
            return  # deleted since the job was queued
        task = load_task(ctx.store, "seed", seed_id)
        if "model" not in ctx.extras:
            ctx.extras["role"], ctx.extras["model"], ctx.extras["temperature"] = uncertainty_model(ctx.store, ctx.params)
        role, model, temperature = ctx.extras["role"], ctx.extras["model"], ctx.extras["temperature"]
        k = int(ctx.params.get("k", 5))
        max_tokens = int(ctx.params.get("max_tokens") or model.config.max_tokens)
        ctx.check_stop()
        attempts = await asyncio.gather(*(
            sample_attempt(model, task, temperature=temperature, max_tokens=max_tokens,
                           sample_index=attempt_index("seed", seed_id, i))
            for i in range(k)
        ))
        for attempt in attempts:
            ctx.add_usage(attempt.generation.prompt_tokens, attempt.generation.completion_tokens, attempt.generation.cost)
        embedding_model = ctx.params.get("model") or model_name(ctx.store)
        result = await asyncio.to_thread(
            measure, task, [a.text for a in attempts], [a.final_answer for a in attempts],
            [a.token_entropy_bits for a in attempts], [a.generation.entropy_source for a in attempts],
            lambda texts: encode(texts, embedding_model), float(ctx.params.get("cluster_threshold", 0.85)),
        )
        save_uncertainty(ctx.store, role, seed_id, result, k, model.model)

    async def finish(self, ctx: JobContext) -> None:
        role = ctx.params.get("role") or "student"
        ranked = rank_uncertainty(ctx.store, role)
        ctx.store.jobs.set_job_result(ctx.job_id, {"role": role, "ranked_seeds": ranked,
                                              "top": ctx.store.analyse.top_uncertain_seed_ids(5, role)})


register(EmbedHandler())
register(ProjectHandler())
register(UncertaintyHandler())
