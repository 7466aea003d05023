"""The Overview page and the store queries behind it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.store import Store


def overview() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/overview.py")
    return at


def fill(store: Store) -> dict:
    [seed] = store.insert_seeds([{"instruction": "Add 2 and 3."}])
    job = store.create_job("evolve", {})
    kept = store.insert_sample({"source": "evol", "instruction": "Add 2, 3 and 4.", "output": "9", "unit_key": "a"})
    dropped = store.insert_sample({"source": "magpie", "instruction": "hi", "unit_key": "b", "filter_reason": "too short"})
    weak = store.insert_sample({"source": "magpie", "instruction": "Name a prime.", "unit_key": "c"})
    store.set_metrics("sample", kept, {"best_path_score": 1.0})
    store.set_metrics("sample", weak, {"best_path_score": 0.5})
    store.set_sample_status([kept], "approved", "ana")
    store.add_job_usage(job, 100, 40, 0.002)
    return {"seed": seed, "kept": kept, "dropped": dropped, "weak": weak}


def test_funnel_counts_each_stage(store: Store):
    fill(store)
    counts = {row["key"]: row["count"] for row in store.funnel(gate_threshold=1.0)}
    assert counts == {"seeds": 1, "evolved": 0, "survived": 0, "samples": 2, "verified": 2, "gated": 1,
                      "approved": 1, "exported": 0}
    assert {row["key"]: row["count"] for row in store.funnel(gate_threshold=0.5)}["gated"] == 2


def test_usage_by_kind_sums_jobs(store: Store):
    fill(store)
    [row] = store.usage_by_kind()
    assert (row["kind"], row["prompt_tokens"], row["completion_tokens"], row["cost"]) == ("evolve", 100, 40, 0.002)


def test_overview_page_empty_and_full(store: Store):
    at = overview().run()
    assert not at.exception
    assert any("Nothing in the factory yet" in i.value for i in at.info)
    fill(store)
    at = overview().run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["140", "$0.0020"]
    stage_table = at.dataframe[0].value
    assert list(stage_table["count"]) == [1, 0, 0, 2, 2, 1, 1, 0]
