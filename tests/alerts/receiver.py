"""A real local HTTP receiver for alert deliveries: a threaded http.server that records every
request and answers with a status the test sets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Received:
    path: str
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """Fields of a urlencoded or multipart form body."""
        if self.content_type.startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}
        boundary = self.content_type.split("boundary=", 1)[1].strip('"').encode()
        fields: dict[str, str] = {}
        for part in self.body.split(b"--" + boundary):
            head, _, value = part.partition(b"\r\n\r\n")
            if b'name="' in head:
                name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
                fields[name] = value.rstrip(b"\r\n").decode()
        return fields


@dataclass
class Receiver:
    url: str
    status: int = 200
    delay: float = 0.0  # seconds each answer takes
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(state.delay)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.requests.append(
                    Received(self.path, self.headers.get("Content-Type", ""), body)
                )
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
