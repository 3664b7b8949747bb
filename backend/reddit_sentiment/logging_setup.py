"""Plain, greppable log lines; secrets never reach them (settings hold them as SecretStr)."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s",
        force=True,
    )
    # PRAW/prawcore debug lines include request parameters; keep them at WARNING.
    for noisy in ("prawcore", "praw", "urllib3", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # The Azure SDK logs every HTTP request at INFO (tens of thousands of lines a cycle on
    # Cosmos DB), drowning the service's own log: shown only when LOG_LEVEL=DEBUG asks.
    if logging.getLevelName(level) > logging.DEBUG:
        logging.getLogger("azure").setLevel(logging.WARNING)
