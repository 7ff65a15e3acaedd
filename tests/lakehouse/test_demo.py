"""`lakehouse demo`, the README's main command, end to end on a small run.

Through the console script, in a process of its own: the demo starts its own Spark, and
in this process `getOrCreate` would hand back (or leave behind) the test run's session,
wired to another catalog. A cache dir of its own (the shared artifacts linked in, no AOT
cache) so that this run's Trino records the AOT cache, as a first demo on a fresh machine does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from catalog import jvm_aot, services
from catalog.settings import load_settings
from lakehouse.gold import gold_marts
from tests.conftest import cache_without_aot

pytestmark = pytest.mark.integration

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
SOURCE_PORTS = {"postgres": 28983, "kafka": 28984, "crm_api": 28986}


def _count(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in the demo's output:\n{text}"
    return int(match.group(1).replace(",", ""))


def test_demo_builds_every_layer_with_trino_booting_behind_spark(tmp_path: Path) -> None:
    cache = cache_without_aot(tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")},
        "LAKEHOUSE_HOME": str(tmp_path / "home"),
        "LAKEHOUSE_CACHE_DIR": str(cache),
        "LAKEHOUSE_CATALOG__PORT": "28981",
        "LAKEHOUSE_TRINO__PORT": "28980",
        "LAKEHOUSE_TRINO__HEAP_GB": "2",
        # The demo's default: the real sources, each on a server of its own.
        **{f"LAKEHOUSE_{key.upper()}__PORT": str(port) for key, port in SOURCE_PORTS.items()},
        "LAKEHOUSE_KAFKA__CONTROLLER_PORT": "28985",
        "COLUMNS": "200",  # one table row per line
    }
    settings = load_settings(
        home=tmp_path / "home", cache_dir=cache, catalog={"port": 28981}, trino={"port": 28980},
        postgres={"port": SOURCE_PORTS["postgres"]}, crm_api={"port": SOURCE_PORTS["crm_api"]},
        kafka={"port": SOURCE_PORTS["kafka"], "controller_port": 28985},
    )
    aot_cache = jvm_aot.cache_file(cache, settings.java.jdk25_home)
    assert aot_cache is not None and not aot_cache.exists()
    try:
        demo = subprocess.run(
            [LAKEHOUSE, "demo", "--days", "3", "--daily-days", "1", "--scale", "0.05", "--seed", "11"],
            env=env, capture_output=True, text=True, timeout=1500,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        trino = next(s for s in services.status(settings) if s.name == "trino")
        assert trino.state == "running"
        assert {s.name for s in services.status(settings) if s.state == "running"} >= {"postgres", "kafka", "crm-api"}
        assert psutil.Process(trino.pid).nice() == services.LOW_PRIORITY_NICENESS
    finally:
        services.down(settings)

    output = demo.stdout
    assert "Demo: 3 days, 2026-01-01 to 2026-01-03" in output
    delivered = _count(r"sources\s*│\s*postgres, kafka, crm-api, landing files\s*│\s*([\d,]+) rows delivered", output)
    # Not equal: a server holds less than was sent (the CRM API one object per id, PostgreSQL no invalid UTF-8).
    assert 0 < _count(r"([\d,]+) rows written this run", output) <= delivered
    for server in ("postgres", "kafka", "crm-api"):
        assert next(s for s in services.status(settings) if s.name == server).state == "stopped"
    for mart in gold_marts():
        assert _count(rf"iceberg\.gold\.{mart}\s*│\s*([\d,]+)", output) > 0, mart
    passed, tests = (int(n) for n in re.search(r"dbt tests (\d+)/(\d+) passed", output).groups())  # type: ignore[union-attr]
    assert tests > 0 and passed == tests
    assert re.search(r"time: services \d+ s, generate \d+ s, pipeline \d+ s, gold \d+ s, maintenance \d+ s", output)
    # Maintenance after Gold (maintenance.after_run, on by default) went over every layer.
    checked = _count(r"maintenance: \d+ of (\d+) tables had work; snapshots", output)
    assert checked >= len(gold_marts()) + 16  # Gold, Bronze and Silver, ops
    # The demo's Trino recorded the AOT cache, written as it stopped.
    assert aot_cache.is_file()
