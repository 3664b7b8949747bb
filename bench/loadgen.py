"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, GET in a loop.

Run in its own process (`python -m bench.loadgen URL PATH`), it prints one JSON line with the
requests completed, the seconds and the errors. It uses uvloop when available and a minimal
parser, so it stays much faster than the server it drives and the server is what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    client_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _connection(
    host: str, port: int, path: str, stop_at: float, counts: list[int], warmup_until: float
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            if now >= warmup_until:
                counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
    finally:
        writer.close()


async def _run(url: str, path: str, connections: int, seconds: float, warmup: float) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counts = [0, 0]
    start = time.perf_counter()
    warmup_until = start + warmup
    stop_at = warmup_until + seconds
    cpu = time.process_time()
    await asyncio.gather(
        *(_connection(host, port, path, stop_at, counts, warmup_until) for _ in range(connections))
    )
    cpu_used = time.process_time() - cpu
    elapsed = max(time.perf_counter() - warmup_until, 1e-9)
    return LoadResult(counts[0], counts[1], elapsed, cpu_used * seconds / (warmup + seconds))


def run(
    url: str, path: str, connections: int = 32, seconds: float = 3.0, warmup: float = 0.5
) -> LoadResult:
    try:
        import uvloop

        return uvloop.run(_run(url, path, connections, seconds, warmup))
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(_run(url, path, connections, seconds, warmup))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("path")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    args = parser.parse_args(argv)
    result = run(args.url, args.path, args.connections, args.seconds, args.warmup)
    print(json.dumps({**asdict(result), "rps": result.rps}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
