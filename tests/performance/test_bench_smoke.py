"""Keeps `make bench` and `make load` from rotting: their code paths on tiny sizes.

No timing is asserted here (a shared CI machine makes timings meaningless); only that each
figure is produced, is a positive number, and that the reports have their shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import bench, dataset
from bench.target import percentile

from tests.performance import run_load
from tests.performance.scenarios import category

pytestmark = [pytest.mark.timeout(180), pytest.mark.processes, pytest.mark.slow]


def test_bench_produces_every_figure(tmp_path: Path) -> None:
    profile = bench.Profile(**{**bench.TINY.__dict__, "cache_dir": tmp_path / "cache"})
    out = tmp_path / "results.json"
    results = bench.run(profile, out=out, log=lambda _: None)

    assert out.is_file()
    names = {row["figure"] for row in results["figures"]}
    assert names == set(bench.TARGETS)
    for row in results["figures"]:
        assert row["value"] > 0, row
        assert isinstance(row["ok"], bool)
    cycle = results["cycle"]
    assert cycle["responsiveness"]["idle_samples"] > 0
    assert cycle["responsiveness"]["busy_samples"] > 0
    assert cycle["throughput"]["cycles"][0]["status"] == "succeeded"
    assert cycle["throughput"]["texts"] == cycle["throughput"]["cycles"][0]["items"]
    assert set(results["dashboard"]["endpoints"]) == set(bench.dashboard_requests())
    imported = results["import"]
    assert imported["throughput"]["run"]["stored_items"] == bench.TINY.import_lines[1]
    assert set(imported["memory"]["runs"]) == {str(n) for n in bench.TINY.import_lines[::2]}
    assert "figure" in bench.render(results["figures"])


def test_bulk_loaded_data_set_matches_its_aggregates(tmp_path: Path) -> None:
    path, _ = dataset.ensure(500, seed=3, cache_dir=tmp_path)
    assert dataset.check_aggregates(path) == {
        "buckets": dataset.check_aggregates(path)["buckets"],
        "items": 500,
    }
    again = [item.id for item in dataset.generate(50, seed=3)]
    assert again == [item.id for item in dataset.generate(50, seed=3)]  # deterministic


def test_load_runner_reports_a_verdict(tmp_path: Path) -> None:
    results = run_load.run(out=tmp_path, smoke=True)

    assert len(results) == 1
    phase = results[0]
    assert phase.requests > 0
    assert phase.failures == 0
    assert "health" in phase.by_category
    assert phase.by_category["health"]["p99_ms"] > 0
    for name in ("smoke_stats.csv", "smoke.html", "summary.json"):
        assert (tmp_path / name).is_file(), name
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["phases"][0]["items_collected"] == phase.items_collected >= 0
    assert "verdict" in run_load.report(results)
    assert "items collected" in run_load.report(results)


def test_request_names_map_to_the_verdict_categories() -> None:
    assert category("health") == "health"
    assert category("ready") == "ready"
    assert category("dashboard summary") == "dashboard"
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 1001))), 99) == 990.0
