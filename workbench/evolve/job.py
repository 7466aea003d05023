"""The `evolve` job: grow an evolution tree per seed in the worker, writing every node at once.

Units are keyed per seed and top-level branch (`s<seed>/b<branch>`); each unit grows the subtree
under that branch, depth-first across levels, its children concurrently. Every node attempt has a
key (`s<seed>/p<path>/a<attempt>`, the path holding the child index at each depth), unique per job,
so a unit rerun after a kill -9 reuses the nodes already stored and calls the model only for the
missing ones. A node, its metrics, its sample and its token usage are written in one transaction.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from workbench.core.jobs.queue import submit
from workbench.core.jobs.runner import JobContext, register
from workbench.core.metrics import lexical_metrics, token_entropy_metrics
from workbench.core.response_cache import sample_scope
from workbench.core.settings import teacher_config
from workbench.core.teacher import Teacher, TeacherError
from workbench.core.wording import plural
from workbench.evolve.engine import (
    SCHEDULES,
    EliminationRules,
    Evolution,
    Operator,
    SimilarityFn,
    evolve,
    lexical_similarity,
    load_operators,
    schedule_operator,
)
from workbench.store import Store
from workbench.student.frontier import DEFAULT_MOST_UNCERTAIN, frontier_choice, has_probe

KIND = "evolve"


@dataclass
class EvolveParams:
    """What an evolve job does; stored as the job's params."""

    seeds: list[int]
    operators: list[str]
    depth: int = 3
    branching: int = 1
    schedule: str = "round-robin"
    max_tries: int = 3
    concurrency: int = 8
    teacher: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    bypass_cache: bool = False  # every call goes to the model, none is answered from the response cache
    seed_choice: dict = field(default_factory=dict)  # how the seeds were chosen (choose_seeds), recorded on the job

    @classmethod
    def from_dict(cls, values: dict) -> EvolveParams:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def validate(self) -> None:
        if not self.seeds:
            raise ValueError("No seeds chosen: pick at least one seed.")
        if not self.operators:
            raise ValueError("No operators chosen: pick at least one operator.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Unknown schedule {self.schedule!r}; use one of {', '.join(SCHEDULES)}.")
        for name, value, low, high in (
            ("depth", self.depth, 1, 10),
            ("branching", self.branching, 1, 8),
            ("max tries", self.max_tries, 1, 10),
            ("concurrency", self.concurrency, 1, 1024),
        ):
            if not low <= int(value) <= high:
                raise ValueError(f"The {name} must be between {low} and {high} (got {value}).")


def _count(choice: str, minimum: int, default: int | None = None) -> int:
    """N of 'most-uncertain:N' or 'frontier:N', at least `minimum` (`default` when the choice names none)."""
    name, _, count = choice.partition(":")
    if not count and default is not None:
        return default
    if not count.isdigit() or int(count) < minimum:
        raise ValueError(f"{name} takes a count of at least {minimum}, like {name}:10 (got {count!r}).")
    return int(count)


def choose_seeds(store: Store, choice: str | list[int]) -> dict:
    """The seeds of a choice and how they were chosen, as recorded on the job (`EvolveParams.seed_choice`):
    {"choice", "seeds": ids, ...}. Choices: 'all', 'known-failures', 'most-uncertain:N' (the N seeds the student is
    least sure about), 'frontier' or 'frontier:N' (the known failures plus the N most uncertain others, default 10;
    the record adds the student, the failures and the most uncertain), or a list of ids (every id must exist).
    Raises ValueError with what to do when a choice is empty."""
    if isinstance(choice, str) and choice.partition(":")[0] == "frontier":
        return frontier_choice(store, _count(choice, 0, DEFAULT_MOST_UNCERTAIN))
    if isinstance(choice, str) and choice.startswith("most-uncertain:"):
        ids = store.analyse.top_uncertain_seed_ids(_count(choice, 1))
        if not ids:
            raise ValueError("No seed has an uncertainty score yet. Probe the student (Seeds page, `workbench probe`) "
                             "or rank the seeds (Distributions page, `workbench analyse uncertainty`).")
        return {"choice": choice, "seeds": ids}
    if choice == "all":
        ids = [s["id"] for s in store.seeds.list_seeds()]
    elif choice == "known-failures":
        ids = [s["id"] for s in store.seeds.list_seeds(known_failure=True)]
        if not ids:
            raise ValueError("No seed is a known failure. Probe the student or tick some on the Seeds page, or "
                             "choose others.")
    else:
        wanted = [int(i) for i in choice]
        found = {s["id"] for s in store.seeds.list_seeds(ids=wanted)}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise ValueError(f"No seed with id {', '.join(map(str, missing))}.")
        ids = wanted
    if not ids:
        raise ValueError("The store has no seeds yet. Load or import seeds first.")
    return {"choice": choice if isinstance(choice, str) else "selected", "seeds": ids}


def default_seed_choice(store: Store) -> str:
    """'frontier' once a probe of the student exists and its frontier is not empty, else 'all'."""
    if not has_probe(store):
        return "all"
    try:
        frontier_choice(store)
    except ValueError:
        return "all"
    return "frontier"


def describe_choice(chosen: dict) -> str:
    """How the seeds were chosen, in words: 'the frontier of `m`: 3 known failures and 10 most uncertain'."""
    if chosen["choice"] != "frontier":
        return f"seeds: {chosen['choice']}"
    return (f"the frontier of the student `{chosen['student']}`: {plural(len(chosen['failures']), 'known failure')} and "
            f"the {plural(len(chosen['most_uncertain']), 'most uncertain seed')}")


def submit_evolve(store: Store, params: EvolveParams) -> int:
    """Validate and queue an evolve job; returns its id. Unknown operators are refused here, not mid-job."""
    params.validate()
    known = load_operators(store)
    unknown = [name for name in params.operators if name not in known]
    if unknown:
        raise ValueError(f"Unknown operator(s): {', '.join(unknown)}.")
    model = teacher_config(store, params.teacher).model
    student = params.seed_choice.get("student")  # the student whose frontier chose the seeds, if one did
    return submit(store, KIND, asdict(params), model=model, student=student)


def unit_key(seed_id: int, branch: int) -> str:
    return f"s{seed_id}/b{branch}"


def node_key(seed_id: int, path: tuple[int, ...], attempt: int) -> str:
    return f"s{seed_id}/p{'.'.join(map(str, path))}/a{attempt}"


def parse_node_key(key: str) -> tuple[int, tuple[int, ...], int]:
    seed, path, attempt = key.split("/")
    return int(seed[1:]), tuple(int(p) for p in path[1:].split(".")), int(attempt[1:])


@dataclass(frozen=True)
class Parent:
    """What a child needs of its parent: the text and input, its id, the chain of operators that made it, and its
    lexical metrics (computed once, when the parent was made)."""

    instruction: str
    node_id: int | None
    chain: tuple[str, ...] = ()
    input: str | None = None
    lexical: dict = field(default_factory=dict)


@dataclass
class RunState:
    """Per job run: the teacher, the operators and the settings, built once."""

    params: EvolveParams
    teacher: Teacher
    operators: dict[str, Operator]
    rules: EliminationRules
    seed_index: dict[int, int]
    seeds: dict[int, dict]
    stored: dict[tuple[int, int], dict[str, dict]]
    writer: Store
    write_thread: ThreadPoolExecutor
    similarity: SimilarityFn | None = None

    async def save_node(self, *args: object) -> int:
        """Write a node on the writer thread (its own connection), so commits never stall the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.write_thread, self.writer.evolve.save_evol_node, *args)


Metrics = list[tuple[dict[str, float | None], str | None]]  # values grouped by the note stored with them


def node_metrics(evolution: Evolution, parent: Parent, seed_lexical: dict) -> Metrics:
    """Every per-node number, grouped by the note stored with it; the first group is the node's lexical metrics."""
    child = lexical_metrics(evolution.instruction)
    gains = {
        "entropy_gain_parent": child["lexical_entropy"] - parent.lexical["lexical_entropy"],
        "entropy_gain_seed": child["lexical_entropy"] - seed_lexical["lexical_entropy"],
        "length_gain_parent": child["length_tokens"] - parent.lexical["length_tokens"],
        "novelty_parent": 1.0 - lexical_similarity(parent.instruction, evolution.instruction),
    }
    entropy = token_entropy_metrics(evolution.generation.token_entropies)
    return [(child, None), (gains, "lexical"), (entropy, evolution.generation.entropy_source)]


def sample_entropy_metrics(evolution: Evolution) -> Metrics:
    """A survivor's token entropy (bits) over both texts the teacher wrote for it: the instruction (query) and the
    answer, with the source of each, or why there is none."""
    asked, answered = evolution.generation, evolution.answer_generation
    generations = [g for g in (asked, answered) if g is not None]
    values = token_entropy_metrics([h for g in generations for h in g.token_entropies or []])
    values["query_entropy_mean"] = asked.mean_entropy
    values["answer_entropy_mean"] = answered.mean_entropy if answered else None
    return [(values, "; ".join(dict.fromkeys(g.entropy_source for g in generations)))]


def _close_writer(thread: ThreadPoolExecutor, writer: Store) -> None:
    thread.shutdown(wait=True)
    writer.close()


def embedding_similarity(store: Store) -> SimilarityFn | None:
    """Cosine similarity through the embedding cache once the store has embeddings, else None (lexical rule only)."""
    from workbench.core import embeddings

    model = embeddings.model_name(store)
    if store.embeddings.embedding_count(model) == 0:
        return None

    def similarity(parent: str, child: str) -> float:
        return float(embeddings.cached_similarity(store, [parent], [child], model)[0, 0])

    return similarity


class EvolveHandler:
    kind = KIND
    units_per_slot = 2  # the Teacher caps the calls; measured +3-7% req/s in benchmarks/orchestration.py

    def _state(self, ctx: JobContext) -> RunState:
        if "evolve" not in ctx.extras:
            params = EvolveParams.from_dict(ctx.params)
            stored: dict[tuple[int, int], dict[str, dict]] = {}
            for node in ctx.store.evolve.evol_nodes(ctx.job_id):  # what earlier runs of this job wrote, read once
                seed_id, path, _ = parse_node_key(node["node_key"])
                stored.setdefault((seed_id, path[0]), {})[node["node_key"]] = node
            config = teacher_config(ctx.store, params.teacher)
            ctx.extras["evolve"] = RunState(
                params=params,
                teacher=Teacher(config),
                operators=load_operators(ctx.store),
                rules=EliminationRules(**params.rules),
                seed_index={seed_id: i for i, seed_id in enumerate(params.seeds)},
                seeds={seed["id"]: seed for seed in ctx.store.seeds.list_seeds(ids=params.seeds)},
                stored=stored,
                writer=Store(ctx.store.path),
                write_thread=ThreadPoolExecutor(1, thread_name_prefix="evolve-writer"),
                similarity=embedding_similarity(ctx.store),
            )
            state = ctx.extras["evolve"]
            weakref.finalize(state, _close_writer, state.write_thread, state.writer)
        return ctx.extras["evolve"]

    def units(self, ctx: JobContext) -> list[str]:
        params = self._state(ctx).params
        return [unit_key(seed_id, branch) for seed_id in params.seeds for branch in range(params.branching)]

    async def run_unit(self, ctx: JobContext, key: str) -> None:
        state = self._state(ctx)
        seed_id, branch = (int(part[1:]) for part in key.split("/"))
        seed = state.seeds.get(seed_id)
        if seed is None:
            raise LookupError(f"seed {seed_id} was deleted")
        existing = state.stored.get((seed_id, branch), {})
        seed = {**seed, "lexical": lexical_metrics(seed["instruction"])}
        root = Parent(seed["instruction"], None, (), input=seed["input"], lexical=seed["lexical"])
        await self._grow(ctx, state, seed, root, (branch,), existing)

    async def _grow(
        self, ctx: JobContext, state: RunState, seed: dict, parent: Parent, path: tuple[int, ...], existing: dict
    ) -> None:
        """Fill one tree position (retrying with other operators), then grow the survivor's children."""
        survivor = None
        for attempt in range(state.params.max_tries):
            row = existing.get(node_key(seed["id"], path, attempt))
            if row is None or row["status"] == "failed":
                row = await self._attempt(ctx, state, seed, parent, path, attempt)
            if row["status"] == "survived":
                survivor = row
                break
        if survivor is None or len(path) >= state.params.depth:
            return
        lexical = survivor.get("lexical") or lexical_metrics(survivor["instruction"])  # stored nodes: computed anew
        child_parent = Parent(survivor["instruction"], survivor["id"], (*parent.chain, survivor["operator"]),
                              input=survivor["input"], lexical=lexical)
        await asyncio.gather(
            *(
                self._grow(ctx, state, seed, child_parent, (*path, child), existing)
                for child in range(state.params.branching)
            )
        )

    async def _attempt(
        self, ctx: JobContext, state: RunState, seed: dict, parent: Parent, path: tuple[int, ...], attempt: int
    ) -> dict:
        ctx.check_stop()
        key = node_key(seed["id"], path, attempt)
        operator = schedule_operator(
            state.params.schedule,
            state.params.operators,
            seed_index=state.seed_index[seed["id"]],
            path=path,
            attempt=attempt,
            rng_key=f"{ctx.job_id}:{key.rsplit('/', 1)[0]}",
        )
        node = {
            "job_id": ctx.job_id,
            "node_key": key,
            "seed_id": seed["id"],
            "parent_id": parent.node_id,
            "depth": len(path),
            "operator": operator,
            "attempt": attempt,
            "model": state.teacher.model,
        }
        if operator not in state.operators:
            raise LookupError(f"operator {operator!r} was deleted")
        try:
            with sample_scope(f"evolve:{key}"):  # the node's calls are this sample: a rerun reuses, a new node never
                evolution = await evolve(
                    state.teacher, state.operators[operator], parent.instruction, state.rules, state.similarity,
                    parent.input,
                )
        except TeacherError as exc:
            await state.save_node({**node, "status": "failed", "elimination_reason": str(exc)})
            raise
        survived = evolution.survived
        node.update(
            prompt=evolution.prompt,
            raw_response=evolution.raw_response,
            instruction=evolution.instruction,
            input=evolution.input,
            input_origin=evolution.input_origin,
            answer=evolution.answer,
            status="survived" if survived else "eliminated",
            elimination_reason=evolution.elimination_reason,
            params={**evolution.params, "schedule": state.params.schedule},
        )
        sample = None
        if survived:
            sample = {
                "source": "evol",
                "unit_key": f"evol:{ctx.job_id}:{key}",
                "job_id": ctx.job_id,
                "seed_id": seed["id"],
                "instruction": evolution.instruction,
                "input": evolution.input,
                "output": evolution.answer,
                "model": state.teacher.model,
                "params": evolution.params,
                "metadata": {"operator": operator, "depth": len(path), "chain": [*parent.chain, operator],
                             **({"input_origin": evolution.input_origin} if evolution.input_origin else {})},
            }
        generations = evolution.generations
        costs = [g.cost for g in generations if g.cost is not None]
        usage = (
            sum(g.prompt_tokens for g in generations),
            sum(g.completion_tokens for g in generations),
            sum(costs) if costs else None,
        )
        metrics = node_metrics(evolution, parent, seed["lexical"])
        sample_metrics = sample_entropy_metrics(evolution) if sample else []
        node["id"] = await state.save_node(node, metrics, sample, usage, sample_metrics)
        return {**node, "lexical": metrics[0][0]}

    async def finish(self, ctx: JobContext) -> None:
        state = ctx.extras.get("evolve")
        if state is not None:
            state.write_thread.shutdown(wait=True)
        nodes = ctx.store.evolve.evol_nodes(ctx.job_id)
        counts = {status: sum(n["status"] == status for n in nodes) for status in ("survived", "eliminated", "failed")}
        ctx.store.jobs.set_job_result(ctx.job_id, {"nodes": len(nodes), **counts})


register(EvolveHandler())
