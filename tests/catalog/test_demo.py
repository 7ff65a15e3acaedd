"""`lakehouse demo`, the README's main command, end to end on a small run.

A cache dir of its own (the shared artifacts linked in, no AOT cache) so that this run's
Trino records the AOT cache, as a first demo on a fresh machine does.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psutil
import pytest

from catalog import jvm_aot, services
from catalog.demo import GOLD_MARTS, run_demo
from catalog.settings import load_settings
from tests.conftest import SHARED_CACHE

pytestmark = pytest.mark.integration


def test_demo_builds_every_layer_with_trino_booting_behind_spark(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for entry in SHARED_CACHE.iterdir():
        if entry.name != jvm_aot.CACHE_FOLDER:
            (cache / entry.name).symlink_to(entry)
    settings = load_settings(
        home=tmp_path / "home", cache_dir=cache, catalog={"port": 28981}, trino={"port": 28980, "heap_gb": 2}
    )
    aot_cache = jvm_aot.cache_file(cache, settings.java.jdk25_home)
    assert aot_cache is not None and not aot_cache.exists()
    try:
        summary = run_demo(settings, start=dt.date(2026, 1, 1), days=3, scale=0.05, seed=11, daily_days=1)
        trino = next(s for s in services.status(settings) if s.name == "trino")
        assert trino.state == "running"
        assert psutil.Process(trino.pid).nice() == services.LOW_PRIORITY_NICENESS
    finally:
        services.down(settings)

    assert summary.lines_landed > 0 and summary.bronze_rows == summary.lines_landed
    assert all(rows > 0 for table, rows in summary.silver_rows.items() if table != "quarantine"), summary.silver_rows
    assert set(summary.gold_rows) == set(GOLD_MARTS) and all(summary.gold_rows.values()), summary.gold_rows
    assert summary.dbt_tests > 0 and summary.dbt_tests_passed == summary.dbt_tests
    assert set(summary.seconds) == {"services", "generate", "pipeline", "gold"}
    # The demo's Trino recorded the AOT cache, written as it stopped.
    assert aot_cache.is_file()
