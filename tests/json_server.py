"""A loopback HTTP server for tests that need an OpenAI-compatible backend with scripted replies."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class JsonServer:
    url: str
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)  # each request's HTTP headers, in order


@contextmanager
def json_server(reply: Callable[[dict], dict | tuple[int, dict]]) -> Iterator[JsonServer]:
    """Answer every POST with `reply(request body)` as JSON (a `(status, body)` pair sets the HTTP status);
    yields the base URL (`.../v1`), the requests and their headers."""
    lock = threading.Lock()
    requests: list[dict] = []
    headers: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                requests.append(body)
                headers.append(dict(self.headers))
                answer = reply(body)
            status, answer = answer if isinstance(answer, tuple) else (200, answer)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield JsonServer(f"http://127.0.0.1:{httpd.server_address[1]}/v1", requests, headers)
    finally:
        httpd.shutdown()
        httpd.server_close()
