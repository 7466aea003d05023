"""The records an export writes, built from the store a batch of samples at a time.

Per sample: its conversation with the answer it ships (workbench.export.verified_answer: the verified path, or its
own answer marked unverified), its best path's steps with their ratings (the stepwise layouts), its lineage and
metrics; for a preference layout, one record per pair instead (workbench.export.preference_pairs: the pairs the
gate makes from its paths, then the pairs imported with it). With redaction on, every text that goes out (turns,
every path's steps, people's corrected steps, imported rejected replies) has its PII findings replaced first.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from workbench.core.conversation import sample_turns, split_system
from workbench.export.options import ExportOptions
from workbench.export.preference_pairs import (
    GatePair,
    PairingSettings,
    TaskEvidence,
    gate_pairs,
    load_pairing,
)
from workbench.export.verified_answer import (
    ShippedAnswer,
    checked_by,
    path_turn,
    shipped_answer,
    task_verdict,
)
from workbench.formats.preference_formats import unpaired
from workbench.formats.reasoning_traces import styled
from workbench.formats.sample_formats import FORMATS as LAYOUTS
from workbench.formats.sample_record import PreferencePair, SampleRecord
from workbench.review.mix import NaturalData
from workbench.safety.pii import findings_by_field, redact
from workbench.store import Store
from workbench.verify.ratings import step_rating
from workbench.verify.reasoning import VerificationSettings, path_name, verification_settings

BASE_COLUMNS = ["id", "source", "instruction", "input", "output", "turns", "tags", "status", "metadata"]
LINEAGE_SOURCE_COLUMNS = ["seed_id", "node_id", "model", "params", "job_id"]


@dataclass
class Item:
    """One row to write: a record, the sample it came from (None for a natural row), whether it was redacted, and
    what the sample ships (None for stepwise, preference and natural rows)."""

    record: SampleRecord
    sample_id: int | None
    redacted: bool = False
    shipped: ShippedAnswer | None = None


@dataclass
class PairCounts:
    """What the gate's pairing made and did not make in one export."""

    made: Counter = field(default_factory=Counter)  # kind -> preference rows built
    not_made: Counter = field(default_factory=Counter)  # reason -> pairs or wrong steps left without a pair
    samples_without: int = 0  # samples that gave no preference row


# ---------------------------------------------------------------- PII redaction


def _redact_turns(turns: list[dict], found: dict[str, list[dict]], prefix: str) -> list[dict]:
    return [{**t, "content": redact(t["content"], found[f"{prefix}{i}"])} if f"{prefix}{i}" in found else t
            for i, t in enumerate(turns)]


def _redacted(sample: dict, paths: list[dict], pairs: list[dict], completions: dict[int, list[dict]]) -> bool:
    """Replace every PII finding of the sample in place: its fields and turns, every path's steps, its people's
    corrected steps and its imported pairs' rejected replies. True when anything changed."""
    found = findings_by_field(sample.get("pii"))
    if not found:
        return False
    for name in ("instruction", "input", "output"):
        if name in found and sample.get(name):
            sample[name] = redact(sample[name], found[name])
    if isinstance(sample.get("turns"), list):
        sample["turns"] = _redact_turns(sample["turns"], found, "turn:")
    for path in paths:
        for step in path["steps"]:
            if f"step:{step['id']}" in found:
                step["text"] = redact(step["text"], found[f"step:{step['id']}"])
    for rows in completions.values():
        for row in rows:
            if f"completion:{row['id']}" in found:
                row["text"] = redact(row["text"], found[f"completion:{row['id']}"])
    for pair in pairs:
        if pair["rejected"]:
            pair["rejected"] = _redact_turns(pair["rejected"], found, f"pair:{pair['id']}:")
    return True


# ---------------------------------------------------------------- records


def _rated(step: dict) -> dict:
    """A step as step_rating reads it: its latest verifier verdict (score, label) and its latest overrule."""
    latest = max(step["scores"].values(), key=lambda v: (v["created_at"], v["verifier"]), default=None)
    return {"score": latest["score"] if latest else None, "label": latest["label"] if latest else None,
            "overrule": step["overrule"]}


def sample_record(sample: dict, path: dict | None, threshold: float) -> SampleRecord:
    """A stored sample (and its best path's rated steps) as a record: its conversation, input, functions and
    provenance (an imported sample's own source, from metadata["origin"], so a re-export writes what was read)."""
    steps = path["steps"] if path else []
    source = (sample["metadata"].get("origin") or "import") if sample["source"] == "import" else sample["source"]
    return SampleRecord(turns=sample_turns(sample), input=sample.get("input"), steps=[s["text"] for s in steps],
                        ratings=[step_rating(_rated(s), threshold) for s in steps], source=source,
                        tags=list(sample["tags"]), tools=sample_tools(sample))


def sample_tools(sample: dict) -> list | None:
    """The functions a sample's conversation may call (kept as JSON text in its metadata, in their own key order)."""
    tools = sample["metadata"].get("tools")
    return json.loads(tools) if isinstance(tools, str) else tools


def _lineage(sample: dict, chain: list[dict], decision: dict | None) -> dict:
    """Where a sample came from; what checked its text is added by the caller."""
    return {
        "sample_id": sample["id"], "source": sample["source"], "seed_id": sample["seed_id"], "node_id": sample["node_id"],
        "operators": [c["operator"] for c in chain], "depth": chain[-1]["depth"] if chain else None,
        "decision": sample["status"], "reviewer": decision["reviewer"] if decision else None,
        "decision_automatic": decision["automatic"] if decision else None,
        "teacher_model": sample["model"], "teacher_params": sample["params"], "job_id": sample["job_id"],
        "origin": sample["metadata"].get("origin"),
    }


def _checked(path: dict | None, verified: bool, answer: str, reason: str) -> dict:
    """The lineage's account of the exported text: the path and verifiers only when that path's text ships."""
    return {"path_id": path["id"] if path else None, "path": path_name(path) if path else None,
            "verifiers": checked_by(path) if path else [], "answer": answer,
            "verified": verified, "unverified_reason": None if verified else reason}


def _first_question(turns: list[dict]) -> list[dict]:
    """The system prompt (if any) and the first user turn: what a task's paths answer."""
    system, rest = split_system(turns)
    first = next(t for t in rest if t["role"] == "user")
    return ([{"role": "system", "content": system}] if system is not None else []) + [{k: v for k, v in first.items()}]


def _pair_turn(text: str, path: dict | None, options: ExportOptions) -> dict:
    return path_turn(path, options.trace, options.trace_tags) if path else {"role": "assistant", "content": text}


def _gate_pair_record(base: SampleRecord, pair: GatePair, lineage: dict | None, options: ExportOptions) -> SampleRecord:
    prompt = _first_question(base.turns)
    record = SampleRecord(turns=prompt + [_pair_turn(pair.chosen, pair.chosen_path, options)], input=base.input,
                          tools=base.tools, source=base.source, tags=list(base.tags),
                          pair=PreferencePair([_pair_turn(pair.rejected, pair.rejected_path, options)], True, pair.kind,
                                              list(pair.prefix)))
    record.lineage = {**lineage, "pair": pair.lineage} if lineage is not None else None
    return record


def _stored_pair_record(base: SampleRecord, row: dict, options: ExportOptions) -> SampleRecord:
    rejected = [styled(t, options.trace, options.trace_tags) for t in row["rejected"]] if row["rejected"] else None
    record = SampleRecord(**{**base.__dict__, "pair": PreferencePair(rejected, row["chosen"], row["kind"],
                                                                     list(row["metadata"].get("prefix") or []))})
    record.turns = [styled(t, options.trace, options.trace_tags) for t in base.turns]
    record.lineage = row["lineage"] if options.lineage else None
    return record


def _unique(records: list[SampleRecord]) -> list[SampleRecord]:
    """Records without repeats (a chosen path shared by several pairs is one KTO row)."""
    seen, kept = set(), []
    for record in records:
        key = json.dumps([record.turns, record.pair.rejected, record.pair.chosen, record.pair.prefix], sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept


@dataclass
class Batch:
    """What one batch of samples needs from the store."""

    samples: dict[int, dict]
    paths: dict[int, list[dict]]
    chains: dict[int, list[dict]]
    decisions: dict[int, dict]
    metrics: dict[int, dict]
    references: dict[int, str]
    completions: dict[int, list[dict]]
    pairs: dict[int, list[dict]]
    rollouts: dict[int, list[dict]]


def _load(store: Store, ids: list[int], options: ExportOptions) -> Batch:
    layout = LAYOUTS["workbench" if options.fmt == "parquet" else options.fmt]
    columns = BASE_COLUMNS + (["pii"] if options.pii == "redact" else []) + (LINEAGE_SOURCE_COLUMNS if options.lineage else [])
    samples = {s["id"]: s for s in store.samples.sample_columns(ids, columns)}
    nested = store.verify.reasoning_paths_nested("sample", task_ids=ids)
    paths = {task_id: found for (_, task_id), found in nested.items()}
    path_ids = [p["id"] for found in paths.values() for p in found]
    wants_completions = options.fmt == "prm800k" or layout.preference or options.pii == "redact"
    step_ids = [s["id"] for found in paths.values() for p in found for s in p["steps"]] if layout.preference else []
    return Batch(
        samples, paths,
        store.evolve.evol_chains({s["node_id"] for s in samples.values() if s["node_id"]}) if options.lineage else {},
        store.review.latest_decisions(ids) if options.lineage else {},
        store.metrics.metrics_many("sample", ids) if options.metrics else {},
        store.verify.reference_answers(ids) if options.fmt == "prm800k" or layout.preference else {},
        store.verify.human_completions(path_ids) if wants_completions else {},
        store.export.preference_pairs(ids) if layout.preference else {},
        store.verify.step_rollouts(step_ids) if step_ids else {},
    )


def _sample_items(sample_id: int, batch: Batch, options: ExportOptions, settings: VerificationSettings,
                  pairing: PairingSettings, counts: PairCounts) -> list[Item]:
    sample, paths = batch.samples[sample_id], batch.paths.get(sample_id, [])
    pairs = batch.pairs.get(sample_id, [])
    completions = {p["id"]: batch.completions.get(p["id"], []) for p in paths}
    redacted = options.pii == "redact" and _redacted(sample, paths, pairs, completions)
    verdict = task_verdict(paths, settings)
    best = next((p for p in paths if verdict and p["id"] == verdict.best_path_id), None)
    record = sample_record(sample, best, options.step_threshold)
    latest = {pid: {row["idx"]: row["text"] for row in rows} for pid, rows in completions.items()}  # the latest wins
    record.reference_answer = batch.references.get(sample_id)
    record.human_completions = latest.get(best["id"], {}) if best else {}
    lineage = _lineage(sample, batch.chains.get(sample["node_id"], []), batch.decisions.get(sample_id)) if options.lineage else None
    metrics = batch.metrics.get(sample_id, {}) if options.metrics else None
    layout = LAYOUTS["workbench" if options.fmt == "parquet" else options.fmt]
    if layout.preference:
        evidence = TaskEvidence(latest, batch.rollouts, record.reference_answer)
        made = gate_pairs(paths, settings, pairing, evidence, counts.not_made)
        records = [_gate_pair_record(record, pair, lineage, options) for pair in made]
        records += [_stored_pair_record(record, row, options) for row in pairs]
        if options.fmt.startswith("kto"):
            records = _unique([one for found in records for one in unpaired(found)])
        counts.made.update(r.pair.kind for r in records)
        counts.samples_without += not records
        return [Item(r, sample_id, redacted) for r in records]
    shipped = None
    if layout.stepwise:
        checked = _checked(best, bool(verdict and verdict.passed), "reasoning path",
                           verdict.reason if verdict else "no reasoning paths")
    else:
        shipped = shipped_answer(record.turns, paths, verdict, settings, options.answer, options.trace, options.trace_tags)
        record.turns = shipped.turns
        checked = _checked(shipped.path, shipped.verified, shipped.source, shipped.reason)
    if lineage is not None:
        record.lineage = {**lineage, **checked}
    record.metrics = metrics
    return [Item(record, sample_id, redacted, shipped)]


def build_items(store: Store, ids: list[int], options: ExportOptions, counts: PairCounts | None = None) -> dict[int, list[Item]]:
    """The items of a batch of sample ids, per sample (a preference layout may give several per sample, or none)."""
    batch = _load(store, ids, options)
    settings = verification_settings(store)
    pairing = PairingSettings(**options.pairing) if options.pairing else load_pairing(store)
    counts = counts if counts is not None else PairCounts()
    return {sample_id: _sample_items(sample_id, batch, options, settings, pairing, counts) for sample_id in ids}


def natural_item(natural: NaturalData, index: int, options: ExportOptions) -> Item:
    record = SampleRecord(**{**natural.rows[index].__dict__, "source": "natural"})
    record.lineage = {"source": "natural", "file": natural.name, "row": index} if options.lineage else None
    record.metrics = {} if options.metrics else None
    return Item(record, None)
