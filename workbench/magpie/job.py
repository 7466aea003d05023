"""The `magpie` job: N self-synthesised samples, one unit per sample index.

Per turn, step 1 sends the pre-query template alone as a raw completion (the model writes a
user query) and step 2 sends the query in the full template (the model answers). A sample is
written with its filter reason, lineage and metrics in one transaction at the end of its unit,
keyed `magpie:<job>:<index>`, so a resumed job skips it and never stores it twice.
"""

from __future__ import annotations

import zlib

from workbench.core.jobs.runner import JobContext, register
from workbench.core.metrics import lexical_metrics, token_entropy_metrics
from workbench.core.settings import teacher_config
from workbench.core.teacher import Generation, Teacher, TeacherConfig, TeacherError
from workbench.magpie.engine import (
    PRIMER_POOL,
    ChatTemplate,
    DuplicateIndex,
    FilterSettings,
    Turn,
    chat_only_error,
    duplicate_index,
    filter_turn,
    primer_turns,
    stopped_at_token_limit,
    trim_generation,
)
from workbench.store import Store

KIND = "magpie"
BASE_MODEL_ENTROPY_CUT = 8.7  # bits (6 nats); the bundled Gemma's flat post-turn distributions sit at 10+ bits
BASE_MODEL_PRIMER = 3


def default_options(config: TeacherConfig) -> dict:
    """Job options suited to the teacher: Magpie's defaults, tuned for base models where it is one."""
    base = config.uses_completion_prompts
    return {
        "n": 10,
        "turns": 1,
        "system": "",
        "query_temperature": 1.0,
        "query_top_p": 1.0,
        "answer_temperature": 0.2,
        "answer_top_p": 1.0,
        "max_query_tokens": 40 if base else 256,
        "max_answer_tokens": 96 if base else 1024,
        "single_line": base,
        "add_bos": False,
        "primer_examples": BASE_MODEL_PRIMER if base else 0,
        "entropy_cut": BASE_MODEL_ENTROPY_CUT if base else None,
        "concurrency": 1 if config.provider == "local" else config.concurrency,
        "filters": FilterSettings().__dict__.copy(),
    }


def build_params(config: TeacherConfig, template: ChatTemplate, options: dict) -> dict:
    """Job params: the options over the defaults, the teacher and the full template (so a job replays alike)."""
    params = {**default_options(config), **{k: v for k, v in options.items() if v is not None}}
    params["n"] = int(params["n"])
    params["turns"] = max(1, int(params["turns"]))
    params["teacher"] = config.to_dict()
    params["template"] = template.to_dict()
    return params


def submit_magpie(store: Store, config: TeacherConfig, template: ChatTemplate, options: dict) -> int:
    """Queue a magpie job; a chat-only teacher raises TeacherError before anything is queued."""
    from workbench.core.jobs.queue import submit

    if message := chat_only_error(config):
        raise TeacherError(message)
    return submit(store, KIND, build_params(config, template, options), model=config.model)


def _seed(*parts: object) -> int:
    """A stable sampling seed per (job, sample, turn, step): a resumed unit draws the same way."""
    return zlib.crc32(":".join(map(str, parts)).encode())


class MagpieHandler:
    kind = KIND

    def units(self, ctx: JobContext) -> list[str]:
        if message := chat_only_error(self._teacher(ctx).config):
            raise TeacherError(message)
        return [f"sample-{index:05d}" for index in range(int(ctx.params["n"]))]

    def _teacher(self, ctx: JobContext) -> Teacher:
        if "teacher" not in ctx.extras:
            ctx.extras["teacher"] = Teacher(teacher_config(ctx.store, ctx.params.get("teacher")))
        return ctx.extras["teacher"]

    def _duplicates(self, ctx: JobContext) -> DuplicateIndex:
        """Seeds, kept samples and (when a primer is used) its examples; built once per run of the job."""
        if "duplicates" not in ctx.extras:
            filters = FilterSettings.from_dict(ctx.params.get("filters"))
            primer = PRIMER_POOL if ctx.params.get("primer_examples") else ()
            ctx.extras["duplicates"] = duplicate_index(ctx.store, filters.near_duplicate_similarity, primer)
        return ctx.extras["duplicates"]

    @staticmethod
    async def _generate(
        ctx: JobContext, teacher: Teacher, role: str, prompt: str, stops: list[str], position: tuple[int, int]
    ) -> tuple[Generation, str, list[float] | None]:
        """One raw completion for a query or an answer, with its usage counted and its text trimmed."""
        params = ctx.params
        ctx.check_stop()
        generation = await teacher.acomplete(
            prompt,
            temperature=float(params[f"{role}_temperature"]),
            top_p=float(params[f"{role}_top_p"]),
            max_tokens=int(params[f"max_{role}_tokens"]),
            stop=stops,
            logprobs=True,
            seed=_seed(ctx.job_id, *position, role),
        )
        ctx.add_usage(generation.prompt_tokens, generation.completion_tokens, generation.cost)
        text, entropies = trim_generation(generation, stops, params.get("entropy_cut"))
        return generation, text, entropies

    async def _turn(
        self, ctx: JobContext, template: ChatTemplate, history: list[Turn], index: int, turn: int
    ) -> tuple[str, str, list[Generation], list[float] | None, list[float] | None]:
        params = ctx.params
        teacher = self._teacher(ctx)
        system = params.get("system") or None
        add_bos = bool(params.get("add_bos"))
        query_stops = [*template.stop, template.user_end.strip(), template.assistant_start.strip()]
        if params.get("single_line"):
            query_stops.append("\n")
        query_stops = [s for s in dict.fromkeys(query_stops) if s]
        asked, query, query_entropies = await self._generate(
            ctx, teacher, "query", template.pre_query(system, history, add_bos), query_stops, (index, turn)
        )
        if not query:
            return query, "", [asked], query_entropies, None
        answer_stops = [s for s in dict.fromkeys([*template.stop, template.user_start.strip()]) if s]
        answered, answer, answer_entropies = await self._generate(
            ctx, teacher, "answer", template.answer_prompt(query, system, history, add_bos), answer_stops, (index, turn)
        )
        return query, answer, [asked, answered], query_entropies, answer_entropies

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        index = int(unit_key.rsplit("-", 1)[1])
        sample_key = f"{KIND}:{ctx.job_id}:{index}"
        if ctx.store.samples.sample_id_for_unit(sample_key) is not None:
            return
        params = ctx.params
        template = ChatTemplate.from_dict(params["template"])
        filters = FilterSettings.from_dict(params.get("filters"))
        primer = primer_turns(f"{ctx.job_id}:{index}", int(params.get("primer_examples") or 0))
        turns: list[Turn] = []
        query_entropies: list[float] = []
        answer_entropies: list[float] = []
        sources: set[str] = set()
        reason: str | None = None
        for turn in range(int(params.get("turns") or 1)):
            query, answer, generations, q_ent, a_ent = await self._turn(ctx, template, [*primer, *turns], index, turn)
            sources.update(g.entropy_source for g in generations)
            query_entropies += q_ent or []
            answer_entropies += a_ent or []
            turns.append((query, answer))
            hit_limit = [role for role, generation, text in zip(("query", "answer"), generations, (query, answer), strict=False)
                         if stopped_at_token_limit(generation, text)]
            if reason := filter_turn(query, answer, template, filters, hit_limit):
                reason = reason if turn == 0 else f"turn {turn + 1}: {reason}"
                break
        # checked here, with no await before the insert, so that concurrent units cannot both pass
        reason = reason or self._duplicates(ctx).match(turns[0][0])
        self._write(ctx, sample_key, template, primer, turns, reason, query_entropies, answer_entropies, sources)

    def _write(
        self,
        ctx: JobContext,
        sample_key: str,
        template: ChatTemplate,
        primer: list[Turn],
        turns: list[Turn],
        reason: str | None,
        query_entropies: list[float],
        answer_entropies: list[float],
        sources: set[str],
    ) -> None:
        """Store the sample and its metrics together; a kept one joins the duplicate index at once."""
        params = ctx.params
        system = params.get("system") or ""
        messages = [{"role": "system", "content": system}] if system else []
        for query, answer in turns:
            messages += [{"role": "user", "content": query}, {"role": "assistant", "content": answer}]
        recorded = {k: v for k, v in params.items() if k not in ("teacher", "template", "n", "concurrency", "bypass_cache")}
        sample = {
            "source": KIND,
            "unit_key": sample_key,
            "job_id": ctx.job_id,
            "instruction": turns[0][0],
            "output": turns[0][1],
            "turns": messages,
            "filter_reason": reason,
            "model": self._teacher(ctx).model,
            "params": {**recorded, "template": template.name},
            "metadata": {
                "template": template.name,
                "pre_query": template.pre_query(system or None, (), bool(params.get("add_bos"))),
                "primer": [query for query, _ in primer],
                "turn_count": len(turns),
            },
        }
        entropy = token_entropy_metrics([*query_entropies, *answer_entropies])
        entropy["query_entropy_mean"] = token_entropy_metrics(query_entropies)["token_entropy_mean"]
        entropy["answer_entropy_mean"] = token_entropy_metrics(answer_entropies)["token_entropy_mean"]
        source_note = ", ".join(sorted(sources)) or "not available"
        with ctx.store.transaction():
            sample_id = ctx.store.samples.insert_sample(sample)
            ctx.store.metrics.set_metrics("sample", sample_id, entropy, note=source_note)
            ctx.store.metrics.set_metrics("sample", sample_id, lexical_metrics(turns[0][0]))
        if reason is None:
            self._duplicates(ctx).add(turns[0][0], f"sample {sample_id}")


register(MagpieHandler())
