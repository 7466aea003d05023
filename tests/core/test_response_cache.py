"""The response cache: identical calls are never paid twice; a new sample is never answered from it."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.loopback_server import serve, stats
from tests.evolve.test_evol_job import add_seeds, loopback_teacher, run
from workbench.cli import main as cli
from workbench.core.jobs import queue
from workbench.core.response_cache import ACTIVE, ResponseCache, sample_scope
from workbench.core.teacher import Teacher, TeacherConfig
from workbench.evolve.job import EvolveParams, submit_evolve
from workbench.store import Store


def node_texts(store: Store, job_id: int) -> dict[str, tuple[str, str, str]]:
    return {n["node_key"]: (n["status"], n["instruction"], n["answer"]) for n in store.evolve.evol_nodes(job_id)}


def test_a_rerun_of_a_finished_job_makes_no_calls_and_gives_the_same_data(store: Store, db_path):
    seeds = add_seeds(store, 4)
    with serve(latency_s=0.0) as url:
        first = submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "deepen"], depth=2,
                                                  teacher=loopback_teacher(url)))
        run(db_path)
        paid = stats(url)["requests"]
        second = queue.rerun(store, first)
        run(db_path)
        assert stats(url)["requests"] == paid  # not one call more
    before, after = store.jobs.get_job(first), store.jobs.get_job(second)
    assert (before["model_calls"], before["cache_hits"]) == (paid, 0) and paid == 16  # 4 seeds x 2 nodes x 2 calls
    assert (after["status"], after["model_calls"], after["cache_hits"]) == ("done", 0, paid)
    assert after["prompt_tokens"] == after["completion_tokens"] == 0 and before["prompt_tokens"] > 0  # nothing paid
    assert node_texts(store, second) == node_texts(store, first)
    assert len(store.samples.list_samples(source="evol")) == 16  # the rerun wrote its own samples, same texts


def test_bypassing_the_cache_sends_every_call_again(store: Store, db_path):
    seeds = add_seeds(store, 2)
    with serve(latency_s=0.0) as url:
        first = submit_evolve(store, EvolveParams(seeds=seeds, operators=["deepen"], depth=1,
                                                  teacher=loopback_teacher(url)))
        run(db_path)
        second = queue.rerun(store, first, bypass_cache=True)
        run(db_path)
        assert stats(url)["requests"] == 8
        third = queue.rerun(store, first)
        run(db_path)
        assert stats(url)["requests"] == 8
    assert store.jobs.get_job(second)["params"]["bypass_cache"] is True
    assert (store.jobs.get_job(second)["model_calls"], store.jobs.get_job(second)["cache_hits"]) == (4, 0)
    assert node_texts(store, second) != node_texts(store, first)  # fresh samples from the server
    assert node_texts(store, third) == node_texts(store, second)  # ... which refreshed the cache


def test_a_new_sample_at_temperature_above_zero_is_never_answered_from_the_cache(store: Store, db_path):
    seeds = add_seeds(store, 2)
    with serve(latency_s=0.0) as url:
        # one operator, fixed schedule: the two children of a node get the very same prompt at temperature 0.8
        params = dict(seeds=seeds, operators=["deepen"], schedule="fixed", branching=2, teacher=loopback_teacher(url))
        shallow = submit_evolve(store, EvolveParams(depth=1, **params))
        run(db_path)
        assert stats(url)["requests"] == 2 * 2 * 2  # seeds x children x (evolution + answer)
        deeper = submit_evolve(store, EvolveParams(depth=2, **params))
        run(db_path)
        served = stats(url)["requests"]
    texts = node_texts(store, shallow)
    assert len({instruction for _, instruction, _ in texts.values()}) == 4  # siblings differ: separate samples
    assert served == 8 + 2 * 4 * 2  # the deeper job paid only for its 8 new depth-2 nodes
    assert store.jobs.get_job(deeper)["cache_hits"] == 8
    assert {k: v for k, v in node_texts(store, deeper).items() if k in texts} == texts


def test_only_reproducible_calls_are_cached(db_path):
    Store(db_path).close()
    with serve(latency_s=0.0) as url:
        teacher = Teacher(TeacherConfig(model="openai/loopback", api_base=url, extra={"api_key": "x"}))
        ask = [{"role": "user", "content": "Name a colour."}]

        async def calls() -> list:
            cache = ResponseCache(db_path, None)
            ACTIVE.set(cache)
            answers = [await teacher.achat(ask, temperature=0.0), await teacher.achat(ask, temperature=0.0),  # greedy
                       await teacher.achat(ask, temperature=0.9), await teacher.achat(ask, temperature=0.9),  # fresh
                       await teacher.achat(ask, temperature=0.9, seed=4), await teacher.achat(ask, temperature=0.9, seed=4)]
            with sample_scope("a"):
                answers += [await teacher.achat(ask, temperature=0.9), await teacher.achat(ask, temperature=0.9)]
            answers.append(await teacher.achat(ask, temperature=0.9, sample_index="b"))
            cache.close()
            return answers

        answers = asyncio.run(calls())
        served = stats(url)["requests"]
    texts = [a.text for a in answers]
    assert served == 6  # 1 greedy + 2 fresh + 1 seeded + 1 sample a + 1 sample b
    assert texts[0] == texts[1] and texts[4] == texts[5] and texts[6] == texts[7]
    assert texts[2] != texts[3] and texts[8] != texts[6]
    assert [a.cached for a in answers] == [False, True, False, False, False, True, False, True, False]
    assert answers[1].cost == 0.0 and answers[1].token_entropies == answers[0].token_entropies  # entropy kept


def test_rerun_refuses_an_unfinished_job_and_the_cli_reports_hits(store: Store, db_path, capsys):
    seeds = add_seeds(store, 1)
    with serve(latency_s=0.0) as url:
        job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["deepen"], depth=1,
                                                   teacher=loopback_teacher(url)))
        with pytest.raises(ValueError, match="only a finished job"):
            queue.rerun(store, job_id)
        run(db_path)
        assert cli(["--db", str(db_path), "jobs", "rerun", str(job_id)]) == 0
        run(db_path)
    assert "queued again from job 1 (repeated calls from the response cache)" in capsys.readouterr().out
    assert cli(["--db", str(db_path), "jobs", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "0 model calls, 2 from the cache" in listed[0] and "2 model calls, 0 from the cache" in listed[1]
    assert cli(["--db", str(db_path), "cache"]) == 0
    assert "2 responses" in capsys.readouterr().out
    assert cli(["--db", str(db_path), "cache", "--clear"]) == 0
    assert "forgot 2 cached responses" in capsys.readouterr().out
    assert cli(["--db", str(db_path), "jobs", "rerun", "99"]) == 2
