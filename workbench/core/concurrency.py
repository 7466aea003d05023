"""Adaptive concurrency: how many model calls may be in flight, learned from the provider's rate-limit answers.

AIMD (additive increase, multiplicative decrease, as in TCP congestion control; NeMo Data Designer's
native model client throttles the same way): a rate-limit answer (HTTP 429) halves the limit, and each
run of `limit` successful calls raises it by one, back up to the ceiling the user set. Only the first
429 of a burst halves: calls that were already in flight when the limit last fell say nothing new about
it. A `Retry-After` from the provider holds every new call until that moment.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import deque
from typing import Any

MAX_RETRY_AFTER_S = 600.0


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (`retry-after-ms`, or `Retry-After` in seconds or as an HTTP
    date) from an openai/litellm exception's response headers; None when it named no time."""
    headers: Any = getattr(getattr(exc, "response", None), "headers", None) or getattr(
        exc, "litellm_response_headers", None
    )
    if not headers:
        return None
    try:
        if (value := headers.get("retry-after-ms")) is not None:
            return min(MAX_RETRY_AFTER_S, max(0.0, float(value) / 1000))
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return min(MAX_RETRY_AFTER_S, max(0.0, float(value)))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return min(MAX_RETRY_AFTER_S, max(0.0, when.timestamp() - time.time()))
    except (TypeError, ValueError, AttributeError):
        return None


class AdaptiveLimit:
    """A semaphore whose size follows the provider: `ceiling` at most, `floor` at least.

    Use as `token = await limit.acquire()` ... `limit.release(token, outcome)` with outcome one of
    "ok", "rate_limited" (optionally with `retry_after` seconds) or "error" (neither grows nor shrinks).
    Bound to the event loop it is first used in.
    """

    def __init__(self, ceiling: int, floor: int = 1) -> None:
        self.ceiling = max(1, ceiling)
        self.floor = max(1, min(floor, self.ceiling))
        self.limit = self.ceiling
        self.in_flight = 0
        self.generation = 0  # bumped at each decrease; a call remembers the generation it started in
        self.successes = 0
        self.hold_until = 0.0  # monotonic time before which no new call starts (Retry-After)
        self.rate_limited = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a free slot (first come, first served); returns the token to hand back to `release`."""
        while True:
            hold = self.hold_until - time.monotonic()
            if hold > 0:
                await asyncio.sleep(hold)
                continue
            if self.in_flight < self.limit and not self._waiters:
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # this call was handed a slot it will not use: pass it on
                raise
            finally:
                self._waiters.remove(waiter)
            if self.in_flight < self.limit and time.monotonic() >= self.hold_until:
                break
        self.in_flight += 1
        return self.generation

    def release(self, token: int, outcome: str = "ok", retry_after: float | None = None) -> None:
        """Hand a slot back, telling how the call went."""
        self.in_flight -= 1
        if outcome == "ok":
            self.successes += 1
            if self.successes >= self.limit and self.limit < self.ceiling:
                self.limit += 1
                self.successes = 0
        elif outcome == "rate_limited":
            self.rate_limited += 1
            if token == self.generation:  # the first 429 since the last decrease
                self.limit = max(self.floor, self.limit // 2)
                self.generation += 1
                self.successes = 0
            if retry_after:
                self.hold_until = max(self.hold_until, time.monotonic() + retry_after)
        self._wake()

    def _wake(self) -> None:
        """Wake as many waiting calls, oldest first, as there are free slots (counting those already woken)."""
        free = self.limit - self.in_flight
        for waiter in self._waiters:
            if free <= 0:
                break
            if not waiter.done():
                waiter.set_result(None)
            free -= 1
