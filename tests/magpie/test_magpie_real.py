"""Magpie on the real bundled model (Gemma 3 270M base, llama.cpp): slow."""

from __future__ import annotations

import pytest

from workbench import cli
from workbench.magpie.job import BASE_MODEL_ENTROPY_CUT, KIND
from workbench.store import Store

N = 2


@pytest.mark.slow
def test_cli_magpie_on_the_bundled_model_stores_n_samples(store: Store, db_path, capsys):
    code = cli.main(["--db", str(db_path), "magpie", "--n", str(N), "--model", "local/gemma-3-270m"])
    out = capsys.readouterr().out
    assert code == 0, out
    [job] = store.jobs.list_jobs(kind=KIND)
    assert job["status"] == "done" and job["failed_units"] == 0
    assert job["params"]["template"]["name"] == "gemma"  # detected from the GGUF
    samples = store.samples.job_samples(job["id"])
    assert len(samples) == N == len(store.samples.list_samples(source="magpie", include_filtered=True))
    for sample in samples:
        assert sample["model"] == "local/gemma-3-270m"
        assert len(sample["metadata"]["primer"]) == 3
        assert sample["instruction"].strip() and "\n" not in sample["instruction"]
        # real per-token entropy from the full next-token distribution, of the kept tokens only
        assert sample["entropy_source"] == "full next-token distribution"
        metrics = store.metrics.get_metrics("sample", sample["id"])
        assert 0 < metrics["query_entropy_mean"] < BASE_MODEL_ENTROPY_CUT
    assert f"job {job['id']} done" in out
