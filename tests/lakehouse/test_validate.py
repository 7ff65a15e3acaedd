"""`lakehouse validate`: PyIceberg reads, Polars checks, exit codes; no Spark, no Trino in the path."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from typer.testing import CliRunner

from catalog.errors import ConfigError
from catalog.naming import SILVER
from catalog.settings import LakehouseSettings
from ingestion.contracts.contract import SILVER_CONTRACTS, RunDates, load_contracts
from lakehouse import validate
from lakehouse.cli import app

runner = CliRunner()
CONTRACTS = load_contracts(SILVER_CONTRACTS)
# Our own namespace, checked against the Silver contracts, so the real `silver` tables of other tests stay untouched.
NAMESPACE = "validate_test"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("order_date", pa.date32()),
        ("ordered_at", pa.timestamp("us", "UTC")),
        ("status", pa.string()),
        ("currency", pa.string()),
        ("amount", pa.decimal128(18, 2)),
        ("amount_usd", pa.decimal128(18, 2)),
        ("quantity", pa.int64()),
        ("channel", pa.string()),
        ("ship_city", pa.string()),
        ("updated_at", pa.timestamp("us", "UTC")),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("country", pa.string()),
        ("segment", pa.string()),
        ("valid_from", pa.timestamp("us", "UTC")),
        ("valid_to", pa.timestamp("us", "UTC")),
        ("is_current", pa.bool_()),
    ]
)


def _order(order_id, customer_id=1, amount="10.00", updated_at=None) -> dict:
    at = updated_at or NOW - dt.timedelta(hours=1)
    return {
        "order_id": order_id, "customer_id": customer_id, "order_date": at.date(), "ordered_at": at, "status": "placed",
        "currency": "USD", "amount": Decimal(amount), "amount_usd": Decimal(amount), "quantity": 1, "channel": "web",
        "ship_city": None, "updated_at": at,
    }  # fmt: skip


CLEAN_ORDERS = [_order(1), _order(2), _order(3, customer_id=2), _order(4, customer_id=2)]
CUSTOMERS = [
    {"customer_id": c, "first_name": "A", "last_name": "B", "email": None, "country": "US", "segment": "smb",
     "valid_from": NOW - dt.timedelta(days=2), "valid_to": None, "is_current": True}
    for c in (1, 2)
]  # fmt: skip
VIOLATIONS = {
    # name: (rows, the failing check, its column, failing rows)
    "null primary key": (CLEAN_ORDERS + [_order(None)], "not_null", "order_id", 1),
    "duplicate primary key": (CLEAN_ORDERS + [_order(1)], "primary_key_duplicates", "order_id", 1),
    "orphan foreign key": (CLEAN_ORDERS + [_order(5, customer_id=99)], "foreign_key_orphans", "(customer_id) -> customers(customer_id)", 1),
    "out-of-range amount": (CLEAN_ORDERS + [_order(5, amount="-5.00")], "range", "amount", 1),
    "stale data": ([_order(n, updated_at=NOW - dt.timedelta(days=3)) for n in (1, 2)], "freshness", "updated_at", 2),
}


def _write(catalog: Catalog, name: str, schema: pa.Schema, rows: list[dict]) -> int:
    """Create or overwrite `<NAMESPACE>.<name>` with `rows`; returns the new snapshot id."""
    identifier = f"{NAMESPACE}.{name}"
    catalog.create_namespace_if_not_exists(NAMESPACE)
    table = catalog.create_table_if_not_exists(identifier, schema=schema)
    data = pa.Table.from_pylist(rows, schema=schema)
    table.overwrite(data) if table.current_snapshot() else table.append(data)
    return table.current_snapshot().snapshot_id


@pytest.fixture
def contracts_for_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(validate.CONTRACT_LAYERS, NAMESPACE, SILVER)


# --- no services: PyIceberg's SQL catalog on SQLite ---------------------------------------


@pytest.fixture
def sql_catalog(tmp_path: Path) -> Catalog:
    return SqlCatalog("test", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "warehouse").as_uri())


def test_validate_table_reads_a_snapshot_and_a_branch(sql_catalog: Catalog) -> None:
    _write(sql_catalog, "customers", CUSTOMERS_SCHEMA, CUSTOMERS)
    clean = _write(sql_catalog, "orders", ORDERS_SCHEMA, CLEAN_ORDERS)
    sql_catalog.load_table(f"{NAMESPACE}.orders").manage_snapshots().create_branch(clean, "audited").commit()
    _write(sql_catalog, "orders", ORDERS_SCHEMA, CLEAN_ORDERS + [_order(1)])
    orders = CONTRACTS.table("orders")

    current = validate.validate_table(sql_catalog, f"{NAMESPACE}.orders", orders)
    at_snapshot = validate.validate_table(sql_catalog, f"{NAMESPACE}.orders", orders, snapshot_id=clean)
    at_branch = validate.validate_table(sql_catalog, f"{NAMESPACE}.orders", orders, branch="audited")

    assert not current.passed and current.rows == 5
    assert at_snapshot.passed and at_snapshot.rows == 4 and at_snapshot.snapshot_id == clean
    assert at_branch.passed and at_branch.snapshot_id == clean
    with pytest.raises(ConfigError, match="has no branch or tag 'nope': use one of audited, main"):
        validate.validate_table(sql_catalog, f"{NAMESPACE}.orders", orders, branch="nope")
    with pytest.raises(ConfigError, match="has no snapshot 1:"):
        validate.validate_table(sql_catalog, f"{NAMESPACE}.orders", orders, snapshot_id=1)
    with pytest.raises(ConfigError, match=f"table {NAMESPACE}.sessions not found"):
        validate.validate_table(sql_catalog, f"{NAMESPACE}.sessions", CONTRACTS.table("sessions"))


def test_run_date_bounds_follow_the_run_dates_of_the_snapshot_history(sql_catalog: Catalog) -> None:
    """Each snapshot as a Silver MERGE writes it, with its run date; validating one reads its ancestors'."""
    _write(sql_catalog, "customers", CUSTOMERS_SCHEMA, CUSTOMERS)
    table = sql_catalog.create_table(f"{NAMESPACE}.orders", schema=ORDERS_SCHEMA)
    old_order = _order(1, updated_at=dt.datetime(2020, 3, 1, tzinfo=dt.timezone.utc))
    newer_order = _order(2, updated_at=dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc))
    for day, rows in (("2020-03-01", [old_order]), ("2021-06-01", [newer_order])):
        table.append(pa.Table.from_pylist(rows, schema=ORDERS_SCHEMA), snapshot_properties={"lakehouse.run-date": day})
    first, second = (snapshot.snapshot_id for snapshot in table.snapshots())
    orders = CONTRACTS.table("orders")

    def out_of_range(snapshot_id: int | None) -> int:
        result = validate.validate_table(sql_catalog, f"{NAMESPACE}.orders", orders, snapshot_id=snapshot_id)
        return {c.column: c.failing_rows for c in result.checks if c.name == "run_date_range"}["ordered_at"]

    # 2020-03-01..2021-06-01: each order within a year of its own run; by today (no run date) it is too old.
    assert validate.run_dates(table, second) == RunDates(dt.date(2020, 3, 1), dt.date(2021, 6, 1))
    assert validate.run_dates(table, first) == RunDates.of(dt.date(2020, 3, 1))
    assert out_of_range(second) == out_of_range(first) == 0
    table.append(pa.Table.from_pylist([], schema=ORDERS_SCHEMA))  # a snapshot no pipeline run wrote, at its head
    assert validate.run_dates(table, table.current_snapshot().snapshot_id) == RunDates(dt.date(2020, 3, 1), dt.date(2021, 6, 1))
    assert validate.run_dates(table, None) is None
    unrecorded = sql_catalog.create_table(f"{NAMESPACE}.orders_elsewhere", schema=ORDERS_SCHEMA)
    unrecorded.append(pa.Table.from_pylist([old_order], schema=ORDERS_SCHEMA))
    assert validate.run_dates(unrecorded, unrecorded.current_snapshot().snapshot_id) is None
    by_today = validate.validate_table(sql_catalog, f"{NAMESPACE}.orders_elsewhere", orders)
    assert {c.column: c.failing_rows for c in by_today.checks if c.name == "run_date_range"}["ordered_at"] == 1


def test_config_errors_are_one_red_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_CATALOG__PORT", "1")  # nothing listens there
    for args, message in (
        (["validate", "gold.orders"], "no contract file for layer 'gold'"),
        (["validate", "silver.nope"], "no contract for table 'nope' in layer silver"),
        (["validate", "silver.orders", "--snapshot", "1", "--branch", "b"], "--snapshot and --branch both given"),
        (["validate", "--snapshot", "1"], "names a snapshot of one table"),
        (["validate", "silver.orders"], "the REST catalog at http://127.0.0.1:1 is not reachable"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output


# --- integration: the real REST catalog, through the CLI -------------------------------------


def _cli_env(settings: LakehouseSettings) -> dict[str, str]:
    return {"LAKEHOUSE_HOME": str(settings.home), "LAKEHOUSE_CATALOG__PORT": str(settings.catalog.port)}


def _validate(settings: LakehouseSettings, *args: str) -> tuple[int, dict]:
    result = runner.invoke(
        app, ["validate", f"{NAMESPACE}.orders", "--format", "json", "--max-age-hours", "24", *args], env=_cli_env(settings)
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.integration
def test_validate_through_the_cli_on_the_rest_catalog(stack: LakehouseSettings, contracts_for_namespace) -> None:
    from catalog.iceberg_catalog import iceberg_catalog

    catalog = iceberg_catalog(stack)
    _write(catalog, "customers", CUSTOMERS_SCHEMA, CUSTOMERS)
    clean = _write(catalog, "orders", ORDERS_SCHEMA, CLEAN_ORDERS)

    text = runner.invoke(app, ["validate", f"{NAMESPACE}.orders", f"{NAMESPACE}.customers"], env=_cli_env(stack))
    assert text.exit_code == 0, text.output
    assert f"{NAMESPACE}.orders" in text.output and "all error checks passed" in text.output
    code, report = _validate(stack)
    assert code == 0 and report["passed"] and report["tables"][0]["snapshot_id"] == clean

    for violation, (rows, check, column, failing) in VIOLATIONS.items():
        _write(catalog, "orders", ORDERS_SCHEMA, rows)
        code, report = _validate(stack)
        checks = report["tables"][0]["checks"]
        failed = {(c["name"], c["column"]): c["failing_rows"] for c in checks if not c["passed"]}
        assert code == 1, violation
        assert failed.get((check, column)) == failing, (violation, failed)

    code, report = _validate(stack, "--snapshot", str(clean))
    assert code == 0 and report["tables"][0]["rows"] == len(CLEAN_ORDERS)
