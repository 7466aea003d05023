"""AppTest runs of the Maps and Distributions pages: empty store, a store without a map, a full store."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.analyse.maps import MapParams, current_key, save_params
from workbench.store import Store

TIMEOUT = 60


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(f"views/{name}.py")
    return at


def array(value: dict | list) -> np.ndarray:
    """A numeric array of a plotly spec (plotly writes numpy arrays as base64 typed arrays)."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def fill(store: Store, samples: int = 40) -> list[int]:
    """Seeds, evolved and Magpie samples with metrics, and a map (points placed by hand: the page only reads them)."""
    seeds = store.seeds.insert_seeds([{"instruction": f"Seed task number {i}"} for i in range(4)])
    node = store.db["evol_nodes"].insert({"node_key": "n1", "seed_id": seeds[0], "depth": 1, "operator": "deepen",
                                          "instruction": "deeper", "status": "survived", "created_at": 0.0}).last_pk
    ids = store.samples.insert_samples([
        {"source": "evol" if i % 2 else "magpie", "node_id": node if i % 2 else None, "seed_id": seeds[0],
         "instruction": f"Sample <b>{i}</b> text", "unit_key": f"u{i}"}
        for i in range(samples)
    ])
    store.metrics.set_metrics_bulk("sample", [(i, {"lexical_entropy": 1.0 + (i % 5), "novelty_seeds": 0.1 * (i % 10)}) for i in ids])
    store.metrics.set_metrics_bulk("seed", [(i, {"lexical_entropy": 2.0}) for i in seeds])
    store.metrics.set_metrics("node", node, {"entropy_gain_parent": 0.75})
    key = current_key(store)
    store.analyse.save_projection(key, {}, b"")
    store.analyse.add_projection_points(key, [("seed", i, float(i), 0.0) for i in seeds])
    store.analyse.add_projection_points(key, [("sample", i, float(i % 7), float(i % 5)) for i in ids])
    return ids


@pytest.mark.parametrize("name", ["maps", "distributions"])
def test_empty_store_shows_a_helpful_empty_state(db_path, name):
    at = page(name).run()
    assert not at.exception
    assert any("Nothing to" in info.value for info in at.info)


def test_maps_without_a_map_offers_to_compute_it(store: Store):
    store.seeds.insert_seeds([{"instruction": f"seed {i}"} for i in range(3)])
    at = page("maps").run()
    assert not at.exception
    assert any("No map for these settings yet" in info.value for info in at.info)
    at = next(b for b in at.button if b.label == "Update map").click().run()
    assert not at.exception
    assert [j["kind"] for j in store.jobs.list_jobs()] == ["analyse.project", "analyse.embed"]


def test_maps_draws_the_map_and_colours_by_a_metric(store: Store):
    fill(store)
    at = page("maps").run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    traces = json.loads(charts[0].proto.spec)["data"]
    assert [t["name"] for t in traces] == ["evol depth 1", "magpie", "seeds"]
    assert traces[-1]["marker"]["symbol"] == "star" and traces[0]["marker"]["symbol"] == "circle"
    assert "Sample &lt;b&gt;1&lt;/b&gt; text" in traces[0]["hovertext"]  # hover shows the text, escaped
    sample_sizes = array(traces[0]["marker"]["size"])
    assert traces[-1]["marker"]["size"] <= 1.5 * sample_sizes.max() and sample_sizes.min() > 3  # stars do not dwarf points
    at.selectbox(key="map-color").select("Novelty vs seeds").run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in spec["data"]] == ["samples", "seeds without a value"]
    assert spec["data"][0]["marker"]["coloraxis"] == "coloraxis"
    assert spec["layout"]["legend"]["orientation"] == "h" and spec["layout"]["legend"]["y"] < 0  # not under the colour bar
    assert spec["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "Novelty vs seeds"
    assert any("Items without novelty vs seeds: 4 seeds: never recorded" in c.value for c in at.caption)


def test_maps_says_what_the_map_embeds(store: Store):
    fill(store, samples=4)
    at = page("maps").run()
    assert any("each point is the embedding of the instruction (" in c.value for c in at.caption)
    save_params(store, MapParams(text="instruction+answer"))
    at = page("maps").run()
    assert any("each point is the embedding of the instruction and its answer" in c.value for c in at.caption)
    assert at.radio[0].value == "instruction+answer"


@pytest.mark.parametrize("texts", [["just one seed"], ["a seed", "another seed"]])
def test_a_tiny_store_says_too_few_points_to_map(store: Store, texts):
    store.seeds.insert_seeds([{"instruction": t} for t in texts])
    at = page("maps").run()
    assert not at.exception
    assert any(info.value.startswith("Too few points to map") for info in at.info)


def test_token_entropy_colouring_says_why_items_have_none(store: Store):
    ids = fill(store, samples=6)
    store.metrics.set_metrics("sample", ids[1], {"token_entropy_mean": 1.5}, note="full distribution")  # evolved
    store.metrics.set_metrics("sample", ids[0], {"token_entropy_mean": None}, note="not available: the provider returns no log-probabilities")
    at = page("maps").run()
    at.selectbox(key="map-color").select("Token entropy (mean, bits)").run()
    assert not at.exception
    why = next(c.value for c in at.caption if c.value.startswith("Items without token entropy"))
    assert "4 seeds: written by people" in why
    assert "1 Magpie sample: recorded without a value: not available: the provider returns no log-probabilities" in why
    assert "2 Magpie samples: never recorded" in why and "2 evolved samples: never recorded" in why
    store.db["samples"].update(ids[2], {"filter_reason": "too short"})  # the map still draws it; Distributions not
    at.run()
    assert "2 Magpie samples: never recorded" in next(c.value for c in at.caption if c.value.startswith("Items without"))
    at = page("distributions").run()
    at.selectbox[0].select("token_entropy_mean").run()
    assert "1 Magpie sample: never recorded" in next(c.value for c in at.caption if c.value.startswith("Items without"))


def test_bulk_actions_on_the_stored_selection_say_what_they_leave_out(store: Store):
    ids = fill(store, samples=8)
    store.db["samples"].update(ids[0], {"filter_reason": "similar to seed 1 (cosine 0.970 > 0.90)"})
    store.db["samples"].update(ids[1], {"filter_reason": "similar to seed 2 (cosine 0.950 > 0.90)"})
    store.review.set_sample_status([ids[2]], "approved", "ana")
    store.analyse.set_map_selection(current_key(store), ids[:6])
    at = page("maps").run()
    assert not at.exception
    assert any("6 samples selected on the map earlier" in c.value for c in at.caption)
    approve = next(b for b in at.button if b.label.startswith("Approve"))
    assert approve.label == "Approve 3"
    at = approve.click().run()
    assert not at.exception
    message = at.success[0].value
    assert message.startswith("3 samples set to approved by")
    assert "2 filtered out of the review queue (similar to seed)" in message and "1 already so" in message
    assert [s["status"] for s in store.samples.samples_by_ids(ids[:6])] == ["pending", "pending", *["approved"] * 4]
    assert store.samples.get_sample(ids[0])["filter_reason"] is not None
    at = next(b for b in at.button if b.label == "Clear selection").click().run()
    assert store.analyse.map_selection_ids() == [] and not any(b.label.startswith("Approve") for b in at.button)


def test_maps_saves_umap_params_and_queues_jobs(store: Store):
    fill(store, samples=6)
    at = page("maps").run()
    at.slider[0].set_value(30)
    at = next(b for b in at.button if b.label == "Save and compute this map").click().run()
    assert not at.exception
    assert store.settings.get_setting("map_params")["n_neighbors"] == 30
    jobs = store.jobs.list_jobs()
    assert [j["kind"] for j in jobs] == ["analyse.project", "analyse.embed"] and jobs[0]["params"]["map"]["n_neighbors"] == 30


def test_maps_neighbour_lookup_explains_bad_input(store: Store):
    fill(store, samples=6)
    at = page("maps").run()
    at.text_input[-1].input("banana")
    at = next(b for b in at.button if b.label == "Find neighbours").click().run()
    assert not at.exception
    assert any("seed ID" in e.value for e in at.error)


def test_distributions_show_histograms_frontier_and_ranking(store: Store):
    fill(store)
    store.metrics.set_metrics("seed", 1, {"student_uncertainty": 0.9, "student_semantic_disagreement": 1.0})
    store.metrics.set_metrics("seed", 2, {"student_uncertainty": 0.4, "student_semantic_disagreement": 0.2,
                                  "teacher_uncertainty": 0.7})
    store.metrics.set_metrics_bulk("sample", [(1, {"near_duplicate_group": 1.0}), (2, {"near_duplicate_group": 1.0})])
    at = page("distributions").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3  # histogram, violins, frontier
    assert any("No verifier scores yet" in info.value for info in at.info)
    assert "Near-duplicate groups: 1" in at.expander[0].label
    assert at.dataframe[0].value["members"].tolist() == ["sample 1, sample 2"]
    ranking = at.dataframe[1].value
    assert ranking["id"].tolist() == [1, 2] and ranking["rank"].tolist() == [1, 2]
    assert ranking["teacher_uncertainty"].tolist()[1] == 0.7  # the teacher's own, in its own named column
    at.radio[0].set_value("Evolution depth").run()
    assert not at.exception
    at = next(b for b in at.button if b.label.startswith("Measure uncertainty")).click().run()
    assert not at.exception
    job = store.jobs.list_jobs()[0]
    assert job["kind"] == "analyse.uncertainty" and job["params"]["role"] == "student" and job["student"] == "local/gemma-3-270m"


def test_distributions_metric_without_values_shows_empty_state(store: Store):
    fill(store, samples=4)
    at = page("distributions").run()
    at.selectbox[0].select("token_entropy_mean").run()
    assert not at.exception
    assert any("No token entropy" in info.value for info in at.info)


def test_distribution_charts_clip_to_the_data_and_show_small_groups_as_points(store: Store):
    fill(store, samples=40)  # 4 seeds (lexical entropy 2.0), 20 evolved and 20 Magpie samples (1.0 to 5.0)
    at = page("distributions").run()
    assert not at.exception
    bars, spread, frontier = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
    kinds = {trace["name"]: trace["type"] for trace in spread["data"]}
    assert kinds == {"evol": "violin", "magpie": "violin", "seed": "box"}  # 4 seeds: a strip of points
    violin = next(t for t in spread["data"] if t["type"] == "violin")
    assert violin["spanmode"] == "hard"  # never drawn beyond the values
    strip = next(t for t in spread["data"] if t["type"] == "box")
    assert strip["boxpoints"] == "all" and strip["fillcolor"] == "rgba(0,0,0,0)"
    assert strip["marker"]["color"] == next(t["marker"]["color"] for t in bars["data"] if t["name"] == "seed")
    assert bars["layout"]["xaxis"]["range"] == spread["layout"]["yaxis"]["range"]
    low, high = spread["layout"]["yaxis"]["range"]
    assert 0.8 < low < 1.0 and 5.0 < high < 5.2  # the values' range (1 to 5) with a little room

    store.metrics.set_metrics("sample", 1, {"lexical_entropy": 0.01})
    at.run()
    low = json.loads(at.get("plotly_chart")[1].proto.spec)["layout"]["yaxis"]["range"][0]
    assert low == 0.0  # a non-negative metric's axis never goes below 0
    assert frontier["layout"]["xaxis"]["dtick"] == 1 and frontier["layout"]["xaxis"]["tick0"] == 0  # whole depths

    at.radio[0].set_value("Evolution depth").run()
    assert not at.exception
    spread = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert [t["name"] for t in spread["data"]] == ["depth 0 (seeds)", "depth 1"]
    assert any("20 Magpie or imported samples without an evolution depth" in c.value for c in at.caption)


def test_copies_of_one_text_say_too_few_points_after_the_map_job(store: Store):
    from workbench.core.jobs import queue, worker

    store.samples.insert_samples([{"source": "import", "instruction": "the same task", "unit_key": f"u{i}"} for i in range(4)])
    queue.submit(store, "analyse.project", {})
    worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None)
    assert store.jobs.list_jobs()[0]["failed_units"] == 0
    at = page("maps").run()
    assert not at.exception
    message = next(info.value for info in at.info if info.value.startswith("Too few points to map"))
    assert message == "Too few points to map: 4 seeds or samples with 1 distinct text; a map needs at least 3. Add seeds or grow samples first."
