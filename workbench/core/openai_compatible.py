"""The lean per-call path: OpenAI-compatible `/chat/completions` and `/completions` over one aiohttp session.

A self-hosted OpenAI-compatible server (vLLM, llama.cpp's server, SGLang, a loopback test server) speaks
one small JSON protocol. litellm spends about 4.8 ms of CPU per call on it here, the `openai` SDK
1.0-1.6 ms (with its aiohttp transport; 12 ms with its default httpx pool), a plain aiohttp POST 0.33 ms
(benchmarks/orchestration.py, issue 15). The Teacher uses this client for such servers and litellm for
every other provider, for prices and for the Router.

Errors are raised as the `openai` package's exception classes (litellm's own exceptions subclass them), so
the Teacher retries and explains both paths alike.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import httpx
import openai

STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


def status_error(status: int, body: bytes, headers: dict[str, str], url: str) -> openai.APIStatusError:
    """The openai SDK's exception for an HTTP error answer (the SDK's own status mapping), message from the body."""
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = body.decode("utf-8", errors="replace")[:500]
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else (error or payload or f"HTTP {status}")
    response = httpx.Response(status, headers=headers, content=body, request=httpx.Request("POST", url))
    kind = STATUS_ERRORS.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return kind(f"Error code: {status} - {message}", response=response, body=payload)


class OpenAICompatibleClient:
    """POSTs request bodies to one OpenAI-compatible base URL and returns the decoded JSON answer.

    One aiohttp session per event loop (the Teacher is used from several loops: the worker's, and
    `asyncio.run` in its sync helpers); each session is closed when its loop shuts down.
    """

    def __init__(self, api_base: str, api_key: str | None, timeout_s: float) -> None:
        self.api_base = api_base.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sessions: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession, Any]] = {}

    async def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(id(loop))
        if entry is not None and entry[0] is loop:
            return entry[1]
        for key, (old_loop, _, _) in list(self._sessions.items()):
            if old_loop.is_closed():
                del self._sessions[key]
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),  # the Teacher's limiter caps the calls in flight
            timeout=self.timeout,
            headers=self.headers,
        )
        keeper = _close_at_loop_shutdown(session)
        await keeper.__anext__()  # registered with the loop: asyncio.run's shutdown_asyncgens closes it
        self._sessions[id(loop)] = (loop, session, keeper)
        return session

    async def post(self, path: str, body: dict) -> dict:
        """POST `body` to `{api_base}{path}`; the JSON answer, or an openai exception for a failed call."""
        url = f"{self.api_base}{path}"
        session = await self._session()
        try:
            async with session.post(url, data=json.dumps(body)) as response:
                content = await response.read()
                if response.status >= 400:
                    raise status_error(response.status, content, dict(response.headers), url)
        except TimeoutError as exc:
            raise openai.APITimeoutError(request=httpx.Request("POST", url)) from exc
        except aiohttp.ClientError as exc:
            raise openai.APIConnectionError(message=f"Connection error: {exc}", request=httpx.Request("POST", url)) from exc
        try:
            return json.loads(content)
        except ValueError as exc:
            raise openai.APIConnectionError(
                message=f"the server answered with something that is not JSON: {content[:200]!r}",
                request=httpx.Request("POST", url),
            ) from exc

    async def aclose(self) -> None:
        """Close this loop's session now (it is otherwise closed when the loop shuts down)."""
        entry = self._sessions.pop(id(asyncio.get_running_loop()), None)
        if entry is not None:
            await entry[2].aclose()


async def _close_at_loop_shutdown(session: aiohttp.ClientSession):  # noqa: ANN202 - an async generator
    """Yields once; its `finally` closes the session when the loop's async generators are shut down."""
    try:
        yield
    finally:
        await session.close()
