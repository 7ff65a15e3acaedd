"""Trino file-based access control on the real server: the analyst reads Gold and nothing else."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from trino.exceptions import TrinoUserError

from catalog.naming import BRONZE, GOLD, SILVER, TableName, namespace_sql
from catalog.settings import TRINO_HEALTH_CATALOG
from catalog.trino_auth import TRINO_HEALTH_USER
from catalog.trino_connection import trino_connection

pytestmark = pytest.mark.integration

PROBE = "access_probe"
LAYERS = (BRONZE, SILVER, GOLD)
# Every Iceberg metadata table of Trino 476; the analyst may read Gold's, not the other layers'.
METADATA_TABLES = (
    "snapshots", "history", "metadata_log_entries", "files", "manifests", "all_manifests",
    "partitions", "entries", "all_entries", "refs", "properties",
)
NO_SUCH_QUERY = "20200101_000000_00000_aaaaa"

# What Trino answers when it refuses a statement. Access control refuses with PERMISSION_DENIED
# and a message starting "Access Denied: ", followed by the check that refused it.
#
# Table procedures are the exception. Trino 476's file-based access control allows every table
# procedure to everyone (FileBasedSystemAccessControl.checkCanExecuteTableProcedure is empty;
# trinodb/trino#22874), so a read-only catalog does not stop `ALTER TABLE ... EXECUTE`. The
# analyst's row filter on Gold does: Trino refuses ALTER TABLE EXECUTE on a row-filtered table,
# after it has found the table and before it resolves the procedure.
ROW_FILTERED = ("NOT_SUPPORTED", "ALTER TABLE EXECUTE is not supported for table with row filter")


def _denied(because: str) -> tuple[str, str]:
    return "PERMISSION_DENIED", f"Access Denied: {because}"


def _case(statement: str, refusal: tuple[str, str], name: str):
    return pytest.param(statement, refusal, id=name)


def _execute(stack, sql: str, *, user: str | None = None) -> list[list]:
    cursor = trino_connection(stack, user=user).cursor()
    cursor.execute(sql)
    return cursor.fetchall()


@pytest.fixture(scope="module")
def probes(stack) -> Iterator[dict[str, str]]:
    """One small table per layer, created by the engineer (which also proves it may write) in two
    snapshots (table_changes reads between two), with the names the statements below use."""
    names = {layer: TableName(layer, PROBE).sql(stack, "trino") for layer in LAYERS}
    for layer, name in names.items():
        _execute(stack, f"CREATE SCHEMA IF NOT EXISTS {namespace_sql(stack, layer, 'trino')}")
        _execute(stack, f"CREATE OR REPLACE TABLE {name} (x integer)")
        _execute(stack, f"INSERT INTO {name} VALUES (1)")
    for layer in LAYERS:
        for kind in METADATA_TABLES:
            names[f"{layer}_{kind}"] = TableName(layer, f"{PROBE}${kind}").sql(stack, "trino")
    names["catalog"] = names["gold"].split(".", 1)[0]
    for layer in ("silver", "gold"):
        snapshots = [row[0] for row in _execute(stack, f"SELECT snapshot_id FROM {names[f'{layer}_snapshots']} ORDER BY committed_at")]
        assert len(snapshots) == 2, snapshots
        names[f"{layer}_first_snapshot"], names[f"{layer}_snapshot"] = map(str, snapshots)
    yield names
    for layer in LAYERS:
        _execute(stack, f"DROP TABLE IF EXISTS {names[layer]}")


def _current_snapshot(stack, snapshots_table: str) -> int:
    [[snapshot]] = _execute(stack, f"SELECT snapshot_id FROM {snapshots_table} ORDER BY committed_at DESC LIMIT 1")
    return snapshot


def _as_analyst(stack, sql: str) -> list[list]:
    return _execute(stack, sql, user=stack.trino.analyst_user)


@pytest.mark.parametrize(
    ("statement", "check"),
    [
        ("SELECT x FROM {gold}", lambda rows: rows == [[1]]),
        ("SELECT x FROM {gold} FOR VERSION AS OF {gold_snapshot}", lambda rows: rows == [[1]]),
        ("SELECT count(*) FROM {gold_snapshots}", lambda rows: rows[0][0] >= 1),
        ("SELECT count(*) FROM {gold_files}", lambda rows: rows[0][0] >= 1),
        ("DESCRIBE {gold}", lambda rows: [row[0] for row in rows] == ["x"]),
        ("SHOW TABLES FROM {catalog}.gold", lambda rows: [PROBE] in rows),
        (
            "SELECT DISTINCT table_schema FROM {catalog}.information_schema.tables WHERE table_name = '" + PROBE + "'",
            lambda rows: rows == [["gold"]],
        ),
        ("EXPLAIN SELECT x FROM {gold}", lambda rows: len(rows) == 1),
        ("SHOW STATS FOR {gold}", lambda rows: len(rows) == 2),
    ],
    ids=["select", "time-travel", "snapshots", "files", "describe", "show-tables", "information-schema", "explain", "show-stats"],
)
def test_analyst_reads_gold(stack, probes, statement: str, check) -> None:
    assert check(_as_analyst(stack, statement.format(**probes)))


def test_analyst_sees_only_gold_schemas(stack, probes) -> None:
    schemas = {row[0] for row in _as_analyst(stack, f"SHOW SCHEMAS FROM {stack.catalog.name}")}
    assert "gold" in schemas
    assert not schemas & {"bronze", "silver"}


def test_only_the_readiness_probe_sees_its_catalog(stack) -> None:
    probe_region = f"{TRINO_HEALTH_CATALOG}.tiny.region"
    assert _execute(stack, f"SELECT count(*) FROM {probe_region}", user=TRINO_HEALTH_USER) == [[5]]
    for user in (stack.trino.user, stack.trino.analyst_user):
        assert TRINO_HEALTH_CATALOG not in {row[0] for row in _execute(stack, "SHOW CATALOGS", user=user)}, user
        with pytest.raises(TrinoUserError, match="Access Denied"):
            _execute(stack, f"SELECT count(*) FROM {probe_region}", user=user)


# Every kind of statement in Trino 476 that writes, administers, or reads outside Gold, run as the
# analyst. Most aim at Gold, the one schema it may read: a refusal there is the rules' doing.
ANALYST_REFUSALS = [
    # Reads outside Gold.
    _case("SELECT * FROM {silver}", _denied("Cannot select from table"), "select-silver"),
    _case("SELECT * FROM {bronze}", _denied("Cannot select from table"), "select-bronze"),
    _case("SELECT * FROM {silver} FOR VERSION AS OF 'main'", _denied("Cannot select from table"), "time-travel-silver"),
    *(
        _case(f"SELECT * FROM {{silver_{kind}}}", _denied("Cannot select from table"), f"silver-${kind}")
        for kind in METADATA_TABLES
    ),
    _case("SELECT * FROM {bronze_snapshots}", _denied("Cannot select from table"), "bronze-$snapshots"),
    _case("SHOW CREATE TABLE {silver}", _denied("Cannot show create table"), "show-create-table-silver"),
    _case("SHOW COLUMNS FROM {silver}", _denied("Cannot show columns"), "show-columns-silver"),
    _case("SHOW STATS FOR {silver}", _denied("Cannot select from table"), "show-stats-silver"),
    _case("SELECT * FROM system.runtime.queries", _denied("Cannot select from table"), "other-users-queries"),
    # Table functions: Iceberg's only one reads any table's changes. (`system.query` exists only
    # in connectors that pass SQL through, such as the JDBC ones; Iceberg has none.)
    _case(
        "SELECT * FROM TABLE({catalog}.system.table_changes(schema_name => 'gold', table_name => '" + PROBE + "', "
        "start_snapshot_id => {gold_first_snapshot}, end_snapshot_id => {gold_snapshot}))",
        _denied("Cannot execute function"),
        "table-changes-gold",
    ),
    _case(
        "SELECT * FROM TABLE({catalog}.system.table_changes(schema_name => 'silver', table_name => '" + PROBE + "', "
        "start_snapshot_id => {silver_first_snapshot}, end_snapshot_id => {silver_snapshot}))",
        _denied("Cannot execute function"),
        "table-changes-silver",
    ),
    # Table procedures (ALTER TABLE ... EXECUTE): see ROW_FILTERED.
    _case("ALTER TABLE {gold} EXECUTE optimize", ROW_FILTERED, "optimize"),
    _case("ALTER TABLE {gold} EXECUTE optimize_manifests", ROW_FILTERED, "optimize-manifests"),
    _case("ALTER TABLE {gold} EXECUTE expire_snapshots(retention_threshold => '7d')", ROW_FILTERED, "expire-snapshots"),
    _case("ALTER TABLE {gold} EXECUTE remove_orphan_files(retention_threshold => '7d')", ROW_FILTERED, "remove-orphan-files"),
    _case("ALTER TABLE {gold} EXECUTE drop_extended_stats", ROW_FILTERED, "drop-extended-stats"),
    _case("ALTER TABLE {gold} EXECUTE rollback_to_snapshot(snapshot_id => {gold_snapshot})", ROW_FILTERED, "rollback-table-procedure"),
    _case("ALTER TABLE {gold} EXECUTE add_files(location => 'file:///nonexistent', format => 'PARQUET')", ROW_FILTERED, "add-files"),
    _case(
        "ALTER TABLE {gold} EXECUTE add_files_from_table(schema_name => 'silver', table_name => '" + PROBE + "')",
        ROW_FILTERED,
        "add-files-from-table",
    ),
    # On a table it may not read, the analyst is refused by the SELECT check every table procedure makes.
    _case("ALTER TABLE {silver} EXECUTE expire_snapshots(retention_threshold => '7d')", _denied("Cannot select from table"), "expire-snapshots-silver"),
    # Procedures (CALL).
    _case("CALL {catalog}.system.rollback_to_snapshot('gold', '" + PROBE + "', {gold_snapshot})", _denied("Cannot execute procedure"), "call-rollback"),
    _case(
        "CALL {catalog}.system.register_table(schema_name => 'gold', table_name => 'analyst_copy', table_location => 'file:///nonexistent')",
        _denied("Cannot execute procedure"),
        "call-register-table",
    ),
    _case("CALL {catalog}.system.unregister_table(schema_name => 'gold', table_name => '" + PROBE + "')", _denied("Cannot execute procedure"), "call-unregister-table"),
    _case(f"CALL system.runtime.kill_query(query_id => '{NO_SUCH_QUERY}', message => 'analyst')", _denied("Cannot execute procedure"), "call-kill-query"),
    # Session: identity and properties.
    _case("SET SESSION AUTHORIZATION engineer", _denied("User analyst cannot impersonate user engineer"), "set-session-authorization"),
    _case("SET SESSION query_max_run_time = '1h'", _denied("Cannot set system session property"), "set-system-session-property"),
    _case("SET SESSION {catalog}.expire_snapshots_min_retention = '0s'", _denied("Cannot set catalog session property"), "set-catalog-session-property"),
    # DDL.
    _case("CREATE TABLE {catalog}.gold.analyst_table (x integer)", _denied("Cannot create table"), "create-table"),
    _case("CREATE TABLE {catalog}.gold.analyst_copy AS SELECT * FROM {gold}", _denied("Cannot create table"), "create-table-as"),
    _case("DROP TABLE {gold}", _denied("Cannot drop table"), "drop-table"),
    _case("ALTER TABLE {gold} RENAME TO {catalog}.gold.analyst_renamed", _denied("Cannot rename table"), "rename-table"),
    _case("ALTER TABLE {gold} ADD COLUMN y integer", _denied("Cannot add a column"), "add-column"),
    _case("ALTER TABLE {gold} DROP COLUMN x", _denied("Cannot drop a column"), "drop-column"),
    _case("ALTER TABLE {gold} RENAME COLUMN x TO y", _denied("Cannot rename a column"), "rename-column"),
    _case("ALTER TABLE {gold} ALTER COLUMN x SET DATA TYPE bigint", _denied("Cannot alter a column"), "alter-column"),
    _case("ALTER TABLE {gold} SET PROPERTIES format_version = 2", _denied("Cannot set table properties"), "set-properties"),
    _case("ALTER TABLE {gold} SET AUTHORIZATION analyst", _denied("Cannot set authorization"), "set-table-authorization"),
    _case("COMMENT ON TABLE {gold} IS 'analyst'", _denied("Cannot comment table"), "comment-table"),
    _case("COMMENT ON COLUMN {gold}.x IS 'analyst'", _denied("Cannot comment column"), "comment-column"),
    _case("CREATE SCHEMA {catalog}.analyst_sandbox", _denied("Cannot create schema"), "create-schema"),
    # CASCADE: without it, Trino refuses a non-empty schema before asking access control.
    _case("DROP SCHEMA {catalog}.gold CASCADE", _denied("Cannot drop schema"), "drop-schema"),
    _case("ALTER SCHEMA {catalog}.gold RENAME TO analyst_gold", _denied("Cannot rename schema"), "rename-schema"),
    _case("ALTER SCHEMA {catalog}.gold SET AUTHORIZATION analyst", _denied("Cannot set authorization"), "set-schema-authorization"),
    _case("CREATE VIEW {catalog}.gold.analyst_view AS SELECT * FROM {gold}", _denied("Cannot create view"), "create-view"),
    _case(
        "CREATE MATERIALIZED VIEW {catalog}.gold.analyst_mv AS SELECT * FROM {gold}",
        _denied("Cannot create materialized view"),
        "create-materialized-view",
    ),
    # DML.
    _case("INSERT INTO {gold} VALUES (2)", _denied("Cannot insert into table"), "insert"),
    _case("INSERT INTO {silver} VALUES (2)", _denied("Cannot insert into table"), "insert-silver"),
    _case("UPDATE {gold} SET x = 3", _denied("Cannot update columns"), "update"),
    _case("DELETE FROM {gold}", _denied("Cannot delete from table"), "delete"),
    _case(
        "MERGE INTO {gold} t USING (SELECT 1 AS x) s ON t.x = s.x WHEN MATCHED THEN DELETE",
        _denied("Cannot delete from table"),
        "merge",
    ),
    _case("TRUNCATE TABLE {gold}", _denied("Cannot truncate table"), "truncate"),
    _case("ANALYZE {gold}", _denied("Cannot ANALYZE (missing insert privilege)"), "analyze"),
    # Privileges and roles.
    _case("GRANT SELECT ON {gold} TO USER analyst", _denied("Cannot grant privilege SELECT"), "grant"),
    _case("REVOKE SELECT ON {gold} FROM USER analyst", _denied("Cannot revoke privilege SELECT"), "revoke"),
    _case("DENY DELETE ON {gold} TO USER analyst", _denied("Cannot deny privilege DELETE"), "deny"),
    _case("CREATE ROLE analyst_role", _denied("Cannot create role"), "create-role"),
]


@pytest.mark.parametrize(("statement", "refusal"), ANALYST_REFUSALS)
def test_analyst_is_refused(stack, probes, statement: str, refusal: tuple[str, str]) -> None:
    with pytest.raises(TrinoUserError) as refused:
        _as_analyst(stack, statement.format(**probes))
    error_name, message = refusal
    # Analysis errors start with the statement's position ("line 1:1: ").
    answered = re.sub(r"^line \d+:\d+: ", "", refused.value.message)
    assert (refused.value.error_name, answered[: len(message)]) == (error_name, message), refused.value.message
    # Nothing changed behind the refusal.
    assert _execute(stack, f"SELECT x FROM {probes['gold']}") == [[1]]
    assert str(_current_snapshot(stack, probes["gold_snapshots"])) == probes["gold_snapshot"]


# Refused statements the engineer runs too, to show they are well formed and name tables that
# exist (a statement refused for a typo proves nothing). They change nothing on one-row tables.
ENGINEER_CONTROLS = {
    "select-silver", "select-bronze", "time-travel-silver", *(f"silver-${kind}" for kind in METADATA_TABLES),
    "bronze-$snapshots", "show-create-table-silver", "show-columns-silver", "show-stats-silver", "other-users-queries",
    "table-changes-gold", "table-changes-silver", "optimize", "optimize-manifests", "expire-snapshots",
    "remove-orphan-files", "drop-extended-stats", "rollback-table-procedure", "expire-snapshots-silver",
    "call-rollback", "set-system-session-property", "set-catalog-session-property",
}


@pytest.mark.parametrize(("statement", "refusal"), [case for case in ANALYST_REFUSALS if case.id in ENGINEER_CONTROLS])
def test_engineer_runs_what_the_analyst_may_not(stack, probes, statement: str, refusal: tuple[str, str]) -> None:
    _execute(stack, statement.format(**probes))


def _query_owners(stack, user: str) -> set[str]:
    """Whose queries Trino's REST API (and the web UI on it) lists to `user`."""
    url = f"http://{stack.trino.host}:{stack.trino.port}/v1/query"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"X-Trino-User": user}), timeout=10) as response:
        return {query["session"]["user"] for query in json.load(response)}


def test_analyst_sees_only_its_own_queries(stack, probes) -> None:
    analyst = stack.trino.analyst_user
    _as_analyst(stack, f"SELECT x FROM {probes['gold']}")
    assert _query_owners(stack, analyst) == {analyst}
    assert {stack.trino.user, analyst} <= _query_owners(stack, stack.trino.user)


def test_engineer_writes_anywhere(stack, probes) -> None:
    for layer in LAYERS:
        name = probes[layer]
        _execute(stack, f"INSERT INTO {name} VALUES (2)")
        _execute(stack, f"DELETE FROM {name} WHERE x = 2")
        assert _execute(stack, f"SELECT count(*) FROM {name}") == [[1]]
