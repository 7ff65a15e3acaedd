"""The warehouse and web-analytics sources as PostgreSQL tables, fed from the generator's planned days.

PostgreSQL stands in for Snowflake or Redshift, which do not enforce primary keys, so
neither do these tables: every delivered row is a table row, exact copies and
redeliveries included. The columns are typed as a warehouse types them (bigint ids,
`timestamp`, unconstrained `numeric` that keeps the scale each amount was written with,
integer quantities, text). The generator's problems become what such a table can show:

- a late correction is a later row (a later `updated_at`); a CDC change is a row of
  `customer_changes` with its `op` (I/U/D), as a Snowflake stream delivers changes;
- schema drift arrives by DDL: a new column by `ALTER TABLE ... ADD COLUMN`, an integer
  column that receives a value past 32 bits widens to bigint;
- a missing key is a NULL;
- a value of the wrong type cannot enter a typed column, so its stand-in is a value the
  column holds but the Silver contract refuses (`BAD_TYPE_STAND_INS`);
- bytes that are not UTF-8 cannot enter a UTF-8 database: such rows are not delivered,
  and `TableLoad.undeliverable` says which and why.

`plan_load` is pure (a day's delivery in, the rows and DDL out); `feed_day` does the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
from sqlglot import exp

from catalog import postgres
from catalog.errors import LakehouseError
from catalog.settings import LakehouseSettings
from ingestion.synthetic.delivery_problems import DeliveredRow
from ingestion.synthetic.generator import PlannedDay, SourceDelivery
from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.source_spec import Record

SCHEMA = "public"
INT4_MAX = 2**31 - 1
_TEXT, _BIGINT, _INTEGER, _NUMERIC, _TIMESTAMP = "text", "bigint", "integer", "numeric", "timestamp"


class FeedError(LakehouseError):
    """The PostgreSQL source could not be fed."""


@dataclass(frozen=True)
class TableSpec:
    database: str
    table: str
    # Every column the source may deliver, with its PostgreSQL type.
    types: Mapping[str, str]


TABLES: Mapping[str, TableSpec] = {
    "warehouse_orders": TableSpec(
        "warehouse",
        "orders",
        {
            "order_id": _BIGINT, "customer_id": _BIGINT, "ordered_at": _TIMESTAMP, "status": _TEXT,
            "currency": _TEXT, "amount": _NUMERIC, "quantity": _INTEGER, "channel": _TEXT,
            "ship_city": _TEXT, "updated_at": _TIMESTAMP, "coupon_code": _TEXT,
        },
    ),
    "warehouse_customers": TableSpec(
        "warehouse",
        "customer_changes",
        {
            "op": _TEXT, "customer_id": _BIGINT, "first_name": _TEXT, "last_name": _TEXT, "email": _TEXT,
            "country": _TEXT, "segment": _TEXT, "updated_at": _TIMESTAMP,
        },
    ),
    "web_sessions": TableSpec(
        "behaviour",
        "sessions",
        {
            "session_id": _TEXT, "customer_id": _BIGINT, "started_at": _TIMESTAMP, "ended_at": _TIMESTAMP,
            # numeric, not integer: a page count the analytics tool computed as a fraction is
            # stored as sent, and Silver's int contract refuses it (see BAD_TYPE_STAND_INS).
            "pages": _NUMERIC, "device": _TEXT, "channel": _TEXT,
        },
    ),
}


def _digits(value: str) -> str:
    return "".join(re.findall(r"\d", value)) or str(len(value))


# (source, column) -> a value the typed column holds that Silver's contract refuses, for a
# delivered value the column cannot hold ('123,4x', 'seven').
BAD_TYPE_STAND_INS: Mapping[tuple[str, str], Callable[[str], str]] = {
    # Three decimal places: Silver's decimal(18,2) quarantines more places than its scale.
    ("warehouse_orders", "amount"): lambda value: f"{_digits(value)}.005",
    # A fraction: Silver's int column quarantines it as not a valid int.
    ("web_sessions", "pages"): lambda value: f"{_digits(value)}.5",
}
UNDELIVERABLE_REASONS: Mapping[MalformedKind, str] = {
    MalformedKind.INVALID_UTF8: "bytes that are not UTF-8 cannot be stored in a UTF-8 database",
}


class Undeliverable(NamedTuple):
    row: DeliveredRow
    reason: str


@dataclass(frozen=True)
class TableLoad:
    """One source's day as the PostgreSQL table receives it."""

    source: str
    spec: TableSpec
    columns: Mapping[str, str]  # the day's columns in delivery order, with their types
    delivered: tuple[DeliveredRow, ...]  # in delivery order, as written (stand-ins in place)
    undeliverable: tuple[Undeliverable, ...]

    def rows(self) -> list[tuple[object, ...]]:
        return [tuple(row.record.get(name) for name in self.columns) for row in self.delivered]


def plan_load(delivery: SourceDelivery) -> TableLoad:
    """What a day's delivery becomes in its table: the rows, their columns' types, what cannot go in."""
    source = delivery.source.name
    spec = TABLES[source]
    delivered: list[DeliveredRow] = []
    undeliverable: list[Undeliverable] = []
    for row in delivery.rows:
        if row.defect in UNDELIVERABLE_REASONS:
            undeliverable.append(Undeliverable(row, f"{UNDELIVERABLE_REASONS[row.defect]} ({row.defect_field})"))
        elif row.defect == MalformedKind.BAD_TYPE:
            assert row.defect_field is not None
            stand_in = BAD_TYPE_STAND_INS[(source, row.defect_field)](str(row.record[row.defect_field]))
            delivered.append(row._replace(record={**row.record, row.defect_field: stand_in}))
        else:
            delivered.append(row)
    columns = {name: _column_type(spec.types[name], name, delivered) for name in delivery.columns}
    return TableLoad(source, spec, columns, tuple(delivered), tuple(undeliverable))


def _column_type(declared: str, name: str, rows: Sequence[DeliveredRow]) -> str:
    """The declared type, widened from integer to bigint when a value needs more than 32 bits."""
    if declared == _INTEGER and any(abs(int(row.record[name])) > INT4_MAX for row in rows if row.record.get(name) is not None):  # type: ignore[call-overload]
        return _BIGINT
    return declared


def alterations(existing: Mapping[str, str], wanted: Mapping[str, str]) -> list[exp.Expression]:
    """ALTER TABLE actions that let a table with `existing` columns (information_schema data types) take `wanted`."""
    actions: list[exp.Expression] = []
    for name, kind in wanted.items():
        if name not in existing:
            actions.append(exp.ColumnDef(this=_identifier(name), kind=exp.DataType.build(kind, dialect="postgres")))
        elif existing[name] == "integer" and kind == _BIGINT:
            actions.append(exp.AlterColumn(this=_identifier(name), dtype=exp.DataType.build(_BIGINT, dialect="postgres")))
    return actions


def expected_text(record: Record, columns: Iterable[str]) -> dict[str, str | None]:
    """The text PostgreSQL gives back for a written record: what an extract must read."""
    return {name: None if record.get(name) is None else str(record[name]) for name in columns}


# --- I/O ---------------------------------------------------------------------


def feed_day(settings: LakehouseSettings, planned: PlannedDay) -> dict[str, TableLoad]:
    """Write the day's rows of every PostgreSQL-backed source (creating databases and tables as needed)."""
    loads = [plan_load(delivery) for delivery in planned.deliveries if delivery.source.name in TABLES]
    ensure_databases(settings, sorted({load.spec.database for load in loads}))
    for load in loads:
        with _connect(settings, load.spec.database) as connection:
            write_load(connection, load)
    return {load.source: load for load in loads}


def ensure_databases(settings: LakehouseSettings, names: Iterable[str]) -> None:
    # CREATE DATABASE cannot run inside a transaction block.
    with _connect(settings, postgres.ADMIN_DATABASE, autocommit=True) as connection:
        for name in names:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                connection.execute(exp.Create(this=exp.Table(this=_identifier(name)), kind="DATABASE").sql(dialect="postgres"))


def write_load(connection: psycopg.Connection, load: TableLoad) -> None:
    """One transaction: the table (created or altered to take the day's columns), then the rows by COPY."""
    table = exp.table_(load.spec.table, db=SCHEMA, quoted=True)
    with connection.transaction():
        create = exp.Create(
            this=exp.Schema(
                this=table,
                expressions=[
                    exp.ColumnDef(this=_identifier(name), kind=exp.DataType.build(kind, dialect="postgres"))
                    for name, kind in load.columns.items()
                ],
            ),
            kind="TABLE",
            exists=True,
        )
        connection.execute(create.sql(dialect="postgres"))
        existing = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (SCHEMA, load.spec.table),
            ).fetchall()
        )
        actions = alterations(existing, load.columns)
        if actions:
            connection.execute(exp.Alter(this=table, kind="TABLE", actions=actions).sql(dialect="postgres"))
        copy = exp.Copy(
            this=exp.Schema(this=table, expressions=[_identifier(name) for name in load.columns]),
            kind=True,
            files=[exp.var("STDIN")],
        )
        with connection.cursor().copy(copy.sql(dialect="postgres")) as writer:
            for row in load.rows():
                writer.write_row(row)


def _connect(settings: LakehouseSettings, database: str, *, autocommit: bool = False) -> psycopg.Connection:
    try:
        return psycopg.connect(**postgres.connection_kwargs(settings, database), autocommit=autocommit)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        where = f"{settings.postgres.host}:{settings.postgres.port}"
        raise FeedError(
            f"could not feed the PostgreSQL source at {where} ({_first_line(exc)}): start it with `lakehouse up`, "
            "or check LAKEHOUSE_POSTGRES__PORT and LAKEHOUSE_POSTGRES__PASSWORD"
        ) from exc


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _identifier(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)
