"""A warehouse table (PostgreSQL here, standing in for Snowflake or Redshift) into Bronze rows, by Spark's JDBC source.

Incremental by a cursor column (`updated_at`), the way dlt's `incremental` and most ELT
tools read a table, with the two fixes a bare `cursor > last` needs:

- ties: rows sharing the last cursor value are told apart by the key, so the read
  condition is the row comparison `(cursor, key) > (last_cursor - lookback, last_key)`;
- late commits: a transaction that commits after the extract, with a cursor value below
  the last one read, would be skipped forever. The lookback re-reads that much of the
  cursor's range each time, and the rows read again are absorbed: a row whose
  (`_record_hash`, occurrence number) is already in Bronze's slice of that range is not
  appended again. A multiset difference, so exact duplicate rows of the source (tables
  without enforced keys have them) still arrive, as many times as the source holds them.

The lookback bounds what is caught: a row committed later than that behind the newest
cursor value (or redelivered with an old cursor value) is not read. Size it from the
source's worst delay (`ingestion/sources.yml`).

Every column is rendered to text inside PostgreSQL (`2026-01-01 00:53:31`, numerics as
stored), so no value can break Spark's JDBC type mapping and Bronze spells values as the
file mode does; the columns are read from information_schema on each run, so a column
added by the source arrives with the next extract. A table with `partitions > 1` is read
in parallel ranges of its partition column (bounds from a min/max query).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import Column, DataFrame, DataFrameReader, SparkSession, Window
from pyspark.sql import functions as F
from sqlglot import exp

from catalog import postgres
from catalog.errors import LakehouseError
from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import LINE_NUMBER, PARSE_ERROR, RAW_LINE, RECORD_HASH, SOURCE_FILE, column
from ingestion.sources.commit import Extract, bronze_frame

if TYPE_CHECKING:
    from ingestion.sources.declarations import JdbcSource

DIALECT = "postgres"
DEFAULT_SCHEMA = "public"
DRIVER = "org.postgresql.Driver"
# Rows per round trip; the driver's default (0) would fetch a whole table into memory.
FETCH_SIZE = 10_000
TIME_TYPES = frozenset({"timestamp without time zone", "timestamp with time zone", "date"})
NUMBER_TYPES = frozenset({"smallint", "integer", "bigint", "numeric", "real", "double precision"})
# Instants are rendered in UTC, as the warehouse extracts spell them.
_INSTANT = "timestamp with time zone"
# Helper columns of the read, dropped before Bronze.
_SORT_PREFIX = "__sort_"
_PARTITION = "__partition"
_OCCURRENCE = "__occurrence"
_SEEN = "__seen"
# Numbers in Bronze's text compared as numbers (wide enough for bigint and most numerics).
_NUMBER = "decimal(38,10)"


class JdbcSourceError(LakehouseError):
    """A JDBC source could not be read; the message names the source and the fix."""


@dataclass(frozen=True)
class SourceTable:
    """The table as information_schema describes it now."""

    schema: str
    table: str
    columns: Mapping[str, str]  # name -> data_type, in the table's order

    def expression(self) -> exp.Table:
        return exp.table_(self.table, db=self.schema, quoted=True)


# --- The query (pure) ------------------------------------------------------


def table_parts(table: str) -> tuple[str, str]:
    """`schema.table` or `table` (in `public`) -> (schema, table)."""
    parsed = exp.to_table(table, dialect=DIALECT)
    return (parsed.db or DEFAULT_SCHEMA, parsed.name)


def columns_query(schema: str, table: str) -> str:
    columns = exp.table_("columns", db="information_schema")
    return (
        # information_schema's own domain types (sql_identifier) are not types Spark maps.
        exp.select(
            exp.cast(exp.column("column_name"), exp.DataType.Type.TEXT).as_("column_name"),
            exp.cast(exp.column("data_type"), exp.DataType.Type.TEXT).as_("data_type"),
        )
        .from_(columns)
        .where(exp.column("table_schema").eq(exp.Literal.string(schema)))
        .where(exp.column("table_name").eq(exp.Literal.string(table)))
        .order_by("ordinal_position")
        .sql(dialect=DIALECT)
    )


def _ident(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _comparable(name: str, data_type: str) -> exp.Expression:
    """The column as the cursor compares it: an instant as its UTC wall time, like its text."""
    if data_type == _INSTANT:
        return exp.AtTimeZone(this=_ident(name), zone=exp.Literal.string("UTC"))
    return _ident(name)


def _as_text(name: str, data_type: str) -> exp.Expression:
    return exp.cast(_comparable(name, data_type), exp.DataType.Type.TEXT)


def _literal_of(value: str, data_type: str) -> exp.Expression:
    kind = "timestamp" if data_type == _INSTANT else data_type
    return exp.cast(exp.Literal.string(value), exp.DataType.build(kind, dialect=DIALECT))


def read_condition(
    table: SourceTable, source: JdbcSource, position: Mapping[str, Any] | None
) -> exp.Expression | None:
    """Rows after `position` less the lookback: `(cursor, key) > (last_cursor - lookback, last_key)`."""
    if not position:
        return None
    cursor = source.cursor.column
    cursor_type = table.columns[cursor]
    lower: exp.Expression = _literal_of(position["cursor"], cursor_type)
    if source.cursor.lookback_seconds and cursor_type in TIME_TYPES:
        seconds = exp.Literal.string(str(source.cursor.lookback_seconds))
        lower = exp.Sub(this=lower, expression=exp.Interval(this=seconds, unit=exp.var("SECOND")))
    comparable_cursor = _comparable(cursor, cursor_type)
    keys = position.get("key") or []
    if len(keys) != len(source.key) or any(value is None for value in keys):
        # No whole key to break the tie with: read the whole last cursor value again (absorbed below).
        return exp.GTE(this=comparable_cursor, expression=lower)
    left = exp.Tuple(expressions=[comparable_cursor, *(_comparable(k, table.columns[k]) for k in source.key)])
    right = exp.Tuple(expressions=[lower, *(_literal_of(v, table.columns[k]) for k, v in zip(source.key, keys, strict=True))])
    return exp.GT(this=left, expression=right)


def extract_query(table: SourceTable, source: JdbcSource, position: Mapping[str, Any] | None) -> exp.Select:
    """Every column as text under its own name, plus the typed cursor and key to order by (and the partition column)."""
    texts = [_as_text(name, kind).as_(name, quoted=True) for name, kind in table.columns.items()]
    sort_keys = [
        _comparable(name, table.columns[name]).as_(f"{_SORT_PREFIX}{index}", quoted=True)
        for index, name in enumerate((source.cursor.column, *source.key))
    ]
    select = exp.select(*texts, *sort_keys).from_(table.expression())
    if source.partition_column and source.partitions > 1:
        select = select.select(_ident(source.partition_column).as_(_PARTITION, quoted=True))
    condition = read_condition(table, source, position)
    return select.where(condition) if condition is not None else select


def bounds_query(table: SourceTable, source: JdbcSource, position: Mapping[str, Any] | None) -> exp.Select:
    """The partition column's range among the rows to read: the parallel read's bounds."""
    assert source.partition_column is not None
    partition = _ident(source.partition_column)
    select = exp.select(exp.Min(this=partition).as_("lower"), exp.Max(this=partition).as_("upper")).from_(table.expression())
    condition = read_condition(table, source, position)
    return select.where(condition) if condition is not None else select


def lower_cursor_text(position: Mapping[str, Any] | None, cursor_type: str, lookback_seconds: int) -> str | None:
    """The cursor value the read starts at, as Bronze's text spells it: where Bronze's slice to compare with starts."""
    if not position:
        return None
    last = str(position["cursor"])
    if not lookback_seconds or cursor_type not in TIME_TYPES:
        return last
    if cursor_type == "date":
        return (dt.date.fromisoformat(last) - dt.timedelta(days=math.ceil(lookback_seconds / 86_400))).isoformat()
    # PostgreSQL's text of a timestamp is isoformat(" "), the fraction only when there is one.
    return (dt.datetime.fromisoformat(last) - dt.timedelta(seconds=lookback_seconds)).isoformat(sep=" ")


def validate(table: SourceTable, source: JdbcSource, where: str) -> None:
    """The declared cursor, key and partition column exist and can do their job."""
    declared = [("cursor", source.cursor.column), *(("key", k) for k in source.key)]
    if source.partition_column and source.partitions > 1:
        declared.append(("partition_column", source.partition_column))
    for role, name in declared:
        if name not in table.columns:
            raise JdbcSourceError(
                f"{source.name}: {where} has no column {name!r} (its {role}): fix {role} in ingestion/sources.yml"
            )
    cursor_type = table.columns[source.cursor.column]
    if cursor_type not in TIME_TYPES | NUMBER_TYPES:
        raise JdbcSourceError(
            f"{source.name}: cursor column {source.cursor.column!r} of {where} is {cursor_type}, which does not order "
            "changes: declare a timestamp, date or number column as the cursor in ingestion/sources.yml"
        )


# --- The rows (pure Spark transforms) --------------------------------------


def sort_columns(frame: DataFrame) -> list[Column]:
    """(cursor, key) ascending, nulls first, then every value, so equal keys still number the same on a rerun."""
    sorts = sorted(name for name in frame.columns if name.startswith(_SORT_PREFIX))
    values = [name for name in frame.columns if not name.startswith("__")]
    return [F.col(name).asc_nulls_first() for name in sorts] + [column(name).asc_nulls_first() for name in values]


def describe_rows(read: DataFrame, source_columns: Sequence[str], source_file: str) -> DataFrame:
    """The read rows with `_source_file`, `_line_number` (in (cursor, key) order), `_raw_line`, `_parse_error`."""
    # One window over the whole extract on purpose: line numbers count across it.
    in_order = Window.partitionBy(F.lit(0)).orderBy(*sort_columns(read))
    # to_json leaves out null fields, so a column added later (null in old rows) does not
    # change an old row's text, nor its hash, when the lookback reads it again.
    raw_line = F.to_json(F.struct(*(column(name) for name in source_columns)))
    return read.select(
        *(column(name) for name in source_columns),
        F.lit(source_file).alias(SOURCE_FILE),
        F.row_number().over(in_order).cast("long").alias(LINE_NUMBER),
        raw_line.alias(RAW_LINE),
        F.lit(None).cast("string").alias(PARSE_ERROR),
    )


def absorb_seen(rows: DataFrame, seen: DataFrame) -> DataFrame:
    """`rows` less those Bronze already has: the multiset difference by `_record_hash`.

    `seen` holds Bronze's `_record_hash` of the re-read range, one row per stored row. The
    n-th copy of a hash in `rows` (in line order) is new when Bronze holds fewer than n.
    """
    occurrence = Window.partitionBy(RECORD_HASH).orderBy(LINE_NUMBER)
    counts = seen.groupBy(RECORD_HASH).agg(F.count(F.lit(1)).alias(_SEEN))
    numbered = rows.withColumn(_OCCURRENCE, F.row_number().over(occurrence))
    fresh = numbered.join(counts, on=RECORD_HASH, how="left").where(F.col(_OCCURRENCE) > F.coalesce(F.col(_SEEN), F.lit(0)))
    return fresh.select(*rows.columns)


def position_after(last: Mapping[str, Any], source: JdbcSource) -> dict[str, Any]:
    """The last row read (in (cursor, key) order) as the position: its text values, JSON-able."""
    return {"cursor": last[source.cursor.column], "key": [last[name] for name in source.key]}


# --- Extract (I/O) ---------------------------------------------------------


def extract(
    spark: SparkSession,
    settings: LakehouseSettings,
    source: JdbcSource,
    position: Mapping[str, Any] | None,
    *,
    batch_id: str,
    ingested_at: dt.datetime,
    day: dt.date,
) -> Extract:
    """The rows after `position` (less the lookback, less what Bronze has), as Bronze rows, and the new position."""
    schema, table_name = table_parts(source.table)
    where = f"{source.database}.{schema}.{table_name}"
    try:
        table = _describe(spark, settings, source, schema, table_name, where)
        validate(table, source, where)
        read = _read(spark, settings, source, table, position).localCheckpoint(eager=True)
        source_file = f"postgresql://{settings.postgres.host}:{settings.postgres.port}/{where}?batch={batch_id}"
        described = bronze_frame(
            describe_rows(read, list(table.columns), source_file), batch_id=batch_id, ingested_at=ingested_at, ingest_date=day
        )
        lower = lower_cursor_text(position, table.columns[source.cursor.column], source.cursor.lookback_seconds)
        cursor_type = table.columns[source.cursor.column]
        fresh = described if lower is None else absorb_seen(described, _bronze_slice(spark, settings, source, lower, cursor_type))
        rows = fresh.localCheckpoint(eager=True)
        last = read.orderBy(*(c.desc_nulls_last() for c in _sort_names(read))).select(source.cursor.column, *source.key).first()
    except (Py4JJavaError, CapturedException) as exc:
        raise _known_error(exc, settings, source, where) or exc
    # Nothing read (or only rows without a cursor value): the position stays.
    read_any = last is not None and last[source.cursor.column] is not None
    new_position = position_after(last.asDict(), source) if read_any else dict(position or {})
    return Extract(rows=rows, position=new_position, rows_read=rows.count(), unit=where)


def _sort_names(frame: DataFrame) -> list[Column]:
    return [F.col(name) for name in sorted(n for n in frame.columns if n.startswith(_SORT_PREFIX))]


def _jdbc(spark: SparkSession, settings: LakehouseSettings, database: str) -> DataFrameReader:
    return (
        spark.read.format("jdbc")
        .option("url", postgres.jdbc_url(settings, database))
        .option("driver", DRIVER)
        .option("user", settings.postgres.user)
        .option("password", postgres.password(settings))
        .option("fetchsize", str(FETCH_SIZE))
        # A timestamp without time zone stays one: no shift through the JVM's zone.
        .option("preferTimestampNTZ", "true")
    )


def _describe(
    spark: SparkSession, settings: LakehouseSettings, source: JdbcSource, schema: str, table: str, where: str
) -> SourceTable:
    rows = _jdbc(spark, settings, source.database).option("query", columns_query(schema, table)).load().collect()
    if not rows:
        raise JdbcSourceError(
            f"{source.name}: table {where} does not exist: feed the source first (the demo does), "
            "or fix database/table in ingestion/sources.yml"
        )
    return SourceTable(schema, table, {row["column_name"]: row["data_type"] for row in rows})


def _read(
    spark: SparkSession, settings: LakehouseSettings, source: JdbcSource, table: SourceTable, position: Mapping[str, Any] | None
) -> DataFrame:
    reader = _jdbc(spark, settings, source.database)
    query = extract_query(table, source, position)
    if not (source.partition_column and source.partitions > 1):
        return reader.option("query", query.sql(dialect=DIALECT)).load()
    bounds = reader.option("query", bounds_query(table, source, position).sql(dialect=DIALECT)).load().first()
    if bounds is None or bounds["lower"] is None:
        return reader.option("query", query.sql(dialect=DIALECT)).load()
    read = (
        _jdbc(spark, settings, source.database)
        .option("dbtable", query.subquery("extract").sql(dialect=DIALECT))
        .option("partitionColumn", _PARTITION)
        .option("lowerBound", str(bounds["lower"]))
        .option("upperBound", str(bounds["upper"]))
        .option("numPartitions", str(source.partitions))
        .load()
    )
    return read.drop(_PARTITION)


def _bronze_slice(
    spark: SparkSession, settings: LakehouseSettings, source: JdbcSource, lower: str, cursor_type: str
) -> DataFrame:
    """`_record_hash` of Bronze's rows from the cursor value `lower` on (a superset of what the read re-covers)."""
    name = TableName(BRONZE, source.name).sql(settings)
    if not spark.catalog.tableExists(name):
        return spark.createDataFrame([], f"{RECORD_HASH} string")
    cursor = column(source.cursor.column)
    if cursor_type in NUMBER_TYPES:
        after = cursor.try_cast(_NUMBER) >= F.lit(lower).try_cast(_NUMBER)
    else:  # ISO text: text order is time order
        after = cursor >= F.lit(lower)
    return spark.table(name).where(after).select(RECORD_HASH)


# --- Faults ------------------------------------------------------------------

# SQLState -> (what happened, the fix); {where}, {server}, {user} are filled in.
SQLSTATE_FAULTS: Mapping[str, tuple[str, str]] = {
    "08001": ("PostgreSQL at {server} refused the connection", "start it with `lakehouse up`, or fix LAKEHOUSE_POSTGRES__HOST/PORT"),
    "08004": ("PostgreSQL at {server} rejected the connection", "check its log under <home>/run/postgres.log"),
    "08006": ("the connection to PostgreSQL at {server} failed", "check that it runs (`lakehouse status`)"),
    "28P01": (
        "PostgreSQL refused the password of user {user}",
        "set LAKEHOUSE_POSTGRES__PASSWORD to the server's password, or unset it to use the one `lakehouse up` generated",
    ),
    "28000": ("PostgreSQL refused user {user}", "set LAKEHOUSE_POSTGRES__USER to the server's user"),
    "3D000": ("database of {where} does not exist", "feed the source first (the demo does), or fix database in ingestion/sources.yml"),
    "42P01": ("table {where} does not exist", "feed the source first (the demo does), or fix table in ingestion/sources.yml"),
    "42703": ("a declared column is missing from {where}", "fix cursor, key or partition_column in ingestion/sources.yml"),
}


def error_for(sqlstate: str | None, source_name: str, settings: LakehouseSettings, where: str) -> JdbcSourceError | None:
    if sqlstate not in SQLSTATE_FAULTS:
        return None
    what, fix = SQLSTATE_FAULTS[sqlstate]
    fields = {"server": f"{settings.postgres.host}:{settings.postgres.port}", "user": settings.postgres.user, "where": where}
    return JdbcSourceError(f"{source_name}: {what.format(**fields)} (SQLState {sqlstate}): {fix}")


def _known_error(
    exc: Py4JJavaError | CapturedException, settings: LakehouseSettings, source: JdbcSource, where: str
) -> JdbcSourceError | None:
    known = error_for(sql_state(exc), source.name, settings, where)
    if known is not None:
        known.__cause__ = exc
    return known


def sql_state(exc: Exception) -> str | None:
    """The SQLState of the driver's exception somewhere in the Java cause chain Spark wrapped it in."""
    throwable = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    while throwable is not None:
        try:
            state = throwable.getSQLState()  # a java.sql.SQLException; other throwables have no such method
            if state:
                return str(state)
        except Py4JError:
            pass
        try:
            throwable = throwable.getCause()
        except Py4JError:
            return None
    return None
