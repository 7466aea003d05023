"""Preference pairs from the gate (DPO) and from step labels (Step-DPO, Lai et al. 2024), written in TRL's,
LLaMA-Factory's and OpenAI's preference layouts, and preference files read back as pairs, bad rows named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ship_data import add_correction, add_gate_path, add_math_task
from workbench.export.engine import ExportOptions, export
from workbench.formats.sample_import import SampleImportError, import_samples
from workbench.store import Store

QUESTION = "Tom has 3 boxes of 4 pens. How many pens does he have?"
RIGHT = ["3 boxes of 4 pens is 3 * 4 = 12 pens.", "Answer: 12"]
ADDED = ["3 boxes of 4 pens is 3 + 4 = 7 pens.", "Answer: 7"]
SLIP = ["Each box has 4 pens.", "3 * 4 = 13 pens.", "Answer: 13"]
HUMAN_FIX = "3 * 4 = 12 pens."


def export_rows(store: Store, fmt: str, **options) -> tuple[list[dict], object]:
    result = export(store, ExportOptions(fmt=fmt, overwrite=True, **options), f"pairs.{fmt}.jsonl",
                    Path(store.path).parent / "exports")
    return [json.loads(line) for line in result.path.read_text().splitlines()], result


@pytest.fixture
def task(store: Store) -> dict:
    """One task: a passing path, a path with a wrong first step, a slip a person corrected, and a slip whose only
    correct alternative is a stored rollout that reached the reference answer."""
    sample_id = add_math_task(store, QUESTION, "12", "twelve")
    right, _ = add_gate_path(store, sample_id, RIGHT)
    added, _ = add_gate_path(store, sample_id, ADDED, wrong_at=0, path_index=1)
    slip, slip_steps = add_gate_path(store, sample_id, SLIP, wrong_at=1, path_index=2)
    add_correction(store, slip_steps[1], HUMAN_FIX)
    rolled, rolled_steps = add_gate_path(store, sample_id, ["Each box has 4 pens.", "4 + 4 + 4 = 11 pens.", "Answer: 11"],
                                         wrong_at=1, path_index=3)
    store.verify.add_rollout({"step_id": rolled_steps[0], "k": 0, "text": "Step 2: 4 + 4 + 4 = 10.\nAnswer: 10", "final_answer": "10"})
    store.verify.add_rollout({"step_id": rolled_steps[0], "k": 1, "text": "Step 2: 4 + 4 + 4 = 12.\nAnswer: 12", "final_answer": "12"})
    return {"id": sample_id, "right": right, "added": added, "slip": slip, "rolled": rolled}


def test_best_against_each_failing_path_with_why_each_failed(store, task):
    rows, result = export_rows(store, "dpo", lineage=True, pairing={"policy": "best_vs_each", "step_pairs": False})
    assert [(r["prompt"], r["chosen"]) for r in rows] == [(QUESTION, "\n".join(RIGHT))] * 3
    assert [r["rejected"] for r in rows] == ["\n".join(ADDED), "\n".join(SLIP), "Each box has 4 pens.\n4 + 4 + 4 = 11 pens.\nAnswer: 11"]
    why = rows[0]["lineage"]["pair"]["rejected"]
    assert (why["path_id"], why["step"], why["wrong_by"]) == (task["added"], 1, "arithmetic")
    assert why["failed"].startswith("best path (path 2, ")
    assert rows[0]["lineage"]["pair"]["chosen"]["verifiers"] == ["arithmetic", "consistency"]
    assert result.pairs.made == {"response": 3}


def test_best_against_worst_and_every_pair_respect_the_cap(store, task):
    assert len(export_rows(store, "dpo", pairing={"policy": "best_vs_worst", "step_pairs": False})[0]) == 1
    rows, result = export_rows(store, "dpo", pairing={"policy": "all_pairs", "max_per_task": 2, "step_pairs": False})
    assert len(rows) == 2 and result.pairs.not_made == {"over the cap of 2 pairs per task": 1}


def test_step_pairs_take_a_persons_fix_a_passing_path_or_a_rollout_that_reached_the_reference(store, task):
    rows, _ = export_rows(store, "dpo", lineage=True, pairing={"policy": "best_vs_worst"})
    steps = [r for r in rows if r["lineage"]["pair"]["kind"] == "step"]
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in steps] == [
        (QUESTION, RIGHT[0], ADDED[0]),  # no shared step: the passing path's first step
        (f"{QUESTION}\n\nEach box has 4 pens.\n", HUMAN_FIX, "3 * 4 = 13 pens."),
        (f"{QUESTION}\n\nEach box has 4 pens.\n", "4 + 4 + 4 = 12.", "4 + 4 + 4 = 11 pens."),
    ]
    assert [r["lineage"]["pair"]["chosen"]["source"] for r in steps] == ["path", "human_completion", "rollout"]


def test_a_persons_label_overrules_the_verifier_on_the_first_wrong_step(store, task):
    slip_steps = [s["id"] for s in store.verify.path_steps(task["slip"])]
    store.verify.add_step_overrule(slip_steps[0], "incorrect", "the boxes hold 5 pens each", "Ada")
    rows, _ = export_rows(store, "dpo", lineage=True, pairing={"policy": "best_vs_each"})
    wrong = {r["lineage"]["pair"]["rejected"]["path_id"]: r for r in rows if r["lineage"]["pair"]["kind"] == "step"}
    slip = wrong[task["slip"]]
    assert (slip["lineage"]["pair"]["rejected"]["step"], slip["lineage"]["pair"]["rejected"]["wrong_by"]) == (1, "overrule (Ada)")
    assert (slip["prompt"], slip["chosen"], slip["rejected"]) == (QUESTION, RIGHT[0], "Each box has 4 pens.")


def test_the_layouts_of_trl_llama_factory_and_openai(store, task):
    options = {"pairing": {"policy": "best_vs_worst", "step_pairs": False}}
    chosen, rejected = "\n".join(RIGHT), "\n".join(ADDED)
    user = {"role": "user", "content": QUESTION}
    assert export_rows(store, "dpo-conversational", **options)[0] == [{
        "prompt": [user], "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}]}]
    assert export_rows(store, "sharegpt-preference", **options)[0] == [{
        "conversations": [{"from": "human", "value": QUESTION}], "chosen": {"from": "gpt", "value": chosen},
        "rejected": {"from": "gpt", "value": rejected}}]
    assert export_rows(store, "openai-preference", **options)[0] == [{
        "input": {"messages": [user]}, "preferred_output": [{"role": "assistant", "content": chosen}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}]}]
    assert export_rows(store, "kto", **options)[0] == [
        {"prompt": QUESTION, "completion": chosen, "label": True}, {"prompt": QUESTION, "completion": rejected, "label": False}]


def test_a_conversational_step_pair_carries_the_shared_steps_in_both_completions(store, task):
    rows, _ = export_rows(store, "dpo-conversational", pairing={"policy": "best_vs_worst"})
    fixed = next(r for r in rows if r["rejected"][0]["content"].endswith("13 pens."))
    assert fixed["chosen"][0]["content"] == f"Each box has 4 pens.\n{HUMAN_FIX}"
    assert fixed["rejected"][0]["content"] == "Each box has 4 pens.\n3 * 4 = 13 pens."


def test_a_store_without_a_pair_says_why_nothing_was_written(store):
    add_math_task(store, QUESTION, "12", "twelve")
    with pytest.raises(Exception, match="no preference pair"):
        export_rows(store, "dpo")


# ---------------------------------------------------------------- reading preference files


def import_lines(store: Store, rows: list[dict], name: str = "prefs.jsonl"):
    return import_samples(store, "\n".join(json.dumps(r) for r in rows).encode(), name)


def test_pairs_from_other_tools_are_stored_as_pairs_on_their_prompt_and_chosen_sample(store):
    result = import_lines(store, [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": "2+2?", "chosen": "4", "rejected": "22"},
        {"prompt": "3+3?", "chosen": "6", "rejected": "9"},
    ])
    assert (result.format, result.imported, result.pairs) == ("dpo", 2, 3)
    first = store.samples.list_samples()[0]
    assert (first["instruction"], first["output"]) == ("2+2?", "4")
    assert [p["rejected"] for p in store.export.preference_pairs([first["id"]])[first["id"]]] == [
        [{"role": "assistant", "content": "5"}], [{"role": "assistant", "content": "22"}]]


@pytest.mark.parametrize(("row", "fmt"), [
    ({"chosen_messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
      "rejected_messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}]},
     "messages-preference"),
    ({"prompt": "Hi", "chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
      "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}], "score_chosen": 9.0},
     "dpo-conversational"),
    ({"conversations": [{"from": "human", "value": "Hi"}], "chosen": {"from": "gpt", "value": "Hello!"},
      "rejected": {"from": "gpt", "value": "Go away."}}, "sharegpt-preference"),
    ({"input": {"messages": [{"role": "user", "content": "Hi"}]}, "preferred_output": [{"role": "assistant", "content": "Hello!"}],
      "non_preferred_output": [{"role": "assistant", "content": "Go away."}]}, "openai-preference"),
    ({"instruction": "Hi", "input": "", "chosen": "Hello!", "rejected": "Go away."}, "dpo"),
])
def test_each_preference_layout_reads_into_the_same_pair(store, row, fmt):
    result = import_lines(store, [row])
    assert (result.format, result.pairs) == (fmt, 1)
    (sample,) = store.samples.list_samples()
    (pair,) = store.export.preference_pairs([sample["id"]])[sample["id"]]
    assert (sample["instruction"], sample["output"]) == ("Hi", "Hello!")
    assert pair["rejected"] == [{"role": "assistant", "content": "Go away."}] and pair["chosen"]


def test_kto_rows_are_stored_unpaired_with_their_label(store):
    result = import_lines(store, [{"prompt": "2+2?", "completion": "4", "label": True},
                                  {"prompt": "2+2?", "completion": "5", "label": False}])
    assert (result.format, result.pairs) == ("kto", 2)
    good, bad = store.samples.list_samples()
    assert good["output"] == "4" and bad["output"] is None
    assert store.export.preference_pairs([bad["id"]])[bad["id"]][0]["rejected"] == [{"role": "assistant", "content": "5"}]


def test_a_pair_whose_chosen_equals_its_rejected_is_reported_by_line(store):
    result = import_lines(store, [{"prompt": "a", "chosen": "x", "rejected": "y"}, {"prompt": "b", "chosen": "z", "rejected": "z"},
                                  {"prompt": "c", "chosen": "w", "rejected": "w"}])
    assert result.imported == 1
    assert "2 rows skipped: chosen equals rejected (the pair teaches nothing) (line 2, line 3)" in result.summary()


def test_a_pair_whose_prompts_differ_is_refused_naming_the_line(store):
    with pytest.raises(SampleImportError) as refused:
        import_lines(store, [
            {"chosen_messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
             "rejected_messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Bye"}]},
            {"chosen_messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
             "rejected_messages": [{"role": "user", "content": "Hey"}, {"role": "assistant", "content": "Bye"}]}])
    assert "line 2" in str(refused.value) and "the prompt differs from the prompt of chosen_messages at turn 1" in str(refused.value)
    assert store.samples.list_samples() == []


def test_the_cli_exports_pairs_under_a_policy_it_saves(store, task, db_path, tmp_path, capsys):
    from workbench.cli import main
    from workbench.export.preference_pairs import load_pairing

    base = ["--db", str(db_path), "export", "--export-dir", str(tmp_path), "--format", "dpo", "--out", "pairs.jsonl"]
    assert main([*base, "--pairing", "best_vs_worst", "--no-step-pairs"]) == 0
    assert "Wrote 1 row (1 response row)" in capsys.readouterr().out
    assert (load_pairing(store).policy, load_pairing(store).step_pairs) == ("best_vs_worst", False)
    assert main([*base, "--overwrite", "--max-pairs-per-task", "0"]) == 2
    assert "at least 1 pair" in capsys.readouterr().err
