"""What ships is what was verified (issue 23, section 0): a chat export's assistant message is the path that passed the
gate, never the sample's own answer dressed in the path's lineage; the own answer ships only on request, verified only
when it is such a path, and otherwise marked unverified with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ship_data import add_gate_path, add_math_task, add_sample
from workbench.export.engine import ExportError, ExportOptions, export
from workbench.store import Store
from workbench.verify.audit import path_label
from workbench.verify.reasoning import evaluate_task, verification_settings

QUESTION = "A metal cube has a volume of 3.375 cubic metres. How long is its edge?"
OWN_ANSWER = "def time_travel(base, top): return base + top"
VERIFIED = ["The edge is the cube root of the volume.", "The cube root of 3.375 is 1.5.", "Answer: 1.5 m"]


def rows(store: Store, fmt: str = "openai", **options) -> list[dict]:
    result = export(store, ExportOptions(fmt=fmt, lineage=True, overwrite=True, **options), f"out-{fmt}.jsonl",
                    Path(store.path).parent / "exports")
    return [json.loads(line) for line in result.path.read_text().splitlines()]


@pytest.fixture
def task(store: Store) -> dict:
    """A sample whose own answer differs from its best path, which passed the gate; another path failed."""
    sample_id = add_math_task(store, QUESTION, "1.5 m", OWN_ANSWER)
    best, _ = add_gate_path(store, sample_id, VERIFIED)
    failed, _ = add_gate_path(store, sample_id, ["The edge is a third of the volume.", "Answer: 1.125 m"], wrong_at=0,
                              path_index=1)
    return {"id": sample_id, "best": best, "failed": failed}


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "alpaca"])
def test_every_chat_format_ships_the_verified_path_not_the_samples_own_answer(store, task, fmt):
    (row,) = rows(store, fmt)
    text = json.dumps(row, ensure_ascii=False)
    assert "\\n".join(VERIFIED) in text and OWN_ANSWER not in text
    assert row["lineage"]["path_id"] == task["best"] and row["lineage"]["verified"] is True
    assert row["lineage"]["answer"] == "verified path" and row["lineage"]["verifiers"] == ["arithmetic", "consistency"]


def test_the_own_answer_on_request_ships_marked_unverified_and_names_no_path(store, task):
    (row,) = rows(store, answer="original")
    assert row["messages"][-1] == {"role": "assistant", "content": OWN_ANSWER}
    lineage = row["lineage"]
    assert (lineage["verified"], lineage["path_id"], lineage["verifiers"]) == (False, None, [])
    assert "is not the verified path" in lineage["unverified_reason"]


def test_an_own_answer_that_is_the_verified_path_counts_as_verified(store):
    sample_id = add_math_task(store, QUESTION, "1.5 m", "\n".join(VERIFIED))
    best, _ = add_gate_path(store, sample_id, VERIFIED)
    (row,) = rows(store, answer="original")
    assert row["lineage"]["verified"] is True and row["lineage"]["path_id"] == best


def test_without_a_passing_path_the_own_answer_ships_unverified_with_the_gates_reason(store):
    failing = add_math_task(store, QUESTION, "1.5 m", OWN_ANSWER)
    add_gate_path(store, failing, ["The edge is a third of the volume.", "Answer: 1.125 m"], wrong_at=0)
    add_sample(store, "Write a haiku about rain.", "Soft rain on the roof")
    result = export(store, ExportOptions(fmt="openai", lineage=True), "out.jsonl", Path(store.path).parent / "exports")
    first, second = (json.loads(line) for line in result.path.read_text().splitlines())
    assert first["messages"][-1]["content"] == OWN_ANSWER and first["lineage"]["path_id"] is None
    assert first["lineage"]["unverified_reason"].startswith("no reasoning path passed the gate")
    assert second["lineage"]["unverified_reason"] == "never verified: the sample has no reasoning paths"
    assert result.unverified == {"no path passed the gate": 1, "no reasoning paths": 1} and result.verified == 0
    assert "2 shipped unverified" in result.summary()
    assert "carry an unverified answer" in result.card


def test_unverified_answers_can_be_left_out_and_are_counted(store, task):
    add_sample(store, "Write a haiku about rain.", "Soft rain on the roof")
    result = export(store, ExportOptions(fmt="openai", unverified="leave_out"), "out.jsonl",
                    Path(store.path).parent / "exports")
    assert result.written == 1 and result.left_unverified == {"no reasoning paths": 1}


def test_a_conversation_of_several_exchanges_ships_as_written_and_unverified(store):
    turns = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": OWN_ANSWER},
             {"role": "user", "content": "And its surface?"}, {"role": "assistant", "content": "13.5 square metres"}]
    sample_id = add_sample(store, QUESTION, OWN_ANSWER, turns=turns)
    add_gate_path(store, sample_id, VERIFIED)
    (row,) = rows(store)
    assert row["messages"] == turns and row["lineage"]["verified"] is False and row["lineage"]["path_id"] is None


@pytest.mark.parametrize(("trace", "expected"), [
    ("r1", {"role": "assistant", "content": "<think>\n" + "\n".join(VERIFIED[:2]) + "\n</think>\n\nAnswer: 1.5 m"}),
    ("separate", {"role": "assistant", "content": "Answer: 1.5 m", "reasoning_content": "\n".join(VERIFIED[:2])}),
])
def test_a_verified_path_is_written_as_a_reasoning_trace_then_the_final_answer(store, task, trace, expected):
    (row,) = rows(store, trace=trace)
    assert row["messages"][-1] == expected


def test_trace_options_that_a_layout_cannot_hold_are_refused(store, task):
    with pytest.raises(ExportError, match="holds text only"):
        rows(store, "sharegpt", trace="separate")
    with pytest.raises(ExportError, match="two different, non-empty tags"):
        rows(store, trace="r1", trace_tags=("<think>", "<think>"))


def test_the_lineage_names_the_shipped_path_as_the_verifier_and_review_pages_do(store, task):
    (row,) = rows(store)
    paths = store.verify.reasoning_paths_nested("sample", task["id"])[("sample", task["id"])]
    best = next(p for p in paths if p["id"] == task["best"])
    label = path_label(best, evaluate_task(paths, verification_settings(store)))  # the Verifier's and Review's label
    assert label == "★ " + row["lineage"]["path"]
    assert row["lineage"]["path"] == "path 1" + (f" · job {best['job_id']}" if best["job_id"] is not None else "")
