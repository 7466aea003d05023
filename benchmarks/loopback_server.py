"""An OpenAI-compatible loopback server for tests and benchmarks, run in its own process.

    from benchmarks.loopback_server import serve, stats

    with serve(latency_s=0.1, failure_rate=0.3) as base_url:   # "http://127.0.0.1:PORT/v1"
        ...  # TeacherConfig(model="openai/any", api_base=base_url, extra={"api_key": "x"})
        print(stats(base_url))   # {"requests", "ok", "429", "500", "timeout", "400", "in_flight", "max_in_flight"}
        configure(base_url, failure_rate=1.0, failures=["429"])   # change the failures while it runs
        configure(base_url, script=[{"contains": "Problem 3:", "replies": ["Answer: 7", "Answer: 8"]}])

It answers POST /v1/chat/completions and /v1/completions after a fixed latency with a reply of
random words (different every call, so evolution sees new information), with token log-probabilities
(the top 5 alternatives per token) when the request asks for them, as OpenAI-compatible servers do,
and fails the configured share of calls with a 429 (with a `Retry-After` header when `retry_after_s`
is set), a 500, or a hang longer than any sane client timeout. With `refuse_logprobs` it answers a
request for log-probabilities with a 400, as some servers do. GET /stats counts.

A *script* makes it a scripted model: a list of rules {"contains": text, "replies": [...]}; a request whose prompt
(the messages' contents joined, or the raw prompt) contains a rule's text gets that rule's replies in turn (the n-th
matching request the n-th reply, cycling), the first matching rule deciding; other requests get random words.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
                 seed: int, reply_words: int, retry_after_s: float | None = None, refuse_logprobs: bool = False) -> None:
        self.latency_s = latency_s
        self.failure_rate = failure_rate
        self.failures = failures
        self.hang_s = hang_s
        self.rng = random.Random(seed)
        self.reply_words = reply_words
        self.retry_after_s = retry_after_s
        self.refuse_logprobs = refuse_logprobs
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.script: list[dict] = []
        self.script_turns: Counter[int] = Counter()

    def _reply(self, prompt: str) -> str:
        """The scripted reply for this prompt (the matching rule's next one), else random words."""
        for number, rule in enumerate(self.script):
            if rule["contains"] in prompt:
                turn = self.script_turns[number]
                self.script_turns[number] += 1
                return rule["replies"][turn % len(rule["replies"])]
        return reply_text(self.rng, self.reply_words)

    def _logprobs(self, text: str, chat: bool, top: int) -> dict:
        """Log-probabilities of each word of the reply with `top` alternatives, in the chat or legacy format."""
        tokens = [word + " " for word in text.split(" ")]
        tops = []
        for _ in tokens:
            probabilities = [self.rng.uniform(0.05, 1.0) for _ in range(top)]
            scale = sum(probabilities) / self.rng.uniform(0.7, 1.0)
            tops.append([math.log(p / scale) for p in sorted(probabilities, reverse=True)])
        if chat:
            return {"content": [
                {"token": token, "logprob": values[0],
                 "top_logprobs": [{"token": token if i == 0 else f"alt{i}", "logprob": v} for i, v in enumerate(values)]}
                for token, values in zip(tokens, tops, strict=True)
            ]}
        return {"tokens": tokens, "token_logprobs": [values[0] for values in tops],
                "top_logprobs": [{token if i == 0 else f"alt{i}": v for i, v in enumerate(values)}
                                 for token, values in zip(tokens, tops, strict=True)]}

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
        chat = request.path.endswith("/chat/completions")
        asked = body.get("logprobs")
        if asked and self.refuse_logprobs:
            self.counts["400"] += 1
            return web.json_response({"error": {"message": "logprobs are not supported by this server"}}, status=400)
        if self.failure_rate and self.rng.random() < self.failure_rate:
            kind = self.rng.choice(self.failures)
            self.counts[kind] += 1
            if kind == "timeout":
                await asyncio.sleep(self.hang_s)
                return web.json_response({"error": {"message": "too late"}}, status=504)
            await asyncio.sleep(self.latency_s)
            message = "rate limited" if kind == "429" else "internal error"
            headers = {"Retry-After": str(self.retry_after_s)} if kind == "429" and self.retry_after_s else None
            return web.json_response({"error": {"message": message, "type": kind}}, status=int(kind), headers=headers)
        await asyncio.sleep(self.latency_s)
        self.counts["ok"] += 1
        if chat:
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        else:
            prompt = body.get("prompt", "")
            prompt = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
        text = self._reply(prompt)
        model = body.get("model", "loopback")
        created = int(time.time())
        if chat:
            logprobs = self._logprobs(text, True, int(body.get("top_logprobs") or 1)) if asked else None
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": logprobs,
                      "finish_reason": "stop"}
            payload = {"id": f"chatcmpl-{self.counts['requests']}", "object": "chat.completion", "created": created,
                       "model": model, "choices": [choice], "usage": self._usage(prompt, text)}
        else:
            logprobs = self._logprobs(text, False, int(asked)) if asked else None
            choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": "stop"}
            payload = {"id": f"cmpl-{self.counts['requests']}", "object": "text_completion", "created": created,
                       "model": model, "choices": [choice], "usage": self._usage(prompt, text)}
        return web.json_response(payload)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": 0, "ok": 0, **{k: 0 for k in FAILURE_KINDS}, "400": 0, **self.counts,
                                  "in_flight": self.in_flight})

    async def reset(self, request: web.Request) -> web.Response:
        self.counts.clear()
        self.counts["max_in_flight"] = self.in_flight
        return web.json_response({"ok": True})

    async def configure(self, request: web.Request) -> web.Response:
        """Change the failure rate, kinds or Retry-After while the server runs."""
        body = await request.json()
        self.failure_rate = float(body.get("failure_rate", self.failure_rate))
        self.failures = tuple(body.get("failures", self.failures))
        self.retry_after_s = body.get("retry_after_s", self.retry_after_s)
        if "script" in body:
            self.script = list(body["script"])
            self.script_turns.clear()
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.handle)
        app.router.add_post("/v1/completions", self.handle)
        app.router.add_post("/chat/completions", self.handle)
        app.router.add_post("/completions", self.handle)
        app.router.add_get("/stats", self.stats)
        app.router.add_post("/reset", self.reset)
        app.router.add_post("/configure", self.configure)
        return app


async def _main(args: argparse.Namespace) -> None:
    server = Loopback(args.latency, args.failure_rate, tuple(args.failures.split(",")), args.hang,
                      args.seed, args.reply_words, args.retry_after, args.refuse_logprobs)
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
    _post(base_url, "/reset", {})


def configure(base_url: str, **settings: object) -> None:
    """Change `failure_rate`, `failures`, `retry_after_s` or the `script` (see the module doc) of a running server."""
    unknown = set(settings) - {"failure_rate", "failures", "retry_after_s", "script"}
    if unknown:
        raise ValueError(f"cannot configure {sorted(unknown)}")
    _post(base_url, "/configure", settings)


def _post(base_url: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{_root(base_url)}{path}", data=json.dumps(body).encode(), method="POST")
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
    retry_after_s: float | None = None,
    refuse_logprobs: bool = False,
) -> Iterator[str]:
    """Run a loopback server in its own process; yields its OpenAI base URL (`http://127.0.0.1:PORT/v1`)."""
    unknown = set(failures) - set(FAILURE_KINDS)
    if unknown:
        raise ValueError(f"unknown failure kinds {sorted(unknown)}; use {FAILURE_KINDS}")
    command = [
        sys.executable, "-m", "benchmarks.loopback_server", "--port", "0", "--latency", str(latency_s),
        "--failure-rate", str(failure_rate), "--failures", ",".join(failures), "--hang", str(hang_s),
        "--seed", str(seed), "--reply-words", str(reply_words),
        *(["--retry-after", str(retry_after_s)] if retry_after_s else []),
        *(["--refuse-logprobs"] if refuse_logprobs else []),
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
    parser.add_argument("--retry-after", type=float, help="seconds in the Retry-After header of a 429")
    parser.add_argument("--refuse-logprobs", action="store_true", help="answer requests for logprobs with a 400")
    try:
        asyncio.run(_main(parser.parse_args(argv)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
