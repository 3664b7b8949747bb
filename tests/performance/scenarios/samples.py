"""Every request's start time, name, latency and outcome, written when locust quits.

Locust's own CSV has bucketed percentiles over the whole run; the runner needs exact ones
over the moments a collection was running, so it reads these samples (LOAD_SAMPLES_PATH).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from locust import events

_samples: list[tuple[float, str, float, bool]] = []


def _record(
    name: str, response_time: float, exception: BaseException | None, **kwargs: Any
) -> None:
    started = kwargs.get("start_time") or time.time() - response_time / 1000
    _samples.append((float(started), name, float(response_time), exception is None))


def _write(**_: Any) -> None:
    path = os.environ.get("LOAD_SAMPLES_PATH")
    if path:
        Path(path).write_text(json.dumps(_samples))


events.request.add_listener(_record)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_write)  # type: ignore[no-untyped-call]
