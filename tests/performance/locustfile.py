"""`make load`: what the users do. The scenarios live in scenarios/; this file only picks them.

Run by tests/performance/run_load.py (which starts the service and decides the verdict);
by hand: `locust -f tests/performance/locustfile.py --host http://127.0.0.1:8000`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scenarios import samples  # noqa: F401  (records raw samples for the verdict)
from scenarios.dashboard import DashboardViewer
from scenarios.health import HealthChecker

__all__ = ["DashboardViewer", "HealthChecker"]
