"""The PostgreSQL source over JDBC (`ingestion/sources/jdbc.py`), fed by `ingestion/synthetic/feeds/postgres.py`.

The pure parts first (the query, the lookback's start, the feeder's mapping); then, on a
real PostgreSQL started through `catalog.services` and a REST catalog of this module's own:
two generated days fed and extracted into Bronze, compared with what the feeder wrote.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from sqlglot import exp

from catalog import postgres, services
from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings, PostgresSettings
from ingestion.bronze.columns import LINE_NUMBER, METADATA_COLUMNS, RECORD_HASH, SOURCE_FILE
from ingestion.contracts.contract import load_contracts
from ingestion.contracts.spark_row_checks import failed_checks
from ingestion.silver.batch import cast_to_contract
from ingestion.silver.entities import entity_of
from ingestion.sources import jdbc
from ingestion.sources.commit import bronze_frame, commit_rows, committed_position
from ingestion.sources.declarations import Cursor, JdbcSource, load_sources
from ingestion.sources.job import batch_id_for
from ingestion.synthetic.delivery_problems import DeliveredRow, Origin
from ingestion.synthetic.feeds import postgres as feed
from ingestion.synthetic.generator import SourceDelivery, plan_days
from ingestion.synthetic.problem_rates import ProblemRates
from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.warehouse_orders import SOURCE as ORDERS_SOURCE
from ingestion.synthetic.warehouse_orders import SPARE_ORDER_ID_BASE
from ingestion.synthetic.web_sessions import SOURCE as SESSIONS_SOURCE
from tests.conftest import SHARED_CACHE, TEST_CATALOG_PORT, TEST_POSTGRES_PORT, own_rest_catalog

START = dt.date(2026, 1, 1)
DAYS = 2
SCALE = 0.05
SEED = 42
# More problems than the defaults, so two small days show each kind the feeder handles.
RATES = ProblemRates(duplicate_rate=0.05, redelivery_rate=0.05, malformed_rate=0.08)
# Redelivered rows carry the previous day's cursor values: the lookback covers two days.
LOOKBACK_SECONDS = 2 * 86_400
AT = dt.datetime(2026, 1, 3, 6, 0, tzinfo=dt.UTC)
CATALOG = "jdbccat"


def _jdbc_source(name: str, database: str, table: str, key: tuple[str, ...], cursor: str, lookback: int = 0, **more) -> JdbcSource:
    return JdbcSource(
        name=name, database=database, table=table, key=key, cursor=Cursor(column=cursor, lookback_seconds=lookback),
        format="csv", pattern="*.csv", **more,
    )


def _declared(settings: LakehouseSettings, name: str) -> JdbcSource:
    """The packaged declaration (its table must be the one the feeder writes), with this test's lookback."""
    source = load_sources(settings)[name]
    assert isinstance(source, JdbcSource)
    return source.model_copy(update={"cursor": source.cursor.model_copy(update={"lookback_seconds": LOOKBACK_SECONDS})})


JDBC_SOURCES = ("warehouse_orders", "warehouse_customers", "web_sessions")


# --- Pure parts --------------------------------------------------------------

ORDERS_TABLE = jdbc.SourceTable(
    "public", "orders", {"order_id": "bigint", "amount": "numeric", "updated_at": "timestamp without time zone"}
)


def test_the_query_renders_every_column_as_text_and_reads_after_the_position_less_the_lookback() -> None:
    source = _jdbc_source("o", "warehouse", "public.orders", ("order_id",), "updated_at", 60)
    query = jdbc.extract_query(ORDERS_TABLE, source, {"cursor": "2026-01-01 10:00:00", "key": ["7"]}).sql(dialect="postgres")
    assert 'CAST("amount" AS TEXT) AS "amount"' in query
    assert (
        "WHERE (\"updated_at\", \"order_id\") > "
        "(CAST('2026-01-01 10:00:00' AS TIMESTAMP) - INTERVAL '60 SECOND', CAST('7' AS BIGINT))"
    ) in query
    assert "WHERE" not in jdbc.extract_query(ORDERS_TABLE, source, None).sql(dialect="postgres")


def test_names_from_the_declaration_are_quoted_not_spliced() -> None:
    table = jdbc.SourceTable("public", 'or"ders', {'id"; DROP TABLE x; --': "bigint", "ts": "date"})
    # The declarations refuse such names; the query must not depend on that.
    source = JdbcSource.model_construct(
        name="o", database="warehouse", table='or"ders', key=('id"; DROP TABLE x; --',),
        cursor=Cursor(column="ts"), partitions=1, partition_column=None,
    )
    query = jdbc.extract_query(table, source, {"cursor": "2026-01-01", "key": ["1"]}).sql(dialect="postgres")
    assert '"or""ders"' in query and '"id""; DROP TABLE x; --"' in query


def test_a_position_without_a_whole_key_rereads_its_cursor_value() -> None:
    source = _jdbc_source("o", "warehouse", "public.orders", ("order_id",), "updated_at")
    condition = jdbc.read_condition(ORDERS_TABLE, source, {"cursor": "2026-01-01 10:00:00", "key": [None]})
    assert condition is not None
    assert condition.sql(dialect="postgres") == "\"updated_at\" >= CAST('2026-01-01 10:00:00' AS TIMESTAMP)"


def test_the_bronze_slice_starts_where_the_read_starts() -> None:
    position = {"cursor": "2026-01-03 00:00:10", "key": ["1"]}
    assert jdbc.lower_cursor_text(position, "timestamp without time zone", 20) == "2026-01-02 23:59:50"
    assert jdbc.lower_cursor_text(position, "timestamp without time zone", 0) == "2026-01-03 00:00:10"
    assert jdbc.lower_cursor_text({"cursor": "2026-01-03"}, "date", 3600) == "2026-01-02"
    assert jdbc.lower_cursor_text({"cursor": "120"}, "bigint", 3600) == "120"
    assert jdbc.lower_cursor_text(None, "date", 60) is None


def test_a_missing_declared_column_or_an_unordered_cursor_is_one_line() -> None:
    source = _jdbc_source("o", "warehouse", "public.orders", ("id",), "updated_at")
    with pytest.raises(jdbc.JdbcSourceError, match=r"^o: warehouse.public.orders has no column 'id' \(its key\): fix key"):
        jdbc.validate(ORDERS_TABLE, source, "warehouse.public.orders")
    numeric_cursor = _jdbc_source("o", "warehouse", "public.orders", ("order_id",), "amount")
    jdbc.validate(ORDERS_TABLE, numeric_cursor, "w")  # a number orders changes
    table = jdbc.SourceTable("public", "t", {"order_id": "bigint", "note": "text"})
    with pytest.raises(jdbc.JdbcSourceError, match="is text, which does not order changes"):
        jdbc.validate(table, _jdbc_source("o", "w", "public.t", ("order_id",), "note"), "w.public.t")


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("08001", "warehouse_orders: PostgreSQL at 127.0.0.1:5433 refused the connection (SQLState 08001): start it with `lakehouse up`"),
        ("28P01", "warehouse_orders: PostgreSQL refused the password of user lakehouse (SQLState 28P01): set LAKEHOUSE_POSTGRES__PASSWORD"),
        ("42P01", "warehouse_orders: table w.public.orders does not exist (SQLState 42P01): feed the source first"),
        ("3D000", "warehouse_orders: database of w.public.orders does not exist (SQLState 3D000)"),
    ],
)
def test_driver_errors_map_by_sqlstate_to_one_line(sqlstate: str, expected: str) -> None:
    settings = LakehouseSettings(home=Path("/nonexistent"))
    error = jdbc.error_for(sqlstate, "warehouse_orders", settings, "w.public.orders")
    assert error is not None and str(error).startswith(expected) and "\n" not in str(error)
    assert jdbc.error_for("22003", "warehouse_orders", settings, "w") is None  # unknown: the original error stands


def _delivery(rows: list[DeliveredRow], source=ORDERS_SOURCE, columns=None) -> SourceDelivery:
    return SourceDelivery(source, tuple(columns or rows[0].record), tuple(rows))


def test_the_feeder_writes_stand_ins_for_bad_types_and_holds_back_invalid_utf8() -> None:
    order = {"order_id": 1, "amount": "12.50", "quantity": 3, "ship_city": "Paris", "updated_at": "2026-01-01 00:00:01"}
    load = feed.plan_load(
        _delivery(
            [
                DeliveredRow(order, Origin.CLEAN, 0),
                DeliveredRow({**order, "order_id": 2, "amount": "123,4x"}, Origin.MALFORMED, defect=MalformedKind.BAD_TYPE, defect_field="amount"),
                DeliveredRow({**order, "order_id": None}, Origin.MALFORMED, defect=MalformedKind.MISSING_KEY, defect_field="order_id"),
                DeliveredRow({**order, "ship_city": "Düsseldorf"}, Origin.MALFORMED, defect=MalformedKind.INVALID_UTF8, defect_field="ship_city"),
                DeliveredRow(order, Origin.EXACT_COPY, 0),
            ]
        )
    )
    assert [row.record["amount"] for row in load.delivered] == ["12.50", "1234.005", "12.50", "12.50"]
    assert [row.record["order_id"] for row in load.delivered] == [1, 2, None, 1]
    [(held_back, reason)] = load.undeliverable
    assert held_back.defect == MalformedKind.INVALID_UTF8 and "UTF-8" in reason and "ship_city" in reason
    assert load.columns == {"order_id": "bigint", "amount": "numeric", "quantity": "integer", "ship_city": "text", "updated_at": "timestamp"}

    session = {"session_id": "s", "pages": "seven"}
    pages = feed.plan_load(
        _delivery([DeliveredRow(session, Origin.MALFORMED, defect=MalformedKind.BAD_TYPE, defect_field="pages")], SESSIONS_SOURCE)
    )
    assert pages.delivered[0].record["pages"] == "5.5"  # no digits: the length, and a fraction


def test_drift_adds_the_new_column_and_widens_an_integer_that_overflows() -> None:
    wide = {"order_id": 1, "quantity": 2**40, "coupon_code": "VIP20"}
    load = feed.plan_load(_delivery([DeliveredRow(wide, Origin.CLEAN, 0)]))
    assert load.columns["quantity"] == "bigint"
    actions = feed.alterations({"order_id": "bigint", "quantity": "integer"}, load.columns)
    statement = exp.Alter(this=exp.table_("orders"), kind="TABLE", actions=actions).sql(dialect="postgres")
    assert statement == 'ALTER TABLE orders ALTER COLUMN "quantity" SET DATA TYPE BIGINT, ADD COLUMN "coupon_code" TEXT'
    assert feed.alterations({"order_id": "bigint", "quantity": "bigint", "coupon_code": "text"}, load.columns) == []


def test_rows_read_again_are_absorbed_as_a_multiset(spark) -> None:
    schema = "v string, _source_file string, _line_number long, _raw_line string, _parse_error string"
    lines = ["a", "a", "a", "b", "c"]
    read = spark.createDataFrame([(v, "f", n, v, None) for n, v in enumerate(lines, 1)], schema)
    rows = bronze_frame(read, batch_id="b", ingested_at=AT, ingest_date=AT.date())
    # Bronze holds one "a" and the "b": the second and third "a" and the "c" are new.
    seen = rows.where((rows[LINE_NUMBER] == 1) | (rows[LINE_NUMBER] == 4)).select(RECORD_HASH)
    fresh = jdbc.absorb_seen(rows, seen)
    assert sorted((r.v, r[LINE_NUMBER]) for r in fresh.collect()) == [("a", 2), ("a", 3), ("c", 5)]
    assert fresh.columns == rows.columns


def test_line_numbers_follow_cursor_and_key_and_raw_lines_leave_out_nulls(spark) -> None:
    # The key sorts as a number, as a bigint column does: 9 before 10.
    read = spark.createDataFrame(
        [("10", "t2", None, "t2", 10), ("9", "t2", "x", "t2", 9), ("11", "t1", None, "t1", 11)],
        "id string, ts string, extra string, __sort_0 string, __sort_1 long",
    )
    described = jdbc.describe_rows(read, ["id", "ts", "extra"], "f")
    got = sorted((r[LINE_NUMBER], r.id, r._raw_line) for r in described.collect())
    assert got == [(1, "11", '{"id":"11","ts":"t1"}'), (2, "9", '{"id":"9","ts":"t2","extra":"x"}'), (3, "10", '{"id":"10","ts":"t2"}')]


# --- On a real PostgreSQL ------------------------------------------------------


@pytest.fixture(scope="module")
def pg(spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakehouseSettings]:
    """This module's REST catalog and PostgreSQL, both started through catalog.services."""
    home = tmp_path_factory.mktemp("jdbc-home")
    with own_rest_catalog(spark, home, CATALOG, TEST_CATALOG_PORT + 80) as catalog_settings:
        settings = catalog_settings.model_copy(update={"postgres": PostgresSettings(port=TEST_POSTGRES_PORT + 80)})
        services.up(settings, only=["postgres"])
        try:
            yield settings
        finally:
            services.down(settings)


@dataclass
class FedDays:
    """What the feeder wrote per source (all days so far) and what each extract appended."""

    loads: dict[str, list[feed.TableLoad]] = field(default_factory=dict)
    appended: dict[tuple[str, int], int] = field(default_factory=dict)
    replayed: dict[str, int] = field(default_factory=dict)
    bronze_after_day: dict[tuple[str, int], Counter] = field(default_factory=dict)


def _bronze(spark, settings: LakehouseSettings, source: str):
    return spark.table(TableName(BRONZE, source).sql(settings))


def _bronze_records(spark, settings: LakehouseSettings, source: str) -> tuple[list[str], Counter]:
    frame = _bronze(spark, settings, source)
    columns = [name for name in frame.columns if name not in METADATA_COLUMNS]
    return columns, Counter(tuple(row[name] for name in columns) for row in frame.collect())


def _expected(loads: list[feed.TableLoad], columns: list[str]) -> Counter:
    return Counter(
        tuple(feed.expected_text(row.record, columns)[name] for name in columns) for load in loads for row in load.delivered
    )


def _ingest(spark, settings: LakehouseSettings, source: JdbcSource, day: dt.date) -> int:
    position = committed_position(settings, source.name)
    batch_id = batch_id_for(source.name, position)
    extract = jdbc.extract(spark, settings, source, position, batch_id=batch_id, ingested_at=AT, day=day)
    written = commit_rows(spark, settings, source.name, extract.rows, extract.position)
    assert written == extract.rows_read
    return written


@pytest.fixture(scope="module")
def fed_days(spark, pg: LakehouseSettings) -> FedDays:
    """Two generated days: each fed, extracted and committed, then the extract replayed."""
    fed = FedDays()
    for planned in plan_days(START, DAYS, SCALE, SEED, RATES):
        for name, load in feed.feed_day(pg, planned).items():
            fed.loads.setdefault(name, []).append(load)
        for name in JDBC_SOURCES:
            fed.appended[(name, planned.day_index)] = _ingest(spark, pg, _declared(pg, name), planned.day)
            fed.bronze_after_day[(name, planned.day_index)] = _bronze_records(spark, pg, name)[1]
        for name in JDBC_SOURCES:
            fed.replayed[name] = fed.replayed.get(name, 0) + _ingest(spark, pg, _declared(pg, name), planned.day)
    return fed


@pytest.mark.integration
@pytest.mark.parametrize("source", JDBC_SOURCES)
def test_bronze_holds_exactly_the_rows_the_feeder_wrote(spark, pg: LakehouseSettings, fed_days: FedDays, source: str) -> None:
    columns, bronze = _bronze_records(spark, pg, source)
    loads = fed_days.loads[source]
    assert bronze == _expected(loads, columns)
    assert sum(bronze.values()) == sum(len(load.delivered) for load in loads) > 0
    # After day 0, Bronze held day 0's rows only: each day's extract took that day's rows.
    assert fed_days.bronze_after_day[(source, 0)] == _expected(loads[:1], columns)
    assert fed_days.appended[(source, 1)] == len(loads[1].delivered)


@pytest.mark.integration
def test_the_days_carry_every_problem_the_feeder_maps(fed_days: FedDays) -> None:
    """Otherwise the equality above would prove less than it says."""
    origins = Counter(row.origin for loads in fed_days.loads.values() for load in loads for row in load.delivered)
    assert origins[Origin.EXACT_COPY] and origins[Origin.REDELIVERY]
    defects = Counter(
        (row.defect, load.source) for loads in fed_days.loads.values() for load in loads for row in load.delivered if row.defect
    )
    assert defects[(MalformedKind.BAD_TYPE, "warehouse_orders")] and defects[(MalformedKind.MISSING_KEY, "warehouse_customers")]
    held_back = [u for loads in fed_days.loads.values() for load in loads for u in load.undeliverable]
    assert held_back and all(u.row.defect == MalformedKind.INVALID_UTF8 for u in held_back)


@pytest.mark.integration
def test_a_replay_adds_nothing(spark, pg: LakehouseSettings, fed_days: FedDays) -> None:
    assert fed_days.replayed == {name: 0 for name in JDBC_SOURCES}
    for name in JDBC_SOURCES:
        assert committed_position(pg, name) is not None
        lines = _bronze(spark, pg, name).groupBy(SOURCE_FILE, LINE_NUMBER).count().where("count > 1").count()
        assert lines == 0, f"{name}: Bronze's key (_source_file, _line_number) repeats"


@pytest.mark.integration
def test_values_that_do_not_fit_reach_silver_as_strings_and_are_quarantined(spark, pg: LakehouseSettings, fed_days: FedDays) -> None:
    contracts = load_contracts()
    # Silver's own row checks, less amount_usd's: that column comes from the FX step, not from Bronze.
    contract = contracts.table("orders")
    contract = contract.model_copy(update={"columns": [c for c in contract.columns if c.name != "amount_usd"]})
    orders = cast_to_contract(_bronze(spark, pg, "warehouse_orders"), entity_of(pg, "orders"), contract)
    reasons = orders.where(f"order_id >= {SPARE_ORDER_ID_BASE}").select("amount", failed_checks(contract).alias("why"))
    stand_ins = {row.amount: row.why for row in reasons.collect()}
    assert stand_ins and all("amount has more than 2 decimal places" in why for why in stand_ins.values())
    bad_sessions = [
        row.record for load in fed_days.loads["web_sessions"] for row in load.delivered if row.defect == MalformedKind.BAD_TYPE
    ]
    sessions = cast_to_contract(_bronze(spark, pg, "web_sessions"), entity_of(pg, "sessions"), contracts.table("sessions"))
    errors = {row.session_id: row._cast_errors for row in sessions.where("_cast_errors <> ''").collect()}
    assert {record["session_id"] for record in bad_sessions} <= errors.keys()
    assert all(errors[record["session_id"]] == "pages is not a valid int" for record in bad_sessions)


def _table(pg: LakehouseSettings, database: str, ddl: str) -> None:
    feed.ensure_databases(pg, [database])
    with psycopg.connect(**postgres.connection_kwargs(pg, database), autocommit=True) as connection:
        connection.execute(ddl)


def _insert(pg: LakehouseSettings, rows: list[tuple], table: str = "ties") -> None:
    with psycopg.connect(**postgres.connection_kwargs(pg, "warehouse")) as connection:
        connection.cursor().executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)", rows)  # noqa: S608 - the test's own table


def _table_rows(pg: LakehouseSettings, table: str) -> Counter:
    with psycopg.connect(**postgres.connection_kwargs(pg, "warehouse")) as connection:
        rows = connection.execute(f"SELECT id::text, CAST(updated_at AS text), note FROM {table}").fetchall()  # noqa: S608
    return Counter(rows)


def _bronze_rows(spark, pg: LakehouseSettings, source: str) -> Counter:
    return Counter((r.id, r.updated_at, r.note) for r in _bronze(spark, pg, source).collect())


@pytest.mark.integration
def test_rows_sharing_the_last_cursor_value_are_neither_lost_nor_doubled(spark, pg: LakehouseSettings) -> None:
    _table(pg, "warehouse", "CREATE TABLE ties (id bigint, updated_at timestamp, note text)")
    source = _jdbc_source("ties", "warehouse", "ties", ("id",), "updated_at", 60)
    tie = "2026-01-01 12:00:00"
    _insert(pg, [(1, tie, "a"), (2, tie, "b"), (1, tie, "a"), (0, "2026-01-01 11:00:00", "old")])
    assert _ingest(spark, pg, source, START) == 4
    assert committed_position(pg, "ties") == {"cursor": tie, "key": ["2"]}
    # Same instant, one key below and one above the position's, and a third copy of (1, a).
    _insert(pg, [(3, tie, "c"), (1, tie, "a")])
    assert _ingest(spark, pg, source, START) == 2
    assert _ingest(spark, pg, source, START) == 0
    assert _bronze_rows(spark, pg, "ties") == _table_rows(pg, "ties")
    assert committed_position(pg, "ties") == {"cursor": tie, "key": ["3"]}


@pytest.mark.integration
def test_a_row_committed_late_inside_the_lookback_arrives_once(spark, pg: LakehouseSettings) -> None:
    _table(pg, "warehouse", "CREATE TABLE late (id bigint, updated_at timestamp, note text)")
    source = _jdbc_source("late", "warehouse", "late", ("id",), "updated_at", 300)
    _insert(pg, [(1, "2026-01-01 10:00:00", "early")], "late")
    with psycopg.connect(**postgres.connection_kwargs(pg, "warehouse")) as slow:
        # Stamped 10:04:00 but not committed until after an extract has read past it.
        slow.execute("INSERT INTO late VALUES (2, '2026-01-01 10:04:00', 'slow')")
        _insert(pg, [(3, "2026-01-01 10:05:00", "fast")], "late")
        assert _ingest(spark, pg, source, START) == 2
        assert committed_position(pg, "late") == {"cursor": "2026-01-01 10:05:00", "key": ["3"]}
    # The slow transaction has committed: behind the position, inside the 300 s lookback.
    assert _ingest(spark, pg, source, START) == 1
    assert _ingest(spark, pg, source, START) == 0
    assert _bronze_rows(spark, pg, "late") == _table_rows(pg, "late") == Counter(
        {("1", "2026-01-01 10:00:00", "early"): 1, ("2", "2026-01-01 10:04:00", "slow"): 1, ("3", "2026-01-01 10:05:00", "fast"): 1}
    )


CRASH_CHILD = """
import datetime as dt
import sys

from catalog.settings import load_settings
from catalog.spark_session import spark_session
from ingestion.sources import jdbc
from ingestion.sources.commit import committed_position
from tests.ingestion.sources.test_jdbc import CRASH_SOURCE

settings = load_settings()
spark = spark_session(settings, app_name="jdbc-crash")
position = committed_position(settings, CRASH_SOURCE.name)
extract = jdbc.extract(
    spark, settings, CRASH_SOURCE, position, batch_id="crash", ingested_at=dt.datetime.now(dt.UTC), day=dt.date(2026, 1, 2)
)
print(f"extracted {extract.rows_read}", flush=True)
sys.stdin.read()  # killed here: after the extract, before commit_rows
"""
CRASH_SOURCE = _jdbc_source("crashing", "warehouse", "crash", ("id",), "updated_at", 60)


@pytest.mark.integration
def test_a_crash_between_extract_and_commit_then_a_rerun_gives_the_same_bronze(spark, pg: LakehouseSettings) -> None:
    _table(pg, "warehouse", "CREATE TABLE crash (id bigint, updated_at timestamp, note text)")
    _insert(pg, [(i, f"2026-01-01 0{i}:00:00", f"n{i}") for i in range(1, 4)], "crash")
    # The same table under a second name: the run without a crash, to compare with.
    clean = _jdbc_source("never_crashed", "warehouse", "crash", ("id",), "updated_at", 60)
    assert _ingest(spark, pg, CRASH_SOURCE, START) == _ingest(spark, pg, clean, START) == 3
    position = committed_position(pg, CRASH_SOURCE.name)
    _insert(pg, [(i, f"2026-01-02 0{i}:00:00", f"m{i}") for i in range(1, 6)] + [(1, "2026-01-02 01:00:00", "m1")], "crash")

    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")} | {
        "LAKEHOUSE_HOME": str(pg.home),
        "LAKEHOUSE_CACHE_DIR": str(SHARED_CACHE),
        "LAKEHOUSE_CATALOG__NAME": CATALOG,
        "LAKEHOUSE_CATALOG__PORT": str(pg.catalog.port),
        "LAKEHOUSE_POSTGRES__PORT": str(pg.postgres.port),
        "LAKEHOUSE_SPARK__DRIVER_MEMORY": "1g",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CRASH_CHILD], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "extracted 6", line
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert committed_position(pg, CRASH_SOURCE.name) == position  # nothing moved

    # The rerun reads what the killed run read, and Bronze comes out as without the crash.
    assert _ingest(spark, pg, CRASH_SOURCE, START + dt.timedelta(days=1)) == 6
    assert _ingest(spark, pg, clean, START + dt.timedelta(days=1)) == 6
    assert _bronze_rows(spark, pg, CRASH_SOURCE.name) == _bronze_rows(spark, pg, "never_crashed") == _table_rows(pg, "crash")
    numbered = [(r.id, r.updated_at, r.note, r[LINE_NUMBER]) for r in _bronze(spark, pg, CRASH_SOURCE.name).collect()]
    never = [(r.id, r.updated_at, r.note, r[LINE_NUMBER]) for r in _bronze(spark, pg, "never_crashed").collect()]
    assert sorted(numbered) == sorted(never)
    assert committed_position(pg, CRASH_SOURCE.name) == committed_position(pg, "never_crashed")


@pytest.mark.integration
def test_faults_are_one_line_naming_the_source_and_the_fix(spark, pg: LakehouseSettings, fed_days: FedDays) -> None:
    orders = _declared(pg, "warehouse_orders")

    def fault(settings: LakehouseSettings, source: JdbcSource = orders) -> str:
        with pytest.raises(jdbc.JdbcSourceError) as error:
            jdbc.extract(spark, settings, source, None, batch_id="f", ingested_at=AT, day=START)
        message = str(error.value)
        assert "\n" not in message and message.startswith(f"{source.name}: "), message
        return message

    def with_postgres(**changes: object) -> LakehouseSettings:
        return pg.model_copy(update={"postgres": pg.postgres.model_copy(update=changes)})

    down = fault(with_postgres(port=TEST_POSTGRES_PORT + 81))  # nothing listens there
    assert "refused the connection (SQLState 08001): start it with `lakehouse up`" in down
    wrong = fault(with_postgres(password=SecretStr("not-the-password")))
    assert "refused the password of user lakehouse (SQLState 28P01)" in wrong and "not-the-password" not in wrong
    no_database = fault(pg, _jdbc_source("nowhere", "no_such_db", "public.orders", ("order_id",), "updated_at"))
    assert "(SQLState 3D000)" in no_database
    missing = fault(pg, _jdbc_source("missing", "warehouse", "public.no_such_table", ("id",), "updated_at"))
    assert missing == (
        "missing: table warehouse.public.no_such_table does not exist: feed the source first (the demo does), "
        "or fix database/table in ingestion/sources.yml"
    )
