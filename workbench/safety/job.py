"""The decontamination scan as a job (`decontam_scan`): every seed and sample against every registered benchmark.

Units, run in order (concurrency 1): first `embed:<kind>:<first>-<last>` batches of the texts with no cached
vector (seeds' and samples' task texts, benchmark items), then one `scan:<benchmark id>` per benchmark, which
replaces that benchmark's hits in the store. Vectors come from the store's embedding cache (workbench.core.embeddings,
keyed by text hash), so a text is embedded once, ever. With `similarity` off, no vector is read or computed and
only word n-grams are compared.

The text checked for n-grams is the whole seed or sample: instruction, input, answer (a seed's reference answer
and solution), or every turn of a conversation. Similarity compares the task texts (instruction and input),
as the embedding cache holds them, with the benchmark items.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from workbench.analyse.job import in_thread
from workbench.core.embeddings import embed_missing, model_name
from workbench.core.executor import Executor, LocalExecutor, chunks
from workbench.core.jobs.queue import submit
from workbench.core.jobs.runner import JobContext, register
from workbench.export.contamination import LAST_SCAN_KEY
from workbench.safety.decontamination import Hit, NgramIndex, Settings, scan
from workbench.safety.pii import SCAN_CHUNK, scan_ids
from workbench.store import Store, now

KIND = "decontam_scan"
SETTINGS_KEY = "decontamination"
EMBED_BATCH = 512


def load_settings(store: Store) -> Settings:
    """The saved n-gram size and thresholds (the defaults of workbench.safety.decontamination when none are saved)."""
    return Settings(**(store.settings.get_setting(SETTINGS_KEY) or {}))


def save_settings(store: Store, settings: Settings) -> None:
    store.settings.set_setting(SETTINGS_KEY, asdict(settings))


def scanned_text(row: dict) -> str:
    """All the text of a seed or sample (a row of store.safety.decontam_corpus), one part per line."""
    turns = json.loads(row["turns"]) if row["turns"] else None
    parts = [turn.get("content") or "" for turn in turns] if turns else [row["instruction"], row["output"]]
    parts += [row["input"], row["extra"]]
    return "\n".join(part for part in parts if part)


def cached_vectors(store: Store, hashes: list[str], model: str) -> tuple[np.ndarray, np.ndarray]:
    """(len(hashes), dim) vectors from the embedding cache, zero where a text has none, and the mask of the present."""
    found = store.embeddings.get_embeddings(model, hashes)
    present = np.array([h in found for h in hashes], dtype=bool)
    if not found:
        return np.zeros((len(hashes), 1), dtype=np.float32), present
    dim = len(next(iter(found.values()))) // 4
    matrix = np.zeros((len(hashes), dim), dtype=np.float32)
    if present.any():
        blobs = b"".join(found[h] for h, here in zip(hashes, present, strict=True) if here)
        matrix[present] = np.frombuffer(blobs, dtype=np.float32).reshape(-1, dim)
    return matrix, present


class Corpus:
    """Every seed and sample as the scan sees them: types, ids, full texts, embedding keys."""

    def __init__(self, store: Store) -> None:
        columns = store.safety.decontam_corpus()
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        self.types: list[str] = columns["item_type"]
        self.ids: list[int] = columns["item_id"]
        self.hashes: list[str] = columns["text_hash"]
        self.texts = [scanned_text(row) for row in rows]


def scan_chunk(texts: list[str], index: NgramIndex, settings: Settings, text_vectors: np.ndarray | None,
               item_vectors: np.ndarray | None, offset: int) -> list[Hit]:
    """A batch function for an executor (workbench.core.executor): `scan` of a slice of the corpus that starts at
    `offset`, its hits numbered in the whole corpus."""
    return [replace(hit, text_index=hit.text_index + offset)
            for hit in scan(texts, index, settings, text_vectors, item_vectors)]


def scan_benchmark(store: Store, corpus: Corpus, benchmark_id: int, settings: Settings, similarity: bool,
                   model: str | None = None, executor: Executor | None = None) -> dict[str, int]:
    """Scan the corpus against one benchmark and store its hits (replacing the old ones); the corpus is cut into
    slices the executor scans at once (one slice on this machine). Returns {"flagged": hits stored,
    "without_vector": texts whose similarity could not be checked}."""
    items = store.safety.benchmark_items(benchmark_id)
    index = NgramIndex(items["text"], settings.ngram)
    text_vectors = item_vectors = None
    present = np.ones(len(corpus.texts), dtype=bool)
    if similarity:
        model = model or model_name(store)
        text_vectors, present = cached_vectors(store, corpus.hashes, model)
        item_vectors, items_present = cached_vectors(store, items["text_hash"], model)
        if not (present.any() and items_present.any()):  # nothing to compare (embedding units failed): n-grams only
            text_vectors = item_vectors = None
            present = np.zeros(len(corpus.texts), dtype=bool)
    executor = executor or LocalExecutor()
    slices = [slice(part[0], part[-1] + 1) for part in chunks(list(range(len(corpus.texts))), executor.slots)]
    batches = [(corpus.texts[part], index, settings, None if text_vectors is None else text_vectors[part],
                item_vectors, part.start) for part in slices]
    hits = [hit for found in executor.map(scan_chunk, batches) for hit in found]
    rows = [
        (corpus.types[h.text_index], corpus.ids[h.text_index], items["id"][h.item_index], h.ngram_overlap,
         h.similarity if present[h.text_index] else None)
        for h in hits
    ]
    return {"flagged": store.safety.replace_contamination(benchmark_id, rows), "without_vector": int((~present).sum())}


def contamination_report(store: Store) -> dict[str, Any]:
    """What `workbench decontam scan --json` prints: {"flagged": seeds and samples with any hit, "by_benchmark":
    {name: hits}, "items": [{"type", "id", "benchmark", "match", "ngram_overlap", "similarity"}]} (similarity is
    None where it was not computed)."""
    hits = store.safety.contamination_hits()
    return {
        "flagged": len({(h["item_type"], h["item_id"]) for h in hits}),
        "by_benchmark": {b["name"]: b["flagged"] for b in store.safety.list_benchmarks()},
        "items": [
            {"type": h["item_type"], "id": h["item_id"], "benchmark": h["benchmark"], "match": h["match"],
             "ngram_overlap": round(h["ngram_overlap"], 4),
             "similarity": None if h["similarity"] is None else round(h["similarity"], 4)}
            for h in hits
        ],
    }


def submit_decontam_scan(store: Store, settings: Settings | None = None, similarity: bool = True, model: str | None = None) -> int:
    """Queue a scan with these settings (default: the saved ones). Raises ValueError when no benchmark is registered."""
    if not store.safety.list_benchmarks():
        raise ValueError("no benchmark is registered; add one first (Decontamination page, or `workbench decontam add`)")
    settings = settings or load_settings(store)
    params = {"settings": asdict(settings), "similarity": similarity, "model": model, "concurrency": 1}
    return submit(store, KIND, params)


class DecontamScanHandler:
    """`decontam_scan` job: embed what is not cached, then scan benchmark by benchmark; the result is the counts
    per benchmark and how many texts had no vector (their similarity was not checked)."""

    kind = KIND

    def _model(self, ctx: JobContext) -> str:
        return ctx.params.get("model") or model_name(ctx.store)

    def units(self, ctx: JobContext) -> list[str]:
        batches: dict[str, list[str]] = {}
        if ctx.params.get("similarity", True):
            missing = ctx.store.safety.decontam_unembedded(self._model(ctx))
            for kind in ("seed", "sample", "benchmark_item"):
                of_kind = [row for row in missing if row["kind"] == kind]
                for start in range(0, len(of_kind), EMBED_BATCH):
                    batch = of_kind[start : start + EMBED_BATCH]
                    batches[f"embed:{kind}:{batch[0]['id']}-{batch[-1]['id']}"] = [row["text"] for row in batch]
        ctx.extras["batches"] = batches
        return [*batches, *(f"scan:{b['id']}" for b in ctx.store.safety.list_benchmarks())]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        ctx.check_stop()
        kind, _, key = unit_key.partition(":")
        if kind == "embed":
            how = await embed_missing(ctx.store, ctx.extras["batches"][unit_key], self._model(ctx), ctx.executor)
            if how:
                ctx.note(how)
            return
        settings = Settings(**ctx.params["settings"])
        similarity = bool(ctx.params.get("similarity", True))

        def work(store: Store) -> dict[str, int]:
            corpus = ctx.extras.get("corpus") or ctx.extras.setdefault("corpus", Corpus(store))
            return scan_benchmark(store, corpus, int(key), settings, similarity, self._model(ctx), ctx.executor)

        counts = await in_thread(ctx, work)
        ctx.extras.setdefault("scanned", {})[key] = counts

    async def finish(self, ctx: JobContext) -> None:
        benchmarks = ctx.store.safety.list_benchmarks()
        scanned = ctx.extras.get("scanned", {})
        summary = {
            "at": now(), "settings": ctx.params["settings"], "similarity": bool(ctx.params.get("similarity", True)),
            "benchmarks": [b["name"] for b in benchmarks],
            "without_vector": max((c["without_vector"] for c in scanned.values()), default=0),
        }
        ctx.store.settings.set_setting(LAST_SCAN_KEY, summary)
        report = contamination_report(ctx.store)
        ctx.store.jobs.set_job_result(ctx.job_id, {**summary, "flagged": report["flagged"], "by_benchmark": report["by_benchmark"]})


def last_scan(store: Store) -> dict | None:
    """When the last scan finished, with which settings and benchmarks (None before the first)."""
    return store.settings.get_setting(LAST_SCAN_KEY)


register(DecontamScanHandler())


def scan_units(ids: list[int], prefix: str = "") -> list[str]:
    """Unit keys `<prefix><first id>-<last id>` covering ids in chunks of SCAN_CHUNK."""
    return [f"{prefix}{chunk[0]}-{chunk[-1]}" for chunk in (ids[i : i + SCAN_CHUNK] for i in range(0, len(ids), SCAN_CHUNK))]


def unit_range(unit_key: str) -> tuple[int, int]:
    first, last = unit_key.rsplit(":", 1)[-1].split("-")
    return int(first), int(last)


class PiiScanHandler:
    """`pii_scan` job: params {"scope": "unscanned" | "all", "ids": optional list}. Units are id ranges."""

    kind = "pii_scan"
    cpu_bound = True  # its batches go to the job's executor

    def _candidates(self, ctx: JobContext, first: int | None = None, last: int | None = None) -> list[int]:
        only_unscanned = ctx.params.get("scope", "unscanned") == "unscanned" and first is not None
        ids = ctx.store.samples.pii_scan_candidates(only_unscanned=only_unscanned, first_id=first, last_id=last)
        wanted = ctx.params.get("ids")
        return ids if wanted is None else sorted(set(ids) & set(wanted))

    def units(self, ctx: JobContext) -> list[str]:
        return scan_units(self._candidates(ctx))

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        ids = self._candidates(ctx, *unit_range(unit_key))
        ctx.check_stop()
        await scan_ids(ctx.store, ids, ctx.executor)


def submit_pii_scan(store: Store, scope: str = "unscanned", ids: list[int] | None = None) -> int:
    """Queue a PII scan job (one unit at a time: the analyzer is one model instance)."""
    from workbench.core.jobs.queue import submit

    params: dict = {"scope": scope, "concurrency": 1}
    if ids is not None:
        params["ids"] = list(ids)
    return submit(store, "pii_scan", params)


register(PiiScanHandler())
