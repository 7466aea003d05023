"""Verifier calibration against human step labels: kappa on textbook cases, the human consensus, ProcessBench
F1 on human labels, the suggested threshold on a constructed set, tasks passing, applying it, and the CLI."""

from __future__ import annotations

import json
import random

import pytest

from tests.ship_data import add_sample, add_scored_path
from workbench.cli import main
from workbench.store import Store
from workbench.verify import calibration
from workbench.verify.calibration import (
    apply_threshold,
    calibrate,
    cohen_kappa,
    consensus,
    fleiss_kappa,
    human_earliest_error,
    suggest_threshold,
)
from workbench.verify.reasoning import refresh_task_metric, verification_settings

# ---------------------------------------------------------------- kappa, textbook cases


def test_cohen_kappa_on_the_textbook_table():
    # 50 proposals read by two editors: 20 both yes, 5 A yes / B no, 10 A no / B yes, 15 both no.
    # p_o = 35/50 = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_small_hand_computed_three_ratings():
    # p_o = 3/4; rater A: -1 1/4, +1 3/4; rater B: -1 1/4, 0 1/4, +1 1/2; p_e = 1/16 + 3/8 = 7/16; kappa = 5/9
    assert cohen_kappa([-1, 1, 1, 1], [-1, 1, 0, 1]) == pytest.approx(5 / 9)
    assert cohen_kappa([1, -1], [1, -1]) == pytest.approx(1.0)
    assert cohen_kappa([1, -1], [-1, 1]) == pytest.approx(-1.0)


def test_cohen_kappa_is_undefined_without_items_or_with_one_label_throughout():
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None


FLEISS_TABLE = [  # Fleiss (1971) style worked example: 10 subjects, 14 raters, 5 categories; kappa = 0.210
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_on_the_textbook_table():
    # P-bar = 0.378, P_e = 0.2128 -> kappa = (0.378 - 0.2128) / (1 - 0.2128) = 0.2099
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_kappa_small_hand_computed_and_edge_cases():
    # 3 items, 3 raters, 2 categories: [3,0], [0,3], [2,1]. P_i = 1, 1, 1/3 -> P-bar = 7/9;
    # p = (5/9, 4/9) -> P_e = 41/81; kappa = (63/81 - 41/81) / (40/81) = 22/40 = 0.55
    assert fleiss_kappa([[3, 0], [0, 3], [2, 1]]) == pytest.approx(0.55)
    assert fleiss_kappa([]) is None
    assert fleiss_kappa([[2, 0], [3, 0]]) is None  # every rating in one category: chance agreement is total
    with pytest.raises(ValueError, match="two raters"):
        fleiss_kappa([[1, 0]])


def test_consensus_is_the_majority_and_a_tie_goes_to_the_lowest_rating():
    assert consensus([1, 1, -1]) == 1
    assert consensus([1, -1]) == -1
    assert consensus([1, 0]) == 0
    assert consensus([0, 0, 1, 1, -1]) == 0


def test_human_earliest_error_needs_every_step_up_to_it_labelled():
    assert human_earliest_error([1, -1, None]) == 1
    assert human_earliest_error([1, 0, 1]) == -1
    assert human_earliest_error([1, None, -1]) is None
    assert human_earliest_error([1, 1, None]) is None


# ---------------------------------------------------------------- the suggested threshold on a constructed set

# (human earliest error, step scores): the errors sit at 0.4 and 0.3; the right paths dip to 0.6
PATHS = [(1, [0.9, 0.4, 0.8]), (-1, [0.95, 0.7, 0.85]), (0, [0.3, 0.9]), (-1, [0.6, 0.9])]


def test_the_suggested_threshold_maximises_f1_over_the_distinct_scores():
    # at 0.3 nothing is flagged (F1 0); 0.4 finds one error (F1 2/3); 0.6 finds both and no right path (F1 1);
    # 0.7 also flags the right path that dips to 0.6 (F1 2/3); 1.0 flags every first step
    assert suggest_threshold(PATHS) == (0.6, pytest.approx(1.0))
    assert suggest_threshold([(0, [0.0]), (-1, [1.0])]) == (1.0, pytest.approx(1.0))
    assert calibration._f1(PATHS, 0.4)["f1"] == pytest.approx(2 / 3)
    assert calibration._f1(PATHS, 0.7)["f1"] == pytest.approx(2 / 3)


def test_the_sweep_agrees_with_scoring_every_candidate_one_by_one():
    rng = random.Random(16)
    for _ in range(200):
        paths = []
        for _ in range(rng.randint(2, 8)):
            scores = [rng.choice([None, 0.0, 0.2, 0.5, 0.7, 1.0, round(rng.random(), 2)]) for _ in range(rng.randint(1, 5))]
            paths.append((rng.randint(-1, len(scores) - 1), scores))
        candidates = sorted({s for _, scores in paths for s in scores if s is not None} | {1.0})
        by_one = [(t, calibration._f1(paths, t)["f1"]) for t in candidates]
        if by_one[0][1] is None:
            assert suggest_threshold(paths) == (None, None)
            continue
        best = max(f1 for _, f1 in by_one)
        expected = max(t for t, f1 in by_one if f1 >= best - 1e-12)
        assert suggest_threshold(paths) == (expected, pytest.approx(best)), paths


def test_no_suggestion_when_people_found_no_error():
    assert suggest_threshold([(-1, [0.9, 0.2])]) == (None, None)


# ---------------------------------------------------------------- the report from the store


def labelled_store(store: Store) -> dict:
    """Four labelled paths with a `prm` verifier's scores as in PATHS, an `arith` verifier that checks one step and
    abstains on the rest, Ada's labels (PRM800K style: up to the first error) and Bob's on four of them."""
    ids: dict = {"steps": []}
    human = [[1, -1, None], [1, 1, 1], [-1, None], [1, 1]]
    for (_, scores), ratings in zip(PATHS, human, strict=True):
        sample = add_sample(store, f"task with {len(scores)} steps {scores}")
        _, steps = add_scored_path(store, sample, [f"step {i}" for i in range(len(scores))], scores, verifier="prm")
        names = {1: "correct", 0: "neutral", -1: "incorrect"}
        for step, rating in zip(steps, ratings, strict=True):
            if rating is not None:
                store.verify.add_step_overrule(step, names[rating], "label", "Ada")
        ids["steps"].append(steps)
    p1, p2, p3, _ = ids["steps"]
    store.verify.add_step_overrule(p1[1], "incorrect", "label", "Bob")
    for step, label in zip(p2, ["correct", "neutral", "correct"], strict=True):
        store.verify.add_step_overrule(step, label, "label", "Bob")
    store.verify.add_step_overrule(p2[2], "incorrect", "first thought", "Cy")  # Cy changed his mind: his latest counts
    store.verify.add_step_overrule(p2[2], "correct", "second look", "Cy")
    store.verify.set_step_scores([{"step_id": p3[0], "verifier": "arith", "score": 0.0, "label": "incorrect"}]
                          + [{"step_id": s, "verifier": "arith", "score": 0.5, "label": "unverifiable"} for s in p2])
    # five seeds the gate decided: each answer matches its reference (the outcome is verified) and the step before
    # scores 0.3 ... 1.0 by the prm, so a threshold t passes the seeds whose step reaches t
    settings = verification_settings(store)
    for index, score in enumerate([0.3, 0.6, 0.65, 0.9, 1.0]):
        [seed] = store.seeds.insert_seeds([{"instruction": f"seed task {index}", "reference_answer": "7"}])
        path_id = store.verify.add_reasoning_path({"task_type": "seed", "task_id": seed, "path_index": 0, "text": "..."},
                                           ["3 + 4 = 7", "Answer: 7"])
        first, answer = store.verify.path_steps(path_id)
        store.verify.set_step_scores([{"step_id": first["id"], "verifier": "prm", "score": score, "label": "correct",
                                "checks": "step"},
                               {"step_id": answer["id"], "verifier": "consistency", "score": 1.0, "label": "correct",
                                "checks": "outcome"}])
        refresh_task_metric(store, "seed", seed, settings)
    return ids


def test_calibration_report_from_human_labels(store: Store):
    labelled_store(store)
    report = calibrate(store)
    assert report["labellers"] == [{"name": "Ada", "steps": 8}, {"name": "Bob", "steps": 4}, {"name": "Cy", "steps": 1}]
    pairs = {tuple(p["labellers"]): p for p in report["agreement"]["pairs"]}
    # Ada and Bob share four steps: Ada -1, 1, 1, 1 and Bob -1, 1, 0, 1 (the hand-computed case above)
    assert pairs[("Ada", "Bob")]["kappa"] == pytest.approx(5 / 9) and pairs[("Ada", "Bob")]["n_steps"] == 4
    assert pairs[("Ada", "Cy")]["n_steps"] == 1 and pairs[("Bob", "Cy")]["observed_agreement"] == 1.0
    assert report["agreement"]["method"] == "fleiss" and report["agreement"]["n_steps"] == 4
    # Fleiss over the four shared steps (ratings -1/0/+1): [2,0,0], [0,0,2], [0,1,1], [0,0,3]
    assert report["agreement"]["kappa"] == pytest.approx(fleiss_kappa([[2, 0, 0], [0, 0, 2], [0, 1, 1], [0, 0, 3]]))
    assert report["tied_steps"] == 1  # Ada correct, Bob neutral: neutral
    assert report["n_paths"] == 4 and report["n_paths_undetermined"] == 0

    prm = report["verifiers"]["prm"]
    assert (prm["n_steps"], prm["n_paths"], prm["abstained"]) == (8, 4, 0)
    assert prm["suggested_threshold"] == 0.6 and prm["f1_suggested"] == pytest.approx(1.0)
    assert prm["kappa_suggested"] == pytest.approx(1.0)
    # today's threshold 1.0 flags every step: kappa 0, and F1 0 (every path predicted wrong at step 0)
    assert prm["threshold"] == 1.0 and prm["kappa"] == pytest.approx(0.0) and prm["f1"] == pytest.approx(0.0)
    assert prm["confusion"] == {"correct": {"passes": 0, "flags": 5}, "neutral": {"passes": 0, "flags": 1},
                                "incorrect": {"passes": 0, "flags": 2}}
    assert prm["confusion_suggested"] == {"correct": {"passes": 5, "flags": 0}, "neutral": {"passes": 1, "flags": 0},
                                          "incorrect": {"passes": 0, "flags": 2}}
    assert (prm["passes_current"], prm["passes_suggested"]) == (1, 4)
    assert report["tasks_verified"] == 5 and report["passes_current"] == 1

    arith = report["verifiers"]["arith"]  # abstentions never flag: it finds path 3's error and nothing else
    assert (arith["n_steps"], arith["n_paths"], arith["abstained"]) == (4, 2, 3)
    # its one score is 0.0: only a threshold above it (1.0) flags it
    assert arith["f1"] == pytest.approx(1.0) and arith["suggested_threshold"] == 1.0
    # the gate: the strictest verdict per step, so path 3's first step scores 0.0 and path 2's follow prm
    assert report["combined"]["suggested_threshold"] == 0.6 and report["combined"]["f1_suggested"] == pytest.approx(1.0)


def test_apply_threshold_saves_the_gate_threshold_and_keeps_the_aggregation(store: Store):
    apply_threshold(store, 0.6)
    assert (verification_settings(store).threshold, verification_settings(store).aggregation) == (0.6, "min")
    with pytest.raises(calibration.CalibrationError, match=r"\[0, 1\]"):
        apply_threshold(store, 1.5)
    assert verification_settings(store).threshold == 0.6


def test_an_undefined_f1_gives_no_suggestion(store: Store):
    sample = add_sample(store, "one right path")
    _, steps = add_scored_path(store, sample, ["a", "b"], [0.9, 0.8], verifier="prm")
    for step in steps:
        store.verify.add_step_overrule(step, "correct", "fine", "Ada")
    prm = calibrate(store)["verifiers"]["prm"]
    assert prm["f1"] is None and prm["suggested_threshold"] is None and prm["passes_suggested"] is None
    assert calibrate(store)["agreement"]["note"].startswith("one labeller")


# ---------------------------------------------------------------- the CLI


def test_cli_json_shape(store: Store, db_path, capsys):
    labelled_store(store)
    assert main(["--db", str(db_path), "verify", "calibrate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"labellers", "agreement", "verifiers"} <= set(report)
    assert isinstance(report["agreement"]["kappa"], float)
    for name in ("prm", "arith"):
        row = report["verifiers"][name]
        assert isinstance(row["kappa"], float) and isinstance(row["f1"], float)
        assert isinstance(row["suggested_threshold"], float) and isinstance(row["n_steps"], int)
    assert report["verifiers"]["prm"]["suggested_threshold"] == 0.6


def test_cli_text_and_apply(store: Store, db_path, capsys):
    labelled_store(store)
    assert main(["--db", str(db_path), "verify", "calibrate"]) == 0
    out = capsys.readouterr().out
    assert "labellers: Ada (8 steps), Bob (4 steps), Cy (1 step)" in out
    assert "agreement between people: Fleiss' kappa 0.494 on 4 steps labelled by two or more people" in out
    assert "Ada / Cy: Cohen's kappa — on 1 shared step" in out
    assert "prm: 8 steps, 4 paths" in out and "suggested threshold 0.600" in out
    assert main(["--db", str(db_path), "verify", "calibrate", "--apply", "prm"]) == 0
    assert "the gate threshold is now 0.6" in capsys.readouterr().out
    assert verification_settings(store).threshold == 0.6
    assert main(["--db", str(db_path), "verify", "calibrate", "--apply", "nosuch"]) == 2
    assert "nothing was changed" in capsys.readouterr().err


def test_cli_without_human_labels_says_so_and_exits_2(store: Store, db_path, capsys):
    assert main(["--db", str(db_path), "verify", "calibrate", "--json"]) == 2
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed["labellers"] == [] and printed["agreement"]["note"].startswith("no step is labelled by a person")
    assert "No step has a human label yet" in captured.err


# ---------------------------------------------------------------- the page


def calibration_page():
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("views/calibration.py")
    return at


def frame_with(at, column: str):
    """The page's table that has this column."""
    return next(f.value for f in at.dataframe if column in f.value.columns)


def test_page_empty_state(store: Store):
    at = calibration_page().run()
    assert not at.exception
    assert "No step has a human label yet" in " ".join(i.value for i in at.info)


def test_page_shows_agreement_verifiers_and_applies_the_suggestion(store: Store):
    labelled_store(store)
    at = calibration_page().run()
    assert not at.exception
    assert at.metric[0].label == "Fleiss' kappa" and at.metric[0].value == f"{calibrate(store)['agreement']['kappa']:.3f}"
    assert frame_with(at, "Labeller")["Steps labelled"].tolist() == [8, 4, 1]
    assert frame_with(at, "Labellers")["Kappa"].tolist() == [f"{5 / 9:.3f}", "—", "—"]  # one shared step: one label
    table = frame_with(at, "Verifier")
    prm = table[table["Verifier"] == "prm"].iloc[0]
    assert (prm["Steps"], prm["Kappa now"], prm["F1 now"], prm["Suggested threshold"]) == (8, "0.000", "0.000", "0.600")
    assert (prm["Tasks passing now"], prm["Tasks passing at suggested"]) == (1, 4)
    assert at.selectbox[0].value == "combined (the gate)"
    at.selectbox[0].set_value("prm").run()
    confusion = frame_with(at, "People said")
    assert confusion.to_dict("records")[0] == {"People said": "correct", "Verifier passes": 0, "Verifier flags": 5}
    at.radio[0].set_value("suggested threshold 0.6").run()
    assert frame_with(at, "People said").to_dict("records")[0] == {"People said": "correct", "Verifier passes": 5,
                                                           "Verifier flags": 0}
    assert at.metric[1].value == "1.000"  # kappa at the suggestion
    at.button(key="apply").click().run()
    assert not at.exception
    assert verification_settings(store).threshold == 0.6
    assert "The gate threshold is now 0.6" in " ".join(s.value for s in at.success)
