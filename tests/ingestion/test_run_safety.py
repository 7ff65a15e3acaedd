"""Operators' mistakes, through the real console script: overlapping runs and SIGKILL mid-day.

Each home has its own REST catalog and the same generated deliveries. A reference home
runs the days cleanly; the others overlap or are killed, then rerun, and must end with
the same content in every Bronze and Silver table, no branch but `main`, and no data
file that no snapshot references. The soak (`benchmarks/soak_reliability.py`) runs many
more points and trials by hand.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest

from ingestion.synthetic import generate_sources
from tests.conftest import SHARED_CACHE, TEST_CATALOG_PORT
from tests.ingestion import run_safety as safety

pytestmark = pytest.mark.integration

START = dt.date(2027, 9, 1)
DAYS = 3
SCALE = 0.02
SEED = 23
_DAYS = [START + dt.timedelta(days=offset) for offset in range(DAYS)]


def _home(root: Path, offset: int):
    home = safety.private_home(root, port=TEST_CATALOG_PORT + 60 + offset, cache_dir=SHARED_CACHE)
    return home


def _generate(home: safety.Home) -> None:
    generate_sources(home.settings.landing_dir, START, DAYS, scale=SCALE, seed=SEED)


def _assert_clean(home: safety.Home, reference: dict[str, str]) -> None:
    assert safety.content_checksums(home.settings) == reference
    assert safety.branches_other_than_main(home.settings) == {}
    assert safety.unreferenced_data_files(home.settings) == []


def _refused_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The content of every Bronze and Silver table after a clean run of the days, one by one."""
    with _home(tmp_path_factory.mktemp("reference"), 0) as home:
        _generate(home)
        done = safety.run(home, "backfill", "--from", _DAYS[0].isoformat(), "--to", _DAYS[-1].isoformat())
        assert done.returncode == 0, done.stdout + done.stderr
        checksums = safety.content_checksums(home.settings)
        assert safety.unreferenced_data_files(home.settings) == []
    assert {"bronze.warehouse_orders", "silver.orders", "silver.quarantine"} <= checksums.keys()
    return checksums


def test_sigkill_at_three_points_then_a_rerun_converges(tmp_path: Path, reference: dict[str, str]) -> None:
    """Kill the whole process tree in Bronze, in a Silver MERGE and around a publish; rerun each day."""
    points = [
        (_DAYS[0], "bronze.warehouse_orders", "START", 1.0),  # Bronze writing its Parquet
        (_DAYS[1], "silver.orders", "START", 3.0),  # Silver preparing or merging on its audit branch
        (_DAYS[2], "silver.customers", "COMPLETE", 0.0),  # customers published, the rest not yet
    ]
    with _home(tmp_path / "home", 1) as home:
        _generate(home)
        for day, job, event, delay in points:
            process = safety.start(home, *safety.run_day_args(day))
            assert safety.kill_when(home, process, job=job, event=event, delay=delay), f"{day} ended before {job} {event}"
            rerun = safety.run(home, *safety.run_day_args(day))
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            assert "died: repairing what it left" in rerun.stdout
            assert safety.branches_other_than_main(home.settings) == {}
            assert safety.unreferenced_data_files(home.settings) == []
        _assert_clean(home, reference)


def _overlap(home: safety.Home, first_day: dt.date, second_day: dt.date, apart: float) -> tuple[int, dt.date]:
    """Start two runs `apart` seconds apart: one wins, the other is refused in one line naming it.
    (winner's pid, the refused run's day)."""
    first = safety.start(home, *safety.run_day_args(first_day))
    time.sleep(apart)
    second = safety.start(home, *safety.run_day_args(second_day))
    outputs = {process.pid: process.communicate(timeout=900) for process in (first, second)}
    codes = {first.pid: first.returncode, second.pid: second.returncode}
    assert sorted(codes.values()) == [0, 1], outputs
    winner = next(pid for pid, code in codes.items() if code == 0)
    loser = next(pid for pid, code in codes.items() if code == 1)
    line = _refused_line(outputs[loser][1])
    assert "another pipeline run holds" in line and re.search(rf"pid {winner}\b", line) and "run --date" in line
    return winner, second_day if loser == second.pid else first_day


def test_overlapping_runs_one_wins_the_other_is_refused_in_one_line(tmp_path: Path, reference: dict[str, str]) -> None:
    with _home(tmp_path / "home", 2) as home:
        _generate(home)
        # The same day twice, half a second apart (the loser used to fail in Spark's _temporary
        # folder, or to delete files that the winner had registered).
        _overlap(home, _DAYS[0], _DAYS[0], apart=0.5)
        # Six seconds apart: the first is in Spark by then (a replay now, so it adds nothing).
        _overlap(home, _DAYS[0], _DAYS[0], apart=6.0)
        # Two days at once (the loser used to fail to fast-forward and leave audit branches):
        # one is refused, then run on its own.
        # Three seconds is ample for the first to take the lock, so the days still run in order.
        _, refused_day = _overlap(home, _DAYS[1], _DAYS[2], apart=3.0)
        assert refused_day == _DAYS[2]
        retried = safety.run(home, *safety.run_day_args(refused_day))
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert "died" not in retried.stdout  # the winner released the lock cleanly
        _assert_clean(home, reference)
