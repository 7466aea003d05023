"""Adaptive concurrency: fewer calls in flight under rate limits, recovering gradually; Retry-After honoured."""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx
import openai
import pytest

from benchmarks.loopback_server import configure, reset_stats, serve, stats
from workbench.core.concurrency import AdaptiveLimit, retry_after_seconds
from workbench.core.teacher import Teacher, TeacherConfig, TeacherError


def rate_limit_error(headers: dict[str, str]) -> openai.RateLimitError:
    response = httpx.Response(429, headers=headers, request=httpx.Request("POST", "http://h/v1/chat/completions"))
    return openai.RateLimitError("rate limited", response=response, body=None)


def test_retry_after_is_read_in_seconds_milliseconds_or_as_a_date():
    assert retry_after_seconds(rate_limit_error({"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(rate_limit_error({"retry-after-ms": "1500", "Retry-After": "9"})) == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(rate_limit_error({"Retry-After": later})) <= 30
    assert retry_after_seconds(rate_limit_error({})) is None
    assert retry_after_seconds(rate_limit_error({"Retry-After": "soon"})) is None
    assert retry_after_seconds(ValueError("no response at all")) is None


def test_a_burst_of_429s_halves_the_limit_once_and_successes_win_it_back():
    async def scenario() -> list[int]:
        limit = AdaptiveLimit(16)
        seen = []
        tokens = [await limit.acquire() for _ in range(16)]
        for token in tokens[:8]:  # eight calls of the same burst answered 429: one decrease
            limit.release(token, "rate_limited")
        seen.append(limit.limit)
        for token in tokens[8:]:
            limit.release(token, "ok")
        token = await limit.acquire()
        limit.release(token, "rate_limited")  # a call started after the decrease: a new signal
        seen.append(limit.limit)
        for _ in range(200):
            token = await limit.acquire()
            limit.release(token, "ok")
        seen.append(limit.limit)
        for _ in range(10):
            token = await limit.acquire()
            limit.release(token, "rate_limited")
        seen.append(limit.limit)
        return seen

    assert asyncio.run(scenario()) == [8, 4, 16, 1]  # halved, halved, recovered to the ceiling, floor of 1


def test_retry_after_holds_new_calls_until_then():
    async def scenario() -> tuple[float, float, int]:
        limit = AdaptiveLimit(4)
        token = await limit.acquire()
        before = time.monotonic()
        limit.release(token, "rate_limited", retry_after=0.2)
        await limit.acquire()  # waits out the hold
        return limit.hold_until - before, time.monotonic() - limit.hold_until, limit.in_flight

    held_for, acquired_after_hold, in_flight = asyncio.run(scenario())
    assert held_for >= 0.2 and acquired_after_hold >= 0 and in_flight == 1


def test_in_flight_calls_fall_under_sustained_429s_and_recover():
    with serve(latency_s=0.02, failure_rate=1.0, failures=("429",)) as url:
        teacher = Teacher(TeacherConfig(model="openai/loopback", api_base=url, extra={"api_key": "x"}, concurrency=32,
                                        max_retries=10_000, backoff_base_s=0.005))

        async def run() -> list:
            calls = asyncio.gather(*(teacher.achat([{"role": "user", "content": f"q{i}"}]) for i in range(64)))

            async def watch() -> dict:
                while stats(url)["429"] < 150:  # the first wave filled every slot; the limit has been falling since
                    await asyncio.sleep(0.02)
                first = stats(url)
                reset_stats(url)  # from here on, count the most calls in flight afresh
                while stats(url)["429"] < 200:  # sustained 429s
                    await asyncio.sleep(0.02)
                sustained = stats(url)
                configure(url, failure_rate=0.0)  # the provider recovers
                return {"first": first, "sustained": sustained, "limit_under_429s": teacher.limit.limit}

            watched, generations = await asyncio.gather(watch(), calls)
            return [watched, generations, teacher.limit.limit]

        watched, generations, limit_after = asyncio.run(run())
    assert watched["first"]["max_in_flight"] == 32
    assert watched["sustained"]["max_in_flight"] <= 2  # the limit fell to its floor and stayed there
    assert watched["limit_under_429s"] == 1
    assert len(generations) == 64 and all(g.text for g in generations)
    assert limit_after > 1  # successes have begun to win the slots back


@pytest.mark.parametrize("client", ["auto", "litellm"])
def test_both_paths_honour_retry_after(client: str):
    with serve(latency_s=0.0, failure_rate=1.0, failures=("429",), retry_after_s=0.3) as url:
        teacher = Teacher(TeacherConfig(model="openai/loopback", api_base=url, extra={"api_key": "x"}, max_retries=1,
                                        backoff_base_s=0.001, client=client))
        with pytest.raises(TeacherError, match="rate limited"):
            teacher.chat([{"role": "user", "content": "hi"}])
        assert stats(url)["429"] == 2
    assert teacher.usage["backoff_s"] == pytest.approx(0.3)  # the retry waited what the server asked, not 1 ms
