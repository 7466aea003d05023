"""An OpenAI-compatible loopback server for tests and benchmarks, run in its own process.

    from benchmarks.loopback_server import serve, stats

    with serve(latency_s=0.1, failure_rate=0.3) as base_url:   # "http://127.0.0.1:PORT/v1"
        ...  # TeacherConfig(model="openai/any", api_base=base_url, extra={"api_key": "x"})
        print(stats(base_url))   # {"requests", "ok", "429", "500", "timeout", "max_in_flight"}

It answers POST /v1/chat/completions and /v1/completions after a fixed latency with a reply of
random words (different every call, so evolution sees new information), and fails the configured
share of calls with a 429, a 500, or a hang longer than any sane client timeout. GET /stats counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

FAILURE_KINDS = ("429", "500", "timeout")
WORDS = (
    "river orbit lantern copper meadow quartz violin harbor cactus glacier falcon saffron prism tunnel "
    "marble compass thunder velvet anchor ember willow canyon beacon walnut cobalt pebble summit ferry "
    "jasmine hollow nectar granite meteor ribbon lagoon cedar parrot lever sundial mosaic tundra kettle "
    "ledger plume quiver raven sextant tangle umbra vessel whistle yarrow zephyr bramble cinder dapple "
    "estuary fjord gossamer heron inkwell juniper kestrel loom mantle nimbus oxbow pylon quarry rampart "
    "spindle trellis upland vortex wicket basalt citadel dynamo eyrie flint garnet hamlet isthmus jetty"
).split()


def reply_text(rng: random.Random, n_words: int) -> str:
    """A sentence of random words: 'Consider the ... .' (no refusal, no template words)."""
    return "Consider the " + " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


class Loopback:
    """The server's state: its settings and what it has counted."""

    def __init__(self, latency_s: float, failure_rate: float, failures: tuple[str, ...], hang_s: float,
                 seed: int, reply_words: int) -> None:
        self.latency_s = latency_s
        self.failure_rate = failure_rate
        self.failures = failures
        self.hang_s = hang_s
        self.rng = random.Random(seed)
        self.reply_words = reply_words
        self.counts: Counter[str] = Counter()
        self.in_flight = 0

    def _usage(self, prompt: str, text: str) -> dict:
        prompt_tokens, completion_tokens = len(prompt.split()), len(text.split())
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    async def handle(self, request: web.Request) -> web.Response:
        """Count the request and the most requests ever in flight at once, then answer it."""
        self.in_flight += 1
        self.counts["max_in_flight"] = max(self.counts["max_in_flight"], self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.counts["requests"] += 1
        if self.failure_rate and self.rng.random() < self.failure_rate:
            kind = self.rng.choice(self.failures)
            self.counts[kind] += 1
            if kind == "timeout":
                await asyncio.sleep(self.hang_s)
                return web.json_response({"error": {"message": "too late"}}, status=504)
            await asyncio.sleep(self.latency_s)
            message = "rate limited" if kind == "429" else "internal error"
            return web.json_response({"error": {"message": message, "type": kind}}, status=int(kind))
        await asyncio.sleep(self.latency_s)
        self.counts["ok"] += 1
        text = reply_text(self.rng, self.reply_words)
        model = body.get("model", "loopback")
        created = int(time.time())
        if request.path.endswith("/chat/completions"):
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            payload = {"id": f"chatcmpl-{self.counts['requests']}", "object": "chat.completion", "created": created,
                       "model": model, "choices": [choice], "usage": self._usage(prompt, text)}
        else:
            prompt = body.get("prompt", "")
            prompt = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
            payload = {"id": f"cmpl-{self.counts['requests']}", "object": "text_completion", "created": created,
                       "model": model, "choices": [choice], "usage": self._usage(prompt, text)}
        return web.json_response(payload)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": 0, "ok": 0, **{k: 0 for k in self.failures}, **self.counts})

    async def reset(self, request: web.Request) -> web.Response:
        self.counts.clear()
        self.counts["max_in_flight"] = self.in_flight
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.handle)
        app.router.add_post("/v1/completions", self.handle)
        app.router.add_post("/chat/completions", self.handle)
        app.router.add_post("/completions", self.handle)
        app.router.add_get("/stats", self.stats)
        app.router.add_post("/reset", self.reset)
        return app


async def _main(args: argparse.Namespace) -> None:
    server = Loopback(args.latency, args.failure_rate, tuple(args.failures.split(",")), args.hang,
                      args.seed, args.reply_words)
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    await asyncio.Event().wait()


def _root(base_url: str) -> str:
    return base_url.removesuffix("/v1")


def stats(base_url: str) -> dict[str, int]:
    """What the server has counted: requests, ok, and each failure kind."""
    with urllib.request.urlopen(f"{_root(base_url)}/stats", timeout=10) as response:
        return json.loads(response.read())


def reset_stats(base_url: str) -> None:
    request = urllib.request.Request(f"{_root(base_url)}/reset", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


@contextmanager
def serve(
    latency_s: float = 0.1,
    failure_rate: float = 0.0,
    failures: tuple[str, ...] = FAILURE_KINDS,
    hang_s: float = 60.0,
    seed: int = 0,
    reply_words: int = 20,
) -> Iterator[str]:
    """Run a loopback server in its own process; yields its OpenAI base URL (`http://127.0.0.1:PORT/v1`)."""
    unknown = set(failures) - set(FAILURE_KINDS)
    if unknown:
        raise ValueError(f"unknown failure kinds {sorted(unknown)}; use {FAILURE_KINDS}")
    command = [
        sys.executable, "-m", "benchmarks.loopback_server", "--port", "0", "--latency", str(latency_s),
        "--failure-rate", str(failure_rate), "--failures", ",".join(failures), "--hang", str(hang_s),
        "--seed", str(seed), "--reply-words", str(reply_words),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"loopback server did not start (exit code {process.poll()}): {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each reply")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of calls that fail (0-1)")
    parser.add_argument("--failures", default=",".join(FAILURE_KINDS), help="failure kinds: 429,500,timeout")
    parser.add_argument("--hang", type=float, default=60.0, help="seconds a 'timeout' failure hangs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reply-words", type=int, default=20)
    try:
        asyncio.run(_main(parser.parse_args(argv)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
