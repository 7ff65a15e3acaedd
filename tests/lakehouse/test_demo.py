"""`lakehouse demo`, the README's main command, end to end on a small run.

Through the console script of the wheel that `conftest.py` installs (the one demo the suite
runs; `test_packaging.py` checks the install), in a process of its own: the demo starts its
own Spark. Its cache has no AOT cache, so this run's Trino records one, as a first demo on
a fresh machine does.
"""

from __future__ import annotations

import re

import pytest

from catalog import services
from lakehouse.gold import gold_marts
from tests.lakehouse.conftest import WheelDemo

pytestmark = pytest.mark.integration


def _count(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in the demo's output:\n{text}"
    return int(match.group(1).replace(",", ""))


def test_demo_builds_every_layer_with_trino_booting_behind_spark(wheel_demo: WheelDemo) -> None:
    # The demo's default: the real sources, each on a server of its own, left running with Trino.
    assert wheel_demo.running >= {"trino", "postgres", "kafka", "crm-api"}
    assert wheel_demo.trino_niceness == services.LOW_PRIORITY_NICENESS

    output = wheel_demo.demo.stdout
    assert "Demo: 3 days, 2026-01-01 to 2026-01-03" in output
    delivered = _count(r"sources\s*│\s*postgres, kafka, crm-api, landing files\s*│\s*([\d,]+) rows delivered", output)
    # Not equal: a server holds less than was sent (the CRM API one object per id, PostgreSQL no invalid UTF-8).
    assert 0 < _count(r"([\d,]+) rows written this run", output) <= delivered
    for mart in gold_marts():
        assert _count(rf"iceberg\.gold\.{mart}\s*│\s*([\d,]+)", output) > 0, mart
    passed, tests = (int(n) for n in re.search(r"dbt tests (\d+)/(\d+) passed", output).groups())  # type: ignore[union-attr]
    assert tests > 0 and passed == tests
    assert re.search(r"time: services \d+ s, generate \d+ s, pipeline \d+ s, gold \d+ s, maintenance \d+ s", output)
    # Maintenance after Gold (maintenance.after_run, on by default) went over every layer.
    checked = _count(r"maintenance: \d+ of (\d+) tables had work; snapshots", output)
    assert checked >= len(gold_marts()) + 16  # Gold, Bronze and Silver, ops
    # The demo's Trino recorded the AOT cache, written as it stopped.
    assert wheel_demo.aot_cache.is_file()
