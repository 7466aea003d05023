"""The response cache: a model call identical in everything that decides its answer is never paid twice.

The key hashes the model, where it is served (API base or Router config), the endpoint (chat or raw
completion), the messages or prompt, every generation parameter and the *sample index*: which sample of
that distribution the call asks for. Only reproducible calls are cached: temperature 0, a `seed`, or a
caller-named sample (`sample_scope`, e.g. the evolve job's node key). So asking for a new sample at
temperature > 0 gets a new index and is never answered from the cache, while a rerun of a finished job
with the same parameters, or a unit rerun after a kill, asks for the same samples and is served from it
(curator's cache works alike).

The job runner makes one cache per job active (`ACTIVE`) for the Teachers its handler calls; it counts
the job's calls and hits, buffers new entries and writes both to the store once per heartbeat.
`bypass=True` (the job's `bypass_cache` param) sends every call to the model and refreshes the entries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from workbench.core.shared_store import SharedStore

ACTIVE: ContextVar[ResponseCache | None] = ContextVar("workbench_response_cache", default=None)
SAMPLE: ContextVar[str | None] = ContextVar("workbench_sample_index", default=None)
SECRET_PARAMS = ("api_key",)


@contextmanager
def sample_scope(sample_index: str) -> Iterator[None]:
    """Calls made inside this block ask for sample `sample_index` (a stable name for that sample in its job)."""
    token = SAMPLE.set(sample_index)
    try:
        yield
    finally:
        SAMPLE.reset(token)


def is_reproducible(params: dict, sample_index: str | None) -> bool:
    """Whether a call can be answered from the cache: greedy decoding, a seed, or a named sample."""
    return sample_index is not None or params.get("seed") is not None or params.get("temperature") == 0


def request_key(model: str, endpoint: str | None, kind: str, request: Any, params: dict, sample_index: str | None) -> str:
    """SHA-256 of the canonical JSON of what decides a call's answer (secrets left out)."""
    material = {
        "model": model,
        "endpoint": endpoint,
        "kind": kind,
        "request": request,
        "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS},
        "sample": sample_index,
    }
    text = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """One job's view of the store's response cache, with its call and hit counts.

    `get` reads through its own store connection; `put` and the counts are buffered and written by
    `flush` (the job runner calls it once per heartbeat and at the end), so a kill -9 loses at most the
    entries of the last second, which are then paid again, never answered wrongly.
    """

    def __init__(self, db_path: str | Path, job_id: int | None, bypass: bool = False) -> None:
        self.store = SharedStore(db_path)
        self.job_id = job_id
        self.bypass = bypass
        self.pending: dict[str, tuple[str, str]] = {}
        self.calls = 0
        self.hits = 0

    def get(self, key: str) -> dict | None:
        """The stored answer for `key` (counted as a hit), or None (bypassed, or never stored)."""
        if self.bypass:
            return None
        found = self.pending.get(key)
        text = found[1] if found else self.store.response_cache.cached_response(key)
        if text is None:
            return None
        self.hits += 1
        return json.loads(text)

    def put(self, key: str, model: str, answer: dict) -> None:
        self.pending[key] = (model, json.dumps(answer, ensure_ascii=False))

    def count_call(self) -> None:
        """One call sent to the model (and paid); a call answered from the cache is a hit instead."""
        self.calls += 1

    def flush(self) -> None:
        """Write the buffered entries and add the counts to the job, in one transaction."""
        if not (self.pending or self.calls or self.hits):
            return
        rows = [(key, model, text) for key, (model, text) in self.pending.items()]
        self.store.response_cache.save_cached_responses(rows, self.job_id, self.calls, self.hits)
        self.pending.clear()
        self.calls = self.hits = 0

    def close(self) -> None:
        self.flush()
        self.store.close()
