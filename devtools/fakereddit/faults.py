"""Faults the fake injects into matching requests: errors, 429s, slow answers, bad JSON, resets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

JSON = dict[str, Any]
FaultKind = Literal["status", "slow", "malformed", "flaky", "reset"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass(frozen=True)
class Fault:
    """A misbehaviour to inject into matching requests.

    ``path_pattern`` is searched (``re.search``, case-insensitive) in the
    request path; ``times`` limits how many matching requests are affected
    (``None`` = forever).  ``status``/``retry_after`` apply to ``kind="status"``,
    ``delay`` to ``kind="slow"``.  ``method`` optionally restricts the verb.
    """

    path_pattern: str = ""
    kind: FaultKind = "status"
    times: int | None = None
    status: int = 500
    retry_after: float | None = None
    delay: float = 5.0
    method: str | None = None

    def __post_init__(self) -> None:
        """Reject typos early: a silently ignored fault makes a test lie."""
        if self.kind not in FAULT_KINDS:
            msg = f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}"
            raise ValueError(msg)
        if self.times is not None and self.times < 0:
            msg = "times must be None or >= 0"
            raise ValueError(msg)
        re.compile(self.path_pattern)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from its JSON form (used by ``POST /_fake/faults``)."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            msg = f"unknown fault fields: {sorted(unknown)}"
            raise ValueError(msg)
        return cls(**dict(data))

    def to_dict(self) -> JSON:
        """Return the JSON form of the fault."""
        return asdict(self)


@dataclass
class _ActiveFault:
    """A fault plus how many requests it has already affected."""

    fault: Fault
    hits: int = 0

    @property
    def active(self) -> bool:
        """Whether ``times`` is not used up yet."""
        return self.fault.times is None or self.hits < self.fault.times
