"""AppTest runs of the Maps and Distributions pages: empty store, a store without a map, a full store."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.maps import current_key
from workbench.store import Store

TIMEOUT = 60


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(f"pages/{name}.py")
    return at


def fill(store: Store, samples: int = 40) -> list[int]:
    """Seeds, evolved and Magpie samples with metrics, and a map (points placed by hand: the page only reads them)."""
    seeds = store.insert_seeds([{"instruction": f"Seed task number {i}"} for i in range(4)])
    node = store.db["evol_nodes"].insert({"node_key": "n1", "seed_id": seeds[0], "depth": 1, "operator": "deepen",
                                          "instruction": "deeper", "status": "survived", "created_at": 0.0}).last_pk
    ids = store.insert_samples([
        {"source": "evol" if i % 2 else "magpie", "node_id": node if i % 2 else None, "seed_id": seeds[0],
         "instruction": f"Sample <b>{i}</b> text", "unit_key": f"u{i}"}
        for i in range(samples)
    ])
    store.set_metrics_bulk("sample", [(i, {"lexical_entropy": 1.0 + (i % 5), "novelty_seeds": 0.1 * (i % 10)}) for i in ids])
    store.set_metrics_bulk("seed", [(i, {"lexical_entropy": 2.0}) for i in seeds])
    store.set_metrics("node", node, {"entropy_gain_parent": 0.75})
    key = current_key(store)
    store.save_projection(key, {}, b"")
    store.add_projection_points(key, [("seed", i, float(i), 0.0) for i in seeds])
    store.add_projection_points(key, [("sample", i, float(i % 7), float(i % 5)) for i in ids])
    return ids


@pytest.mark.parametrize("name", ["maps", "distributions"])
def test_empty_store_shows_a_helpful_empty_state(db_path, name):
    at = page(name).run()
    assert not at.exception
    assert any("Nothing to" in info.value for info in at.info)


def test_maps_without_a_map_offers_to_compute_it(store: Store):
    store.insert_seeds([{"instruction": "only a seed"}])
    at = page("maps").run()
    assert not at.exception
    assert any("No map for these settings yet" in info.value for info in at.info)
    at = next(b for b in at.button if b.label == "Update map").click().run()
    assert not at.exception
    assert [j["kind"] for j in store.list_jobs()] == ["project", "embed"]


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
    at.selectbox(key="map-color").select("Novelty vs seeds").run()
    assert not at.exception
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert [t["name"] for t in traces] == ["samples", "seeds (no value)"]
    assert traces[0]["marker"]["coloraxis"] == "coloraxis"


def test_maps_saves_umap_params_and_queues_jobs(store: Store):
    fill(store, samples=6)
    at = page("maps").run()
    at.slider[0].set_value(30)
    at = next(b for b in at.button if b.label == "Save and compute this map").click().run()
    assert not at.exception
    assert store.get_setting("map_params")["n_neighbors"] == 30
    jobs = store.list_jobs()
    assert [j["kind"] for j in jobs] == ["project", "embed"] and jobs[0]["params"]["map"]["n_neighbors"] == 30


def test_maps_neighbour_lookup_explains_bad_input(store: Store):
    fill(store, samples=6)
    at = page("maps").run()
    at.text_input[-1].input("banana")
    at = next(b for b in at.button if b.label == "Find neighbours").click().run()
    assert not at.exception
    assert any("seed ID" in e.value for e in at.error)


def test_distributions_show_histograms_frontier_and_ranking(store: Store):
    fill(store)
    store.set_metrics("seed", 1, {"uncertainty": 0.9, "semantic_disagreement": 1.0})
    store.set_metrics("seed", 2, {"uncertainty": 0.4, "semantic_disagreement": 0.2})
    store.set_metrics_bulk("sample", [(1, {"near_duplicate_group": 1.0}), (2, {"near_duplicate_group": 1.0})])
    at = page("distributions").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3  # histogram, violins, frontier
    assert any("No verifier scores yet" in info.value for info in at.info)
    assert "Near-duplicate groups: 1" in at.expander[0].label
    assert at.dataframe[0].value["members"].tolist() == ["sample 1, sample 2"]
    ranking = at.dataframe[1].value
    assert ranking["id"].tolist() == [1, 2] and ranking["rank"].tolist() == [1, 2]
    at.radio[0].set_value("Evolution depth").run()
    assert not at.exception
    at = next(b for b in at.button if b.label.startswith("Measure uncertainty")).click().run()
    assert not at.exception
    assert store.list_jobs()[0]["kind"] == "uncertainty"


def test_distributions_metric_without_values_shows_empty_state(store: Store):
    fill(store, samples=4)
    at = page("distributions").run()
    at.selectbox[0].select("token_entropy_mean").run()
    assert not at.exception
    assert any("No token entropy" in info.value for info in at.info)
