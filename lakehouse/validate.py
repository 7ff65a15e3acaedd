"""`lakehouse validate`: a table's data contract checked with PyIceberg + Polars, no Spark, no Trino.

A table name is `<layer>.<table>`: the namespace picks the layer's contract file
(`silver.orders` -> silver.yml, table `orders`); a bare name means Silver.
The table is read at its current snapshot, or at `--snapshot ID` / `--branch NAME`;
the tables its foreign keys reference are read from the same namespace at their
current snapshot (a snapshot id belongs to one table only).

Bounds relative to the run date are checked against the run dates of the
snapshot and its ancestors (`lakehouse.run-date` in the summaries the Silver
MERGE writes): the earliest bounds below, the latest above, as a catch-up batch
over all those runs would. A table no pipeline run wrote is checked against today.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence

import polars as pl
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.table import Table
from rich.console import Console
from rich.table import Table as RichTable

from catalog.errors import ConfigError
from catalog.naming import BRONZE, SILVER, TableName
from catalog.settings import LakehouseSettings
from ingestion.contracts.contract import ContractFile, RunDates, TableContract, contracts_path, load_contracts
from ingestion.contracts.polars_checks import FRESHNESS_COLUMNS, QUARANTINE_REASON, TableResult, check_table

# Namespace -> the layer whose contract file (contracts_path) checks it.
CONTRACT_LAYERS: dict[str, str] = {SILVER: SILVER, BRONZE: BRONZE}
DEFAULT_LAYER = SILVER


def validate_tables(
    settings: LakehouseSettings,
    tables: Sequence[str] = (),
    *,
    snapshot_id: int | None = None,
    branch: str | None = None,
    max_age_hours: float | None = None,
) -> list[TableResult]:
    """Check each table against its layer's contract; no table = every table of the Silver contract."""
    from catalog.iceberg_catalog import iceberg_catalog

    if snapshot_id is not None and branch is not None:
        raise ConfigError("--snapshot and --branch both given: pick one")
    names = list(tables) or [str(TableName(DEFAULT_LAYER, t.name)) for t in _contracts(settings, DEFAULT_LAYER).tables]
    if snapshot_id is not None and len(names) != 1:
        raise ConfigError(f"--snapshot {snapshot_id} names a snapshot of one table, but {len(names)} tables were given: name one table")
    # Every name and contract resolved before the first catalog call: a typo fails fast.
    contracts = {}
    for name in names:
        namespace, table_name = _split(name)
        contracts[str(TableName(namespace, table_name))] = _contracts(settings, namespace).table(table_name)
    catalog = iceberg_catalog(settings)  # a catalog that does not answer: one line from the CLI (catalog/faults.py)
    return [
        validate_table(catalog, identifier, contract, snapshot_id=snapshot_id, branch=branch, max_age_hours=max_age_hours)
        for identifier, contract in contracts.items()
    ]


def validate_table(
    catalog: Catalog,
    identifier: str,
    contract: TableContract,
    *,
    snapshot_id: int | None = None,
    branch: str | None = None,
    max_age_hours: float | None = None,
) -> TableResult:
    """Check one Iceberg table (`namespace.table`) against `contract`; the namespace holds its referenced tables."""
    namespace = identifier.rsplit(".", 1)[0]
    table = _load(catalog, identifier)
    snapshot_id = _resolve_snapshot(table, identifier, snapshot_id, branch)
    frame = _scan(table, snapshot_id, [*[c.name for c in contract.columns], *FRESHNESS_COLUMNS])
    referenced = {
        fk.references.table: _scan(
            parent := _load(catalog, str(TableName(namespace, fk.references.table))), _current(parent), fk.references.columns
        )
        for fk in contract.foreign_keys
    }
    result = check_table(
        frame, contract, referenced, max_age_hours=max_age_hours, table=identifier, run_dates=run_dates(table, snapshot_id)
    )
    return dataclasses.replace(result, snapshot_id=snapshot_id)


# The snapshot summary property that records a Silver batch's run date (see ingestion.silver.publish).
RUN_DATE_PROPERTY = "lakehouse.run-date"


def run_dates(table: Table, snapshot_id: int | None) -> RunDates | None:
    """The first and last run dates recorded by `snapshot_id` and its ancestors; None if none is."""
    from pyiceberg.table.snapshots import ancestors_of

    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    found = sorted(
        dt.date.fromisoformat(value)
        for ancestor in ancestors_of(snapshot, table.metadata)
        if ancestor.summary is not None and (value := ancestor.summary.get(RUN_DATE_PROPERTY))
    )
    return RunDates(found[0], found[-1]) if found else None


def as_json(results: Sequence[TableResult]) -> str:
    """Stable keys for CI: {passed, tables: [{table, snapshot_id, rows, score, passed, freshness, checks, sample}]}."""
    document = {
        "passed": all(result.passed for result in results),
        "tables": [
            {
                "table": result.table,
                "snapshot_id": result.snapshot_id,
                "rows": result.rows,
                "score": result.score,
                "passed": result.passed,
                "freshness": None
                if result.freshness is None
                else {
                    "column": result.freshness.column,
                    "latest": result.freshness.latest.isoformat() if result.freshness.latest else None,
                    "age_hours": result.freshness.age_hours,
                },
                "checks": [
                    {
                        "name": check.name,
                        "column": check.column,
                        "passed": check.passed,
                        "failing_rows": check.failing_rows,
                        "severity": check.severity,
                        "description": check.description,
                    }
                    for check in result.checks
                ],
                "sample": result.sample.to_dicts(),
            }
            for result in results
        ],
    }
    return json.dumps(document, indent=2, default=str)


def print_results(console: Console, results: Sequence[TableResult]) -> None:
    """A rich table per table (check, column, status, failing rows, severity), then its score."""
    for result in results:
        at = f" @ snapshot {result.snapshot_id}" if result.snapshot_id else ""
        table = RichTable("check", "column", "status", "failing rows", "severity", title=f"{result.table}{at}: {result.rows:,} rows")
        for check in result.checks:
            status = "[green]pass[/]" if check.passed else "[red]FAIL[/]" if check.severity == "error" else "[yellow]warn[/]"
            table.add_row(check.name, check.column, status, f"{check.failing_rows:,}", check.severity)
        console.print(table)
        console.print(f"dq score {result.score:.4f}", soft_wrap=True)
        if result.freshness is not None and result.freshness.latest is not None:
            console.print(f"newest {result.freshness.column}: {result.freshness.latest:%Y-%m-%d %H:%M}Z ({result.freshness.age_hours:.1f} h old)")
        for check in result.checks:
            if not check.passed:
                console.print(f"  {check.name}: {check.description}", soft_wrap=True, markup=False, highlight=False)
        if result.sample.height:
            console.print(f"failing rows (first {result.sample.height}):")
            for row in result.sample.select(*result.primary_key, QUARANTINE_REASON).iter_rows(named=True):
                key = ", ".join(f"{name}={row[name]}" for name in result.primary_key)
                console.print(f"  {key}: {row[QUARANTINE_REASON]}", soft_wrap=True, markup=False, highlight=False)
    failed = [result.table for result in results if not result.passed]
    console.print(f"[red]failed: {', '.join(failed)}[/]" if failed else "[green]all error checks passed[/]")


def _contracts(settings: LakehouseSettings, layer: str) -> ContractFile:
    if layer not in CONTRACT_LAYERS:
        raise ConfigError(f"no contract file for layer '{layer}': name a table as <layer>.<table> with layer one of {', '.join(CONTRACT_LAYERS)}")
    return load_contracts(contracts_path(settings, CONTRACT_LAYERS[layer]))


def _split(name: str) -> tuple[str, str]:
    parts = name.split(".")
    if len(parts) == 1:
        return DEFAULT_LAYER, parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise ConfigError(f"'{name}' is not a table name: write <layer>.<table>, e.g. silver.orders")


def _load(catalog: Catalog, identifier: str) -> Table:
    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError) as exc:
        raise ConfigError(f"table {identifier} not found in catalog '{catalog.name}': run the pipeline first, or check the name") from exc


def _resolve_snapshot(table: Table, identifier: str, snapshot_id: int | None, branch: str | None) -> int | None:
    if snapshot_id is not None:
        if table.snapshot_by_id(snapshot_id) is None:
            recent = ", ".join(str(s.snapshot_id) for s in table.snapshots()[-5:]) or "none"
            raise ConfigError(f"{identifier} has no snapshot {snapshot_id}: use one of its snapshots (latest: {recent})")
        return snapshot_id
    if branch is not None:
        snapshot = table.snapshot_by_name(branch)
        if snapshot is None:
            raise ConfigError(f"{identifier} has no branch or tag '{branch}': use one of {', '.join(sorted(table.refs())) or 'none'}")
        return snapshot.snapshot_id
    return _current(table)


def _current(table: Table) -> int | None:
    snapshot = table.current_snapshot()
    return snapshot.snapshot_id if snapshot else None


def _scan(table: Table, snapshot_id: int | None, columns: Sequence[str]) -> pl.LazyFrame:
    """A lazy scan projected to those of `columns` the table has (the checks report a missing contract column)."""
    present = {field.name for field in table.schema().fields}
    projection = [name for name in dict.fromkeys(columns) if name in present]
    if snapshot_id is None:
        # No snapshot yet: an empty frame of the table's schema.
        return pl.from_arrow(table.schema().as_arrow().empty_table()).lazy().select(projection)  # type: ignore[union-attr]
    return pl.scan_iceberg(table, snapshot_id=snapshot_id).select(projection)
