"""Reading Reddit dump files: one JSON object per line, plain, gzip or zstandard.

The public monthly dumps and per-subreddit extracts of Reddit submissions and comments carry,
on each line, an object with the field names of the API's `data` objects. They are written
with a long zstandard window, so the reader allows a window of up to 2 GiB (`MAX_WINDOW`): the
decompressor then keeps up to that much history, which is the one memory cost that depends on
the file; everything else here reads a chunk at a time and never holds more than one line
(capped at `MAX_LINE_BYTES`) beyond the chunk.

A line becomes a `DumpRecord` (the parsed object, or why it is not one), with its line
number, so a caller can report bad lines where they are. Nothing in a file can make reading
fail except the file itself (missing, unreadable, corrupt compression): `DumpUnreadable`.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from ..models import Kind

# zstandard's own limit, and what the dumps need: they are written with windows up to 2 GiB.
MAX_WINDOW = 2**31
# Compressed bytes read at a time; a line longer than MAX_LINE_BYTES is reported and skipped,
# so a file without newlines cannot make the reader hold all of it.
CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 8 << 20
SUFFIXES = (".zst", ".gz", ".jsonl", ".ndjson", ".json")


class DumpUnreadable(Exception):
    """A file that cannot be read as a dump at all (missing, unreadable, not decompressible)."""


@dataclass(slots=True)
class DumpRecord:
    """One line of a dump: the thing's data and its kind ("t1"/"t3"), or why it is neither."""

    line: int
    data: dict[str, Any] | None
    thing_kind: str | None
    error: str | None = None


class _Counted:
    """A binary file that counts the bytes read from it (the progress bar's measure)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.raw.close()


class DumpReader:
    """The records of one dump file, read a chunk at a time; `bytes_read` counts the file's
    (compressed) bytes consumed so far, against `size`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.size = path.stat().st_size
            self._file = _Counted(path.open("rb"))
        except OSError as error:
            raise DumpUnreadable(f"{path}: {error.strerror or error}") from error
        self._stream: Any = self._decompressed(path.name.lower())

    @property
    def bytes_read(self) -> int:
        return self._file.bytes_read

    def _decompressed(self, name: str) -> Any:
        if name.endswith(".zst"):
            decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
            return decompressor.stream_reader(cast(IO[bytes], self._file), read_size=CHUNK_BYTES)
        if name.endswith(".gz"):
            return gzip.GzipFile(fileobj=cast(IO[bytes], self._file), mode="rb")
        return self._file

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> DumpReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lines(self) -> Iterator[tuple[int, bytes | None]]:
        """(line number, bytes) for each non-empty line; bytes None for a line too long."""
        number = 0
        rest = b""
        skipping = False  # inside a line already reported as too long
        while True:
            try:
                chunk = self._stream.read(CHUNK_BYTES)
            except (zstandard.ZstdError, OSError, EOFError) as error:
                raise DumpUnreadable(f"{self.path}: cannot decompress: {error}") from error
            if not chunk:
                break
            parts = chunk.split(b"\n")
            parts[0] = rest + parts[0]
            rest = parts.pop()
            for part in parts:
                number += 1
                if skipping:
                    skipping = False
                    continue
                if part.strip():
                    yield number, part
            if len(rest) > MAX_LINE_BYTES:
                if not skipping:
                    yield number + 1, None
                skipping, rest = True, b""
        if rest.strip() and not skipping:
            yield number + 1, rest

    def records(self) -> Iterator[DumpRecord]:
        for number, raw in self.lines():
            yield parse_line(number, raw)


_PREFIX_KIND = {"t1_": "t1", "t3_": "t3"}
KIND_OF_THING = {Kind.COMMENT: "t1", Kind.POST: "t3"}


def parse_line(number: int, raw: bytes | None) -> DumpRecord:
    """One line as a record: a JSON object that is a submission or a comment, or the reason
    it is not (never raises)."""
    if raw is None:
        return DumpRecord(number, None, None, f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        return DumpRecord(number, None, None, f"not valid JSON: {reason}")
    if not isinstance(data, dict):
        return DumpRecord(number, None, None, f"a JSON {type(data).__name__}, not an object")
    kind = thing_kind(data)
    if kind is None:
        return DumpRecord(number, None, None, "neither a submission nor a comment")
    return DumpRecord(number, data, kind)


def thing_kind(data: dict[str, Any]) -> str | None:
    """ "t3" for a submission, "t1" for a comment: from the fullname in `name` when there is
    one, else from the fields (a submission has a `title`, a comment a `body`)."""
    name = data.get("name")
    if isinstance(name, str):
        kind = _PREFIX_KIND.get(name[:3])
        if kind is not None:
            return kind
    if "title" in data:
        return "t3"
    if "body" in data:
        return "t1"
    return None


def dump_paths(paths: list[Path]) -> list[Path]:
    """The files to read: each path given, or the dump files in a directory given (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
            )
        else:
            found.append(path)
    return found


def total_size(paths: list[Path]) -> int:
    return sum(os.path.getsize(p) for p in paths if p.is_file())
