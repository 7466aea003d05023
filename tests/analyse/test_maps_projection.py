"""UMAP maps: cached by (set, model, parameters); new points placed with transform; fit on a sample at scale."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analyse.maps import (
    ExactCosineIndex,
    MapParams,
    current_key,
    fit_indices,
    map_text,
    project,
    projection_key,
    save_params,
)
from workbench.core.embeddings import embed_texts
from workbench.core.jobs import queue, worker
from workbench.store import Store, StoreError

TOPICS = ["bread baking", "prime numbers", "python lists", "ocean tides", "poetry meter", "tax law"]
PARAMS = MapParams(n_neighbors=5, fit_sample=30, random_state=7)


def fill(store: Store, samples: int = 34) -> None:
    store.seeds.insert_seeds([{"instruction": f"Explain the basics of {t}."} for t in TOPICS])
    store.samples.insert_samples([
        {"source": "magpie", "instruction": f"Question {i}: what is surprising about {TOPICS[i % 6]}?", "unit_key": f"s{i}"}
        for i in range(samples)
    ])


def points(store: Store, key: str) -> dict[tuple[str, int], tuple[float, float]]:
    columns = store.maps.map_points(key)
    return {(t, i): (x, y) for t, i, x, y in zip(columns["item_type"], columns["item_id"], columns["x"], columns["y"],
                                                  strict=True)}


def test_fit_indices_keep_every_seed_and_sample_the_rest():
    types = ["seed"] * 3 + ["sample"] * 20
    chosen = fit_indices(types, 10)
    assert len(chosen) == 10 and {0, 1, 2} <= set(chosen.tolist()) and len(set(chosen.tolist())) == 10
    assert fit_indices(types[:5], 10).tolist() == [0, 1, 2, 3, 4]


def test_params_are_checked():
    with pytest.raises(ValueError, match="metric"):
        MapParams(metric="hamming-ish").validated()
    with pytest.raises(ValueError, match="n_neighbors"):
        MapParams(n_neighbors=1).validated()


def test_projection_is_cached_and_grows_by_transform(store: Store):
    fill(store)
    first = project(store, PARAMS)
    assert first.fitted and first.fit_points == 30 and first.transformed == 10
    assert first.placed == first.total_points == 40 and first.unplaced == 0
    before = points(store, first.key)
    assert all(("seed", i) in before for i in range(1, 7))
    assert all(np.isfinite(v).all() for v in before.values())
    reducer = store.analyse.get_projection(first.key)["reducer"]

    again = project(store, PARAMS)
    assert not again.fitted and again.placed == 0 and again.total_points == 40

    store.samples.insert_samples([{"source": "magpie", "instruction": f"New question on {t}?", "unit_key": f"n{t}"} for t in TOPICS[:3]])
    grown = project(store, PARAMS)
    assert not grown.fitted and grown.placed == grown.transformed == 3 and grown.total_points == 43
    assert store.analyse.get_projection(first.key)["reducer"] == reducer  # not refitted
    after = points(store, first.key)
    assert all(after[item] == before[item] for item in before)  # old points stay where they were

    store.db["samples"].delete(1)
    assert project(store, PARAMS).total_points == 42  # deleted items leave the map

    other = project(store, MapParams(n_neighbors=8, min_dist=0.5, fit_sample=30, random_state=7))
    assert other.key != first.key and other.fitted
    assert store.analyse.get_projection(first.key) is not None  # each parameter set keeps its own map

    refit = project(store, PARAMS, refit=True)
    assert refit.fitted and refit.total_points == 42


@pytest.mark.parametrize("texts", [[], ["one"], ["one", "two"], ["same", "same", "SAME  ", "two"]])
def test_too_few_distinct_texts_say_so_and_store_nothing(store: Store, texts):
    store.samples.insert_samples([{"source": "magpie", "instruction": t, "unit_key": f"u{i}"} for i, t in enumerate(texts)])
    result = project(store, PARAMS)
    assert result.too_few and not result.fitted and result.total_points == 0
    assert result.message.startswith("too few points to map")
    assert store.analyse.get_projection(result.key) is None


def test_project_job_on_a_tiny_store_finishes_without_a_failed_unit(store: Store):
    store.seeds.insert_seeds([{"instruction": "the only seed"}])
    store.samples.insert_samples([{"source": "magpie", "instruction": "the only sample", "unit_key": "u"}])
    queue.submit(store, "analyse.project", {"map": PARAMS.to_dict()})
    worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None)
    job = store.jobs.list_jobs()[0]
    assert job["status"] == "done" and job["failed_units"] == 0, job["error"]
    assert job["result"]["too_few"] and "too few points to map" in job["result"]["message"]


def test_identical_texts_share_one_point_also_when_placed_later(store: Store):
    fill(store, samples=20)
    copies = store.samples.insert_samples([{"source": "import", "instruction": f"Explain the basics of {TOPICS[0]}.",
                                    "unit_key": f"copy{i}"} for i in range(3)])
    first = project(store, PARAMS)
    coords = store.analyse.projection_coordinates(first.key)
    assert {coords[("sample", i)] for i in copies} == {coords[("seed", 1)]}
    assert first.fit_points == 26  # distinct texts: 6 seeds + 20 samples; the copies add none

    later = store.samples.insert_samples([{"source": "import", "instruction": f"explain the BASICS of {TOPICS[2]}.",
                                   "unit_key": "late"}])
    grown = project(store, PARAMS)
    assert grown.placed == 1 and grown.transformed == 0  # its text was on the map already
    assert store.analyse.projection_coordinates(first.key)[("sample", later[0])] == coords[("seed", 3)]


def test_no_position_that_is_not_finite_is_ever_stored(store: Store):
    fill(store, samples=10)
    key = project(store, PARAMS).key
    with pytest.raises(StoreError, match="no finite position"):
        store.analyse.add_projection_points(key, [("sample", 1, float("nan"), 0.0), ("sample", 2, 1.0, 2.0)])
    coords = store.analyse.projection_coordinates(key)
    assert all(np.isfinite(xy).all() for xy in coords.values()) and len(coords) == 16


def test_the_map_embeds_the_instruction_or_instruction_and_answer(store: Store):
    store.seeds.insert_seeds([{"instruction": f"Explain the basics of {t}.", "reference_answer": f"{t} is a topic."}
                        for t in TOPICS])
    assert map_text({"instruction": "Q?", "answer": "A."}) == "Q?"
    assert map_text({"instruction": "Q?", "answer": "A."}, "instruction+answer") == "Q?\n\nA."
    assert map_text({"instruction": "Q?", "answer": None}, "instruction+answer") == "Q?"
    both = MapParams(n_neighbors=5, text="instruction+answer", random_state=7)
    result = project(store, both)
    assert result.fitted and result.text == "instruction+answer" and result.total_points == 6
    assert result.key != projection_key("all-MiniLM-L6-v2", MapParams(n_neighbors=5, random_state=7))
    assert store.embeddings.embedding_count("all-MiniLM-L6-v2") == 6
    embed_texts(store, [f"Explain the basics of {TOPICS[0]}.\n\n{TOPICS[0]} is a topic."])
    assert store.embeddings.embedding_count("all-MiniLM-L6-v2") == 6  # what was embedded is instruction + answer
    with pytest.raises(ValueError, match="map text"):
        MapParams(text="answer only").validated()


def test_map_points_limit_keeps_seeds_and_spreads_samples(store: Store):
    fill(store)
    key = project(store, PARAMS).key
    store.metrics.set_metrics("seed", 1, {"lexical_entropy": 2.5})
    columns = store.maps.map_points(key, metric="lexical_entropy", limit=16)
    assert 6 < len(columns["item_id"]) < 6 + 20  # every seed, and about a third of the 34 samples
    assert columns["item_type"][:6] == ["seed"] * 6 and columns["value"][0] == 2.5
    assert len(store.maps.map_points(key, limit=100)["item_id"]) == 40
    assert columns["origin"][6] == "magpie" and columns["review_status"][6] == "pending"


def test_project_job_uses_the_saved_parameters(store: Store):
    fill(store, samples=10)
    save_params(store, PARAMS)
    queue.submit(store, "analyse.project", {"map": PARAMS.to_dict()})
    worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None)
    job = store.jobs.list_jobs()[0]
    assert job["status"] == "done", job["error"]
    assert job["result"]["total_points"] == 16 and job["result"]["key"] == current_key(store)
    assert current_key(store) == projection_key("all-MiniLM-L6-v2", PARAMS)


def test_cli_queues_analysis_jobs_and_lists_uncertain_seeds(store: Store, db_path, capsys):
    from workbench.cli import main

    seeds = store.seeds.insert_seeds([{"instruction": "a"}, {"instruction": "b"}])
    store.metrics.set_metrics("seed", seeds[1], {"student_uncertainty": 0.8})
    assert main(["--db", str(db_path), "analyse", "project", "--refit"]) == 0
    job = store.jobs.list_jobs()[0]
    assert job["kind"] == "analyse.project" and job["params"]["refit"] is True
    assert main(["--db", str(db_path), "analyse", "project", "--text", "instruction+answer"]) == 0
    assert store.jobs.list_jobs()[0]["params"]["map"]["text"] == "instruction+answer"
    assert current_key(store) == projection_key("all-MiniLM-L6-v2", MapParams(text="instruction+answer"))
    assert main(["--db", str(db_path), "uncertain-seeds", "--top", "5"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[:2] == [str(seeds[1]), "0.80"]


def test_the_exact_cosine_index_finds_the_nearest_vectors_nearest_first():
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ExactCosineIndex(vectors)
    index.BLOCK = 64  # several blocks
    indices, distances = index.query(vectors[:100], 5)
    expected = np.argsort(-(vectors[:100] @ vectors.T), axis=1)[:, :5]
    assert (indices == expected).all() and (indices[:, 0] == np.arange(100)).all()  # each point nearest to itself
    assert distances[:, 0] == pytest.approx(0, abs=1e-6) and (np.diff(distances, axis=1) >= 0).all()
    assert distances[3, 2] == pytest.approx(1 - float(vectors[3] @ vectors[indices[3, 2]]), abs=1e-6)
