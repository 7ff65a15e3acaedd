"""Build the Gold layer: the dbt project in `dbt/`, run in-process against the local Trino.

`build_gold(settings)` renders the dbt profile from the settings, invokes dbt with
`dbtRunner` and returns one `NodeResult` per model, test, unit test or seed. A run
that fails raises `GoldBuildError` naming the first failing node. The project ships
in the package (`lakehouse/package_data.py`); dbt's artifacts and log go under the home.

A build whose process was killed leaves its last statements running inside Trino (see
`stop_leftover_dbt_queries`); each build stops them before it starts, so a rerun
converges on the same Gold tables (`tests/gold/test_gold_crash.py`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trino.exceptions import TrinoQueryError

from catalog.engine_config import DBT_PASSWORD_ENV, write_local_config
from catalog.errors import LakehouseError
from catalog.faults import translate
from catalog.lineage import Lineage, dbt_artifacts, dbt_events
from catalog.naming import GOLD
from catalog.run_lock import table_lock
from catalog.settings import LakehouseSettings
from catalog.trino_auth import read_password
from catalog.trino_connection import trino_connection
from lakehouse.package_data import DBT_PROJECT_DIR

# Node statuses that fail a run; `warn` (a warn-severity test) and `skipped` do not.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
# dbt commands that write no artifacts, and refuse `--target-path`.
_WITHOUT_TARGET_PATH = frozenset({"debug", "deps", "init"})
# Plain log lines: the output ends up in CI logs and test captures, not a terminal.
_QUIET_FLAGS = ("--no-use-colors", "--no-send-anonymous-usage-stats", "--no-version-check")
# requests prefers these to the CA file a dbt profile names (psf/requests#3829), so with
# password auth they are hidden from dbt while it runs: the profile's `cert` must win.
_CA_BUNDLE_ENV_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
# dbt-trino sends every statement with this `source` (dbt/adapters/trino/connections.py);
# Trino shows it in `system.runtime.queries`.
DBT_TRINO_SOURCE = "dbt-trino-%"
# How long a killed statement may take to end (a commit in progress finishes first).
LEFTOVER_QUERY_WAIT_SECONDS = 60.0


class GoldBuildError(LakehouseError):
    """dbt did not build the Gold layer: a model, test or unit test failed, or dbt itself did."""


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    name: str
    resource_type: str  # model, test, unit_test, seed, snapshot
    status: str  # success, pass, warn, fail, error, skipped
    execution_time: float  # seconds
    failures: int | None  # rows a test returned; None for models
    message: str | None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class GoldResult:
    command: tuple[str, ...]
    success: bool
    nodes: tuple[NodeResult, ...]
    elapsed: float  # seconds, as dbt measured it; 0.0 for commands without node results

    def node(self, name: str) -> NodeResult:
        matches = [node for node in self.nodes if node.name == name]
        if not matches:
            raise KeyError(f"no node named {name!r} in this dbt run")
        return matches[0]

    @property
    def failed_nodes(self) -> tuple[NodeResult, ...]:
        return tuple(node for node in self.nodes if node.failed)


def dbt_args(
    settings: LakehouseSettings,
    command: Sequence[str] = ("build",),
    *,
    select: Sequence[str] | None = None,
    vars: Mapping[str, Any] | None = None,
    full_refresh: bool = False,
) -> list[str]:
    """The dbt command line for this deployment (pure: no files written)."""
    args = [
        *command, *_QUIET_FLAGS, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(profiles_dir(settings)),
        "--log-path", str(log_dir(settings)),
    ]
    if command[0] not in _WITHOUT_TARGET_PATH:
        args += ["--target-path", str(target_dir(settings))]
    if select:
        args += ["--select", *select]
    if vars:
        args += ["--vars", json.dumps(dict(vars))]
    if full_refresh:
        args.append("--full-refresh")
    return args


def profiles_dir(settings: LakehouseSettings) -> Path:
    return settings.config_dir / "dbt"


# dbt writes into the project folder by default; that folder may sit read-only in
# site-packages, and homes must not share one another's artifacts.
def target_dir(settings: LakehouseSettings) -> Path:
    """dbt's artifacts: manifest.json, run_results.json, catalog.json, compiled SQL."""
    return settings.data_dir / "dbt" / "target"


def log_dir(settings: LakehouseSettings) -> Path:
    return settings.run_dir / "dbt"


def build_gold(
    settings: LakehouseSettings,
    *,
    command: Sequence[str] = ("build",),
    select: Sequence[str] | None = None,
    vars: Mapping[str, Any] | None = None,
    full_refresh: bool = False,
) -> GoldResult:
    """Run a dbt command (default `build`) on the Gold project; raise GoldBuildError if it fails."""
    from dbt.cli.main import dbtRunner  # dbt's import takes seconds; only pay it when building

    write_local_config(settings)
    try:
        stop_leftover_dbt_queries(settings)  # also the check that Trino answers, before dbt's slow start
    except Exception as exc:
        known = translate(exc, settings)
        if known is None:
            raise
        raise known from exc
    command = tuple(command)
    lineage = Lineage.from_settings(settings)
    # One run for the invocation; one child run per model it ran, from dbt's artifacts.
    # Maintenance compacting a mart while dbt's MERGE writes deletes against its files would fail one
    # of them: Gold is one lock, since a build writes all of it (catalog.run_lock.table_lock).
    building = table_lock(settings, GOLD, f"dbt {' '.join(command)}", wait_seconds=settings.maintenance.lock_wait_seconds)
    with building, lineage.job(f"{GOLD}.dbt_{'_'.join(command)}", integration="DBT") as invocation:
        with _trino_password_env(settings):
            outcome = dbtRunner().invoke(dbt_args(settings, command, select=select, vars=vars, full_refresh=full_refresh))
        artifacts = dbt_artifacts(target_dir(settings))
        if artifacts is not None:
            models = lineage.child(invocation)
            models.send(dbt_events(settings, models, *artifacts))
        nodes, elapsed = _node_results(outcome.result)
        result = GoldResult(command=command, success=bool(outcome.success), nodes=nodes, elapsed=elapsed)
        if not result.success:
            raise GoldBuildError(_failure_line(result, outcome.exception, target_dir(settings)), details=_failure_details(result))
    return result


def stop_leftover_dbt_queries(settings: LakehouseSettings) -> list[str]:
    """Kill the dbt statements still running in Trino and wait until they end; their query ids.

    Trino runs a statement until its client has not polled for `query.client.timeout` (5 min
    by default), so after a SIGKILL the dead build's INSERT into `<model>__dbt_tmp` or its
    MERGE goes on, and the next build would race it on the same relations. Every dbt
    statement still running when a build starts belongs to a build that died or to one that
    would race this one (two dbt builds of one Gold schema share the `__dbt_tmp` and
    `__dbt_backup` names), so all are killed. A killed write leaves no files: Trino deletes
    what an aborted write wrote, and dbt drops the `__dbt_tmp` relations it finds.
    """
    connection = trino_connection(settings)
    # One attempt: the client's default retries a refused connection for seconds before
    # `translate` can name Trino.
    connection.max_attempts = 1
    cursor = connection.cursor()
    unfinished = (
        f"SELECT query_id FROM system.runtime.queries WHERE user = {_literal(settings.trino.user)} "
        f"AND source LIKE {_literal(DBT_TRINO_SOURCE)} AND state NOT IN ('FINISHED', 'FAILED')"
    )
    leftover = [row[0] for row in _fetch(cursor, unfinished)]
    reason = _literal("killed by the next Gold build: the dbt build that ran it has died")
    for query_id in leftover:
        try:
            _fetch(cursor, f"CALL system.runtime.kill_query(query_id => {_literal(query_id)}, message => {reason})")
        except TrinoQueryError as exc:  # it ended between the two statements
            if "not running" not in str(exc).lower():
                raise
    deadline = time.monotonic() + LEFTOVER_QUERY_WAIT_SECONDS
    while leftover and (running := {row[0] for row in _fetch(cursor, unfinished)} & set(leftover)):
        if time.monotonic() > deadline:
            raise GoldBuildError(
                f"dbt statements of an earlier Gold build still run in Trino after {LEFTOVER_QUERY_WAIT_SECONDS:.0f} s "
                f"({', '.join(sorted(running))}): wait for them, or restart Trino (`lakehouse down`, `lakehouse up`)"
            )
        time.sleep(0.5)
    return leftover


def _fetch(cursor: Any, sql: str) -> list[Any]:
    cursor.execute(sql)
    return cursor.fetchall()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def _trino_password_env(settings: LakehouseSettings) -> Iterator[None]:
    """With password auth, the rendered profile reads the engineer's password from the environment."""
    if not settings.trino.password_auth:
        yield
        return
    changes: dict[str, str | None] = {DBT_PASSWORD_ENV: read_password(settings, settings.trino.user)}
    changes.update(dict.fromkeys(_CA_BUNDLE_ENV_VARS))
    previous = {name: os.environ.get(name) for name in changes}
    _set_env(changes)
    try:
        yield
    finally:
        _set_env(previous)


def _set_env(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _node_results(run_result: Any) -> tuple[tuple[NodeResult, ...], float]:
    # `build`, `run`, `test` return a RunExecutionResult; `docs generate`, `parse` return
    # other artifacts without per-node results.
    results = getattr(run_result, "results", None) or ()
    nodes = tuple(
        NodeResult(
            unique_id=item.node.unique_id,
            name=item.node.name,
            resource_type=str(item.node.resource_type),
            status=str(item.status),
            execution_time=float(item.execution_time or 0.0),
            failures=item.failures,
            message=item.message,
        )
        for item in results
    )
    return nodes, float(getattr(run_result, "elapsed_time", 0.0) or 0.0)


def _failure_line(result: GoldResult, exception: BaseException | None, target: Path) -> str:
    command = "dbt " + " ".join(result.command)
    failed = result.failed_nodes
    if failed:
        first = failed[0]
        what = f"{first.failures} failing rows" if first.status == "fail" and first.failures else _first_line(first.message)
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return (
            f"{command} failed at {first.resource_type} {first.name}: {first.status}, {what}{more}; "
            f"details in {target / 'run_results.json'}"
        )
    reason = _first_line(str(exception)) if exception is not None else "see the dbt log above"
    return f"{command} failed before building any node: {reason}"


def _failure_details(result: GoldResult) -> str:
    return "\n".join(f"{node.resource_type} {node.name}: {node.status}: {node.message}" for node in result.failed_nodes)


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def gold_marts(project_dir: Path = DBT_PROJECT_DIR) -> tuple[str, ...]:
    """The marts the dbt project defines (one model per `.sql` file under models/marts), sorted."""
    return tuple(sorted(model.stem for model in (project_dir / "models" / "marts").glob("*.sql")))
