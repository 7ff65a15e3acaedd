"""SIGKILL during `dbt build`, then a rerun: Gold converges, with nothing corrupt left behind.

The Gold counterpart of `tests/ingestion/test_run_safety.py`. `build_gold` runs in a
process group of its own and is killed as soon as Trino runs one of its INSERTs into a
`<model>__dbt_tmp` table. The rerun must succeed and leave every Gold table as a clean
build does: the same rows, no `__dbt_tmp` or `__dbt_backup` relation, and no data file
that no snapshot references.

A killed client's statements go on running inside Trino; Gold's own end within a second
or two on this data, so a second test kills a dbt statement that would run for minutes and
checks that the next build stops it. A build with Trino down fails in one line naming Trino.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.errors import ServiceUnreachable
from lakehouse.gold import DBT_TRINO_SOURCE, build_gold
from catalog.settings import LakehouseSettings, load_settings
from catalog.trino_connection import trino_connection
from tests.ingestion import run_safety as safety

GOLD = ("gold",)
# A `table` model fills `<model>__dbt_tmp` and then swaps it in (dbt-trino's default
# `on_table_exists: rename`); with an enforced contract the CREATE TABLE is empty and this
# INSERT, the slowest statement of a build, does the work.
_BUILDING_A_MART = "%insert into%__dbt_tmp%"
_UNFINISHED_DBT_STATEMENTS = (
    "SELECT query_id, query FROM system.runtime.queries "
    "WHERE source LIKE ? AND state NOT IN ('FINISHED', 'FAILED')"
)


def _query(settings: LakehouseSettings, sql: str, params: list | None = None) -> list[list]:
    cursor = trino_connection(settings).cursor()
    cursor.execute(sql, params) if params else cursor.execute(sql)
    return cursor.fetchall()


def _start_build(settings: LakehouseSettings, tmp_path: Path, **options: object) -> subprocess.Popen:
    """`build_gold(settings, **options)` in a Python process leading a process group of its own."""
    pickled = tmp_path / "build.pickle"
    pickled.write_bytes(pickle.dumps((settings, options)))
    code = (
        "import pickle, sys; from lakehouse.gold import build_gold; "
        "settings, options = pickle.loads(open(sys.argv[1], 'rb').read()); build_gold(settings, **options)"
    )
    with (tmp_path / "killed-build.log").open("w") as log:  # dbt's output; a pipe nobody reads could fill up
        return subprocess.Popen(
            [sys.executable, "-c", code, str(pickled)],
            cwd=Path(__file__).resolve().parents[2],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill_while_running(settings: LakehouseSettings, build: subprocess.Popen, like: str, timeout: float = 600) -> list:
    """SIGKILL the build's process group once Trino runs a dbt statement whose text is `like`; [query_id, text]."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert build.poll() is None, "the build ended before it was killed"
        running = _query(
            settings,
            "SELECT query_id, query FROM system.runtime.queries WHERE source LIKE ? AND state = 'RUNNING' AND lower(query) LIKE ?",
            [DBT_TRINO_SOURCE, like],
        )
        if running:
            os.killpg(build.pid, signal.SIGKILL)
            build.wait()
            return running[0]
        time.sleep(0.2)
    raise TimeoutError(f"dbt ran no statement like {like!r} within {timeout} s")


def _dbt_temporary_relations(settings: LakehouseSettings) -> list[str]:
    rows = _query(
        settings,
        f"SELECT table_name FROM {settings.catalog.name}.information_schema.tables "
        "WHERE table_schema = 'gold' AND (table_name LIKE '%\\_\\_dbt\\_tmp%' ESCAPE '\\' "
        "OR table_name LIKE '%\\_\\_dbt\\_backup%' ESCAPE '\\')",
    )
    return sorted(row[0] for row in rows)


@pytest.mark.integration
def test_sigkill_mid_build_then_a_rerun_converges(first_build, stack: LakehouseSettings, tmp_path: Path) -> None:
    build_gold(stack)  # Gold as a clean build leaves it, whatever the tests before did to it
    reference = safety.content_checksums(stack, GOLD)
    assert {"gold.fct_orders", "gold.dim_customers", "gold.customer_360"} <= reference.keys()

    _kill_while_running(stack, _start_build(stack, tmp_path), _BUILDING_A_MART)

    rerun = build_gold(stack)

    assert rerun.success and not rerun.failed_nodes
    assert _query(stack, _UNFINISHED_DBT_STATEMENTS, [DBT_TRINO_SOURCE]) == []
    assert safety.content_checksums(stack, GOLD) == reference
    assert _dbt_temporary_relations(stack) == []
    assert safety.unreferenced_table_files(stack, GOLD) == []


def test_trino_down_is_one_line_naming_trino_and_the_fix(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(home=tmp_path, cache_dir=tmp_path / "cache", trino={"port": port})
    with pytest.raises(ServiceUnreachable) as failure:
        build_gold(settings)
    assert str(failure.value) == f"Trino at http://127.0.0.1:{port} is not reachable (connection refused): start it with `lakehouse up`"


@pytest.mark.integration
def test_a_killed_builds_statement_stops_before_the_next_build(first_build, stack: LakehouseSettings, tmp_path: Path) -> None:
    """The client is gone, not its statement: Trino runs it until `query.client.timeout`
    (5 min), next to the rerun and racing it on the same relations. Gold's own statements
    take 1-3 s on this data, too short to outlive the kill, hence a dbt SELECT that would
    run for minutes."""
    build = _start_build(stack, tmp_path, command=("show", "--inline", _ENDLESS_SELECT))
    query_id, _ = _kill_while_running(stack, build, "%cross join unnest%")
    try:
        time.sleep(2)
        assert _state(stack, query_id) == ("RUNNING", None)  # Trino has not noticed the client died

        build_gold(stack)

        assert _state(stack, query_id) == ("FAILED", "ADMINISTRATIVELY_KILLED")
    finally:  # never leave it running on a shared machine
        if _state(stack, query_id)[0] == "RUNNING":
            _query(stack, f"CALL system.runtime.kill_query(query_id => '{query_id}', message => 'test cleanup')")


# A SELECT that runs until killed: a 10^12-row cross join that a filter empties.
_ENDLESS_SELECT = (
    "select count(*) as n from unnest(sequence(1, 10000)) a (x) cross join unnest(sequence(1, 10000)) b (y) "
    "cross join unnest(sequence(1, 10000)) c (z) where x + y + z = 0"
)


def _state(settings: LakehouseSettings, query_id: str) -> tuple[str, str | None]:
    [[state, error_code]] = _query(settings, "SELECT state, error_code FROM system.runtime.queries WHERE query_id = ?", [query_id])
    return state, error_code
