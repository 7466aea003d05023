"""Export reviewed samples: OpenAI chat, ShareGPT, Alpaca, TRL stepwise, PRM800K-style ratings and Parquet.

Samples stream from the store in batches of ids (memory stays flat in N), are blocked or redacted
for PII, optionally mixed with natural data, formatted, and written to a temporary file in the
target folder that replaces the target only once complete (a crash leaves no partial file).
Targets must lie inside the export folder; an existing file is kept unless overwrite=True.
Each export is recorded in the `exports` / `export_items` tables.
"""

from __future__ import annotations

import json
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from workbench import dataset_card
from workbench.mix import DEFAULT_SYNTHETIC_RATIO, MixPlan, NaturalData, plan_mix
from workbench.pii import findings_by_field, redact
from workbench.ratings import step_rating
from workbench.store import Store

FORMATS = ("openai", "sharegpt", "alpaca", "trl-stepwise", "prm800k", "parquet")
STEPWISE = ("trl-stepwise", "prm800k")
EXTENSIONS = {fmt: ".parquet" if fmt == "parquet" else ".jsonl" for fmt in FORMATS}
SHAREGPT_ROLES = {"user": "human", "assistant": "gpt", "system": "system"}
BATCH_SIZE = 1000
BASE_COLUMNS = ["id", "source", "instruction", "output", "turns", "tags", "status"]
LINEAGE_SOURCE_COLUMNS = ["seed_id", "node_id", "model", "params", "job_id", "metadata"]


class ExportError(Exception):
    """An export refused with a message for the user; nothing was written."""


@dataclass
class ExportOptions:
    fmt: str
    status: str | None = "approved"  # None: every sample, whatever its status
    lineage: bool = False
    metrics: bool = False
    pii: str = "block"  # 'block' leaves flagged samples out; 'redact' replaces each hit with <TYPE>
    natural: NaturalData | None = None
    synthetic_ratio: float = DEFAULT_SYNTHETIC_RATIO
    seed: int = 0
    overwrite: bool = False
    card: bool = False
    license: str = "other"
    step_threshold: float = 0.5
    batch_size: int = BATCH_SIZE

    def recorded(self) -> dict:
        """The options as stored with the export (the natural rows themselves are not stored)."""
        options = {k: v for k, v in asdict(self).items() if k != "natural"}
        options["natural_file"] = self.natural.name if self.natural else None
        return options


@dataclass
class ExportResult:
    path: Path
    export_id: int
    written: int
    synthetic: int
    natural: int = 0
    blocked: int = 0
    redacted: int = 0
    skipped_unrated: int = 0
    seed: int | None = None
    card_path: Path | None = None
    card: str = ""
    sample_ids: array = field(default_factory=lambda: array("q"))


# ---------------------------------------------------------------- paths and atomic writes


def resolve_target(out: str | Path, export_root: str | Path) -> Path:
    """The absolute target path; relative paths are taken inside the export folder, paths outside it are refused."""
    root = Path(export_root).expanduser().resolve()
    candidate = Path(out).expanduser()
    target = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if target == root or not target.is_relative_to(root):
        raise ExportError(f"{out} is outside the export folder {root}; choose a file name inside it")
    if target.is_dir():
        raise ExportError(f"{target} is a folder; give a file name")
    return target


@contextmanager
def atomic_file(target: Path, mode: str = "w") -> Iterator[IO]:
    """A temporary file beside the target, moved over it with os.replace only when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- records


def _messages(sample: dict) -> list[dict]:
    turns = sample.get("turns")
    if isinstance(turns, list) and turns and all(isinstance(t, dict) and "role" in t and "content" in t for t in turns):
        return [{"role": t["role"], "content": t["content"]} for t in turns]
    return [{"role": "user", "content": sample["instruction"]}, {"role": "assistant", "content": sample.get("output") or ""}]


def _redacted(sample: dict, path: dict | None) -> tuple[dict, dict | None, bool]:
    """The sample and its path with every PII finding replaced by its placeholder; True if anything changed."""
    found = findings_by_field(sample.get("pii"))
    if not found:
        return sample, path, False
    sample = {**sample}
    for name in ("instruction", "output"):
        if name in found and sample.get(name):
            sample[name] = redact(sample[name], found[name])
    if isinstance(sample.get("turns"), list):
        sample["turns"] = [
            {**t, "content": redact(t["content"], found[f"turn:{i}"])} if f"turn:{i}" in found else t
            for i, t in enumerate(sample["turns"])
        ]
    if path:
        path = {**path, "steps": [
            {**s, "text": redact(s["text"], found[f"step:{s['id']}"])} if f"step:{s['id']}" in found else s
            for s in path["steps"]
        ]}
    return sample, path, True


def _lineage(sample: dict, path: dict | None, chain: list[dict], decision: dict | None) -> dict:
    return {
        "sample_id": sample["id"],
        "source": sample["source"],
        "seed_id": sample["seed_id"],
        "node_id": sample["node_id"],
        "operators": [c["operator"] for c in chain],
        "depth": chain[-1]["depth"] if chain else None,
        "path_id": path["id"] if path else None,
        "verifiers": sorted({s["verifier"] for s in path["steps"] if s["verifier"]}) if path else [],
        "decision": sample["status"],
        "reviewer": decision["reviewer"] if decision else None,
        "teacher_model": sample["model"],
        "teacher_params": sample["params"],
        "job_id": sample["job_id"],
        "origin": sample["metadata"].get("origin"),
    }


def _natural_lineage(natural: NaturalData, index: int) -> dict:
    return {"source": "natural", "file": natural.name, "row": index}


def build_records(store: Store, ids: list[int], options: ExportOptions) -> dict[int, dict | None]:
    """Records for a batch of sample ids (None for a stepwise sample without fully rated steps)."""
    columns = BASE_COLUMNS + (["pii"] if options.pii == "redact" else []) + (LINEAGE_SOURCE_COLUMNS if options.lineage else [])
    samples = {s["id"]: s for s in store.sample_columns(ids, columns)}
    needs_paths = options.fmt in STEPWISE or options.fmt == "parquet" or options.lineage
    paths = store.best_paths(ids) if needs_paths else {}
    chains = store.evol_chains({s["node_id"] for s in samples.values() if s["node_id"]}) if options.lineage else {}
    decisions = store.latest_decisions(ids) if options.lineage else {}
    metrics = store.metrics_many("sample", ids) if options.metrics else {}
    records: dict[int, dict | None] = {}
    for sample_id in ids:
        sample, path, redacted = samples[sample_id], paths.get(sample_id), False
        if options.pii == "redact":
            sample, path, redacted = _redacted(sample, path)
        steps = [{"text": s["text"], "rating": step_rating(s, options.step_threshold)} for s in path["steps"]] if path else []
        if options.fmt in STEPWISE and (not steps or any(s["rating"] is None for s in steps)):
            records[sample_id] = None
            continue
        records[sample_id] = {
            "id": sample_id,
            "source": sample["source"],
            "instruction": sample["instruction"],
            "output": sample.get("output") or "",
            "messages": _messages(sample),
            "tags": sample["tags"],
            "steps": steps,
            "redacted": redacted,
            "lineage": _lineage(sample, path, chains.get(sample["node_id"], []), decisions.get(sample_id))
            if options.lineage else None,
            "metrics": metrics.get(sample_id, {}) if options.metrics else None,
        }
    return records


def natural_record(natural: NaturalData, index: int, options: ExportOptions) -> dict:
    row = natural.rows[index]
    return {
        "id": None,
        "source": "natural",
        "instruction": row["instruction"],
        "output": row["output"],
        "messages": [{"role": "user", "content": row["instruction"]}, {"role": "assistant", "content": row["output"]}],
        "tags": [],
        "steps": [],
        "redacted": False,
        "lineage": _natural_lineage(natural, index) if options.lineage else None,
        "metrics": {} if options.metrics else None,
    }


# ---------------------------------------------------------------- formats


def _extras(record: dict) -> dict:
    extras = {}
    if record["lineage"] is not None:
        extras["lineage"] = record["lineage"]
    if record["metrics"] is not None:
        extras["metrics"] = record["metrics"]
    return extras


def to_openai(record: dict) -> dict:
    return {"messages": record["messages"], **_extras(record)}


def to_sharegpt(record: dict) -> dict:
    conversations = [{"from": SHAREGPT_ROLES.get(m["role"], m["role"]), "value": m["content"]} for m in record["messages"]]
    return {"conversations": conversations, **_extras(record)}


def to_alpaca(record: dict) -> dict:
    return {"instruction": record["instruction"], "input": "", "output": record["output"], **_extras(record)}


def to_trl_stepwise(record: dict) -> dict:
    """TRL stepwise supervision: a step is labelled True unless it was rated -1 (neutral 0 counts as not wrong)."""
    return {
        "prompt": record["instruction"],
        "completions": [s["text"] for s in record["steps"]],
        "labels": [s["rating"] >= 0 for s in record["steps"]],
        **_extras(record),
    }


def to_prm800k(record: dict) -> dict:
    """PRM800K's layout: question, then one rated completion per step; finish_reason found_error at a -1."""
    ratings = [s["rating"] for s in record["steps"]]
    return {
        "question": {"problem": record["instruction"], "ground_truth_answer": record["output"]},
        "label": {
            "steps": [
                {"completions": [{"text": s["text"], "rating": s["rating"], "flagged": False}],
                 "human_completion": None, "chosen_completion": 0}
                for s in record["steps"]
            ],
            "finish_reason": "found_error" if -1 in ratings else "solution",
        },
        **_extras(record),
    }


JSONL_FORMATTERS: dict[str, Callable[[dict], dict]] = {
    "openai": to_openai, "sharegpt": to_sharegpt, "alpaca": to_alpaca, "trl-stepwise": to_trl_stepwise, "prm800k": to_prm800k,
}

LINEAGE_COLUMNS = {
    "seed_id": "int64", "node_id": "int64", "operators": "list", "depth": "int64", "path_id": "int64",
    "verifiers": "list", "decision": "string", "reviewer": "string", "teacher_model": "string",
    "teacher_params": "json", "job_id": "int64", "origin": "string", "file": "string", "row": "int64",
}


def parquet_schema(options: ExportOptions, metric_names: list[str]):
    import pyarrow as pa

    types = {"int64": pa.int64(), "string": pa.string(), "json": pa.string(), "list": pa.list_(pa.string())}
    fields = [
        pa.field("id", pa.int64()), pa.field("source", pa.string()), pa.field("instruction", pa.string()),
        pa.field("output", pa.string()), pa.field("tags", pa.list_(pa.string())), pa.field("steps", pa.list_(pa.string())),
        pa.field("step_ratings", pa.list_(pa.int8())),
    ]
    if options.lineage:
        fields += [pa.field(f"lineage_{name}", types[kind]) for name, kind in LINEAGE_COLUMNS.items()]
    if options.metrics:
        fields += [pa.field(f"metric_{name}", pa.float64()) for name in metric_names]
    return pa.schema(fields)


def to_parquet_row(record: dict, metric_names: list[str]) -> dict:
    row = {
        "id": record["id"], "source": record["source"], "instruction": record["instruction"], "output": record["output"],
        "tags": record["tags"], "steps": [s["text"] for s in record["steps"]],
        "step_ratings": [s["rating"] for s in record["steps"]],
    }
    if record["lineage"] is not None:
        for name, kind in LINEAGE_COLUMNS.items():
            value = record["lineage"].get(name)
            row[f"lineage_{name}"] = json.dumps(value, sort_keys=True) if kind == "json" and value is not None else value
    if record["metrics"] is not None:
        row.update({f"metric_{name}": record["metrics"].get(name) for name in metric_names})
    return row


# ---------------------------------------------------------------- the export


def _id_batches(ids: list[int] | array, size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _stream(store: Store, options: ExportOptions, ids: list[int], plan: MixPlan | None) -> Iterator[tuple[list[dict], int]]:
    """Batches of records in output order, with the count of stepwise samples skipped in each."""
    order = plan.order if plan else ids
    for batch in _id_batches(order, options.batch_size):
        wanted = [i for i in batch if i > 0]
        built = build_records(store, wanted, options) if wanted else {}
        records = [built[i] if i > 0 else natural_record(options.natural, -i - 1, options) for i in batch]
        yield [r for r in records if r is not None], sum(r is None for r in records)


def _check(store: Store, options: ExportOptions) -> dict[str, int]:
    if options.fmt not in FORMATS:
        raise ExportError(f"unknown format {options.fmt!r}; use one of {', '.join(FORMATS)}")
    if options.pii not in ("block", "redact"):
        raise ExportError("PII handling must be 'block' or 'redact'")
    if options.natural and options.fmt in STEPWISE:
        raise ExportError(f"{options.fmt} needs rated reasoning steps; natural rows have none, so it cannot be mixed")
    if options.natural and not 0 < options.synthetic_ratio < 1:
        raise ExportError("the synthetic ratio must be between 0 and 1 (for example 0.3)")
    counts = store.pii_counts(options.status)
    if counts["unscanned"]:
        raise ExportError(
            f"{counts['unscanned']:,} samples have not been scanned for PII yet; run the PII scan first "
            "(Review page, or `workbench pii scan`)"
        )
    return counts


def preview_card(store: Store, options: ExportOptions, file_name: str) -> str:
    """The dataset card an export with these options would write (counts estimated before skipping)."""
    counts = store.pii_counts(options.status)
    available = counts["clean"] + (counts["flagged"] if options.pii == "redact" else 0)
    synthetic, natural = available, 0
    if options.natural:
        from workbench.mix import mix_counts

        synthetic, natural = mix_counts(available, len(options.natural.rows), options.synthetic_ratio)
    info = _card_info(options, file_name, synthetic, natural, counts["flagged"] if options.pii == "block" else 0, 0)
    return dataset_card.render(store.dataset_facts(options.status), info)


def _card_info(options: ExportOptions, file_name: str, synthetic: int, natural: int, blocked: int, redacted: int):
    return dataset_card.CardInfo(
        fmt=options.fmt, file_name=file_name, written=synthetic + natural, synthetic=synthetic, natural=natural,
        natural_file=options.natural.name if options.natural else None, mix_seed=options.seed if options.natural else None,
        synthetic_ratio=options.synthetic_ratio if options.natural else None, status=options.status, pii=options.pii,
        blocked=blocked, redacted=redacted, license=options.license,
    )


def export(store: Store, options: ExportOptions, out: str | Path, export_root: str | Path) -> ExportResult:
    """Write one export atomically inside export_root and record it. Raises ExportError on refusal."""
    target = resolve_target(out, export_root)
    card_target = target.parent / "README.md" if options.card else None
    for path in (target, card_target):
        if path is not None and path.exists() and not options.overwrite:
            raise ExportError(f"{path} already exists; confirm overwriting it (overwrite=True, --overwrite)")
    counts = _check(store, options)
    ids = array("q", store.export_sample_ids(options.status, exclude_flagged=options.pii == "block"))
    plan = plan_mix(ids, len(options.natural.rows), options.synthetic_ratio, options.seed) if options.natural else None
    metric_names = store.sample_metric_names() if options.metrics else []
    result = ExportResult(path=target, export_id=0, written=0, synthetic=0, seed=options.seed if plan else None,
                          blocked=counts["flagged"] if options.pii == "block" else 0)

    def consume(write: Callable[[list[dict]], None]) -> None:
        for records, skipped in _stream(store, options, ids, plan):
            write(records)
            result.skipped_unrated += skipped
            for record in records:
                if record["id"] is not None:
                    result.sample_ids.append(record["id"])
                result.redacted += record["redacted"]
            result.written += len(records)
        if result.written == 0:  # raised inside the atomic block: no empty file is left behind
            reason = f", and {result.skipped_unrated:,} lack fully rated steps" if result.skipped_unrated else ""
            raise ExportError(f"nothing to export: {len(ids):,} {options.status or 'eligible'} samples{reason}")

    if options.fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = parquet_schema(options, metric_names)
        with atomic_file(target, "wb") as handle, pq.ParquetWriter(handle, schema) as writer:
            def write(records: list[dict]) -> None:
                rows = [to_parquet_row(r, metric_names) for r in records]
                columns = {name: [row[name] for row in rows] for name in schema.names}
                writer.write_table(pa.Table.from_pydict(columns, schema=schema))

            consume(write)
    else:
        formatter = JSONL_FORMATTERS[options.fmt]
        with atomic_file(target) as handle:
            consume(lambda records: handle.writelines(json.dumps(formatter(r), ensure_ascii=False) + "\n" for r in records))

    result.synthetic = len(result.sample_ids)
    result.natural = result.written - result.synthetic
    info = _card_info(options, target.name, result.synthetic, result.natural, result.blocked, result.redacted)
    result.card = dataset_card.render(store.dataset_facts(options.status), info)
    if card_target is not None:
        with atomic_file(card_target) as handle:
            handle.write(result.card)
        result.card_path = card_target
    recorded = {**options.recorded(), "synthetic": result.synthetic, "natural": result.natural, "blocked": result.blocked,
                "redacted": result.redacted, "skipped_unrated": result.skipped_unrated}
    result.export_id = store.record_export(options.fmt, str(target), recorded, result.sample_ids)
    return result
