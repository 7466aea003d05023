"""Round trip: export -> import into an empty store -> export gives a byte-identical file, for each format.

The store holds what the factory makes: evolved samples with rated reasoning steps (a verifier's scores and
a person's overrule), a Magpie conversation with a system prompt, a sample carrying its seed's input, a
tool-calling conversation, a conversation ending on an unanswered user turn, and non-ASCII text."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.formats.test_sample_formats import TOOL_CALL, TWO_TURNS
from tests.ship_data import (
    CLEAN_PII,
    add_correction,
    add_gate_path,
    add_math_task,
    add_sample,
    add_scored_path,
)
from workbench.export.engine import FORMATS, ExportOptions, ExportResult, export
from workbench.formats.sample_import import import_samples
from workbench.store import Store


@pytest.fixture
def factory_store(store: Store) -> Store:
    a = add_sample(store, "A train leaves at 9:40 and arrives at 13:05. How long is the trip?", "3 h 25 min")
    _, steps = add_scored_path(store, a, ["From 9:40 to 12:40 is 3 hours.", "From 12:40 to 13:05 is 25 minutes.",
                                          "Answer: 3 h 25 min"], [1.0, 1.0, 0.3])
    store.verify.add_step_overrule(steps[2], "correct", "the format is fine", "Ada")
    b = add_sample(store, "Natalia sold 48 clips in April and half as many in May. How many in total?", "72")
    add_scored_path(store, b, ["In May: 48/2 = <<48/2=24>>24 clips.", "Total: 48 + 24 = 70 clips."], [0.9, 0.1])
    add_sample(store, "Plan a day in Kyoto.", "Morning: Fushimi Inari.", source="magpie", turns=TWO_TURNS)
    add_sample(store, "Classify the sentiment.", "positive", input="Ce film était génial ! 🎬")
    add_sample(store, "Weather in Paris?", "It is 18 °C in Paris.", source="magpie", turns=TOOL_CALL)
    add_sample(store, "Hi", "Hello", source="magpie", turns=[
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Still there?"}])
    add_sample(store, "Write a function that reverses a string.", "```python\ndef rev(s):\n    return s[::-1]\n```\n",
               tags=["code", "easy"])
    pens = add_math_task(store, "Tom has 3 boxes of 4 pens. How many pens?", "12", "twelve, I think")
    add_gate_path(store, pens, ["3 boxes of 4 pens is 3 * 4 = 12 pens.", "Answer: 12"])
    add_gate_path(store, pens, ["3 + 4 = 7 pens.", "Answer: 7"], wrong_at=0, path_index=1)
    _, slip = add_gate_path(store, pens, ["Each box has 4 pens.", "3 * 4 = 13 pens.", "Answer: 13"], wrong_at=1, path_index=2)
    add_correction(store, slip[1], "3 * 4 = 12 pens.")
    _, rolled = add_gate_path(store, pens, ["Each box has 4 pens.", "4 + 4 + 4 = 11.", "Answer: 11"], wrong_at=1, path_index=3)
    store.verify.add_rollout({"step_id": rolled[0], "k": 0, "text": "Step 2: 4 + 4 + 4 = 12.\nAnswer: 12", "final_answer": "12"})
    return store


def export_to(store: Store, fmt: str, folder: Path, **options) -> ExportResult:
    return export(store, ExportOptions(fmt=fmt, **options), f"data.{fmt}", folder)


def reimport(path: Path, db: Path) -> Store:
    """Import an export into an empty store, approve what came in and mark it scanned, as a reviewer would."""
    fresh = Store(db)
    result = import_samples(fresh, path, path.name)
    ids = list(result.sample_ids)
    fresh.samples.set_sample_pii(dict.fromkeys(ids, CLEAN_PII))
    fresh.review.set_sample_status(ids, "approved", "Ada")
    return fresh


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_export_is_byte_identical(factory_store: Store, tmp_path: Path, fmt: str):
    first = export_to(factory_store, fmt, tmp_path / "first")
    fresh = reimport(first.path, tmp_path / "fresh.db")
    second = export_to(fresh, fmt, tmp_path / "second")
    assert first.written > 0 and second.written == first.written
    assert second.path.read_bytes() == first.path.read_bytes()
    fresh.close()


def test_each_format_takes_what_it_can_hold_and_counts_the_rest(factory_store: Store, tmp_path: Path):
    written = {fmt: export_to(factory_store, fmt, tmp_path) for fmt in FORMATS}
    assert {fmt: r.written for fmt, r in written.items()} == {
        "openai": 8, "sharegpt": 8, "alpaca": 7, "trl-stepwise": 3, "prm800k": 3, "parquet": 8, "dpo": 6,
        "dpo-conversational": 6, "kto": 10, "kto-conversational": 10, "sharegpt-preference": 6, "openai-preference": 6}
    assert written["openai"].verified == 2 and sum(written["openai"].unverified.values()) == 6
    assert written["dpo"].pairs.made == {"response": 3, "step": 3}
    assert written["sharegpt"].trailing_user_dropped == 1 and written["alpaca"].trailing_user_dropped == 1
    assert written["alpaca"].skipped == {"tool turns or functions (this format has no place for them)": 1}
    assert written["trl-stepwise"].skipped == {
        "no reasoning steps": 2, "a system prompt (this format has no place for it)": 1, "a multi-turn conversation "
        "(this format takes single-turn samples only)": 2}
    assert "skipped: no reasoning steps" in written["prm800k"].summary()


def test_parquet_with_metric_columns_round_trips_too(factory_store: Store, tmp_path: Path):
    for sample_id in factory_store.samples.export_sample_ids("approved", exclude_flagged=True):
        factory_store.metrics.set_metrics("sample", sample_id, {"lexical_entropy": sample_id / 4, "novelty_seeds": 0.5})
    first = export_to(factory_store, "parquet", tmp_path / "first", metrics=True)
    fresh = reimport(first.path, tmp_path / "fresh.db")
    second = export_to(fresh, "parquet", tmp_path / "second", metrics=True)
    assert second.path.read_bytes() == first.path.read_bytes()
    assert pq.read_table(second.path).column("metric_lexical_entropy").to_pylist()[:2] == [0.25, 0.5]
    fresh.close()


def test_a_lineage_export_imports_with_its_lineage_and_origin(factory_store: Store, tmp_path: Path):
    first = export_to(factory_store, "openai", tmp_path, lineage=True)
    fresh = reimport(first.path, tmp_path / "fresh.db")
    imported = fresh.samples.list_samples()
    assert [s["metadata"]["origin"] for s in imported] == ["evol", "evol", "magpie", "evol", "magpie", "magpie", "evol", "evol"]
    assert imported[0]["metadata"]["lineage"]["verifiers"] == ["test-prm"]
    assert imported[1]["metadata"]["lineage"]["verifiers"] == []  # its own answer shipped: no verifier read it
    assert imported[-1]["metadata"]["lineage"]["verifiers"] == ["arithmetic", "consistency"]
    fresh.close()
