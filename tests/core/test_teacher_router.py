"""Scaling out: one teacher spread over several OpenAI-compatible servers through a litellm Router config."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.loopback_server import serve, stats
from workbench.core.teacher import Teacher, TeacherConfig, TeacherError


def router_file(tmp_path, urls: list[str]):
    entries = "".join(
        f"  - model_name: pool\n    litellm_params:\n      model: openai/loopback\n      api_base: {url}\n"
        f"      api_key: x\n"
        for url in urls
    )
    path = tmp_path / "router.yaml"
    path.write_text("model_list:\n" + entries)
    return path


def test_calls_spread_over_every_server(tmp_path):
    with serve(latency_s=0.02) as first, serve(latency_s=0.02) as second:
        teacher = Teacher(TeacherConfig(model="pool", router_config=str(router_file(tmp_path, [first, second])),
                                        concurrency=8, max_retries=0))

        async def many() -> list:
            return await asyncio.gather(*(teacher.achat([{"role": "user", "content": f"q{i}"}]) for i in range(30)))

        generations = asyncio.run(many())
        served = [stats(first)["requests"], stats(second)["requests"]]
    assert all(g.text for g in generations)
    assert sum(served) == 30 and min(served) > 0


def test_a_bad_router_config_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("general_settings: {}\n")
    with pytest.raises(TeacherError, match="has no model_list"):
        Teacher(TeacherConfig(model="pool", router_config=str(empty)))
    with pytest.raises(TeacherError, match="cannot read the router config"):
        Teacher(TeacherConfig(model="pool", router_config=str(tmp_path / "absent.yaml")))
