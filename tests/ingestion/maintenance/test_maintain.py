"""`maintain` on a real pipeline's tables: ten landing days through Bronze and Silver, then maintenance.

A REST catalog of its own (catalog `maint_it`), so that expiring snapshots never touches
the shared scenario. Snapshots are dated by the real clock, minutes apart: `as_of` moves
the retention's "now" so that the first days fall out of it, as they would after a week.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyiceberg.table.snapshots import Operation
from pyspark.sql import functions as F

from catalog import run_lock
from catalog.engine_config import metadata_log_properties
from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import BRONZE, OPS, SILVER, TableName
from catalog.settings import LakehouseSettings
from catalog.storage import fs_path
from ingestion.bronze.landing import landing_days
from ingestion.day_runner import DayBatch, run_batches
from ingestion.maintenance import maintain
from ingestion.maintenance.facts import DATA, table_facts
from ingestion.maintenance.job import LAYERS
from ingestion.maintenance.plan import SMALL_FILE_SHARE, plan
from ingestion.operations import TABLES as OPS_TABLES
from ingestion.silver import publish
from ingestion.synthetic import generate_sources
from tests.conftest import TEST_CATALOG_PORT, own_rest_catalog

pytestmark = pytest.mark.integration

CATALOG = "maint_it"
START = dt.date(2026, 5, 1)  # apart from the other tests' landing days
CATCH_UP_DAYS, DAILY_DAYS = 5, 5  # ten days: a first load, then five days one by one
POLICY = {"retain_last": 2, "compact_min_files": 2, "manifests_max": 3}


@dataclass
class History:
    settings: LakehouseSettings
    days: list[dt.date]
    finished: dict[dt.date, dt.datetime]  # wall clock when each batch's last day was done


@pytest.fixture(scope="module")
def history(stack: LakehouseSettings, spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    # `stack`: the session catalog must answer too (Spark resolves add_files against its current catalog).
    overrides = {"maintenance": {"layers": {layer: POLICY for layer in LAYERS}}}
    with own_rest_catalog(spark, tmp_path_factory.mktemp("maint-home"), CATALOG, TEST_CATALOG_PORT + 90, **overrides) as settings:
        # Two days more than the batches: fresh days for the tests that run one beside maintenance.
        days = landing_days(START, START + dt.timedelta(days=CATCH_UP_DAYS + DAILY_DAYS + 2))
        generate_sources(settings.landing_dir, START, len(days), scale=0.02, seed=5)
        finished: dict[dt.date, dt.datetime] = {}
        batches = [DayBatch(days[0], days[CATCH_UP_DAYS - 1])] + [DayBatch(day, day) for day in days[CATCH_UP_DAYS:-2]]
        run_batches(spark, settings, "maintenance-test", batches, maintain_after=False,
                    batch_done=lambda result: finished.__setitem__(result.day, dt.datetime.now(dt.UTC)))
        yield History(settings, days, finished)


def main_line(table) -> list:
    """main's snapshots, newest first."""
    line, snapshot = [], table.current_snapshot()
    while snapshot is not None:
        line.append(snapshot)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return line


def _other_session(spark):
    """A second Spark session, as another process's maintenance would have; it follows the
    test's run-time conf (the test's catalog is registered at run time)."""
    session = spark.newSession()
    current = session.conf.getAll
    for key, value in spark.conf.getAll.items():
        if current.get(key) != value:
            session.conf.set(key, value)
    return session


def tables(settings: LakehouseSettings) -> list[TableName]:
    catalog = iceberg_catalog(settings)
    return [TableName(layer, ident[-1]) for layer in (BRONZE, SILVER, OPS) for ident in catalog.list_tables(layer)]


def checksum(spark, table: str) -> tuple[int, int]:
    """Row count and an order-free hash of every row."""
    frame = spark.table(table)
    row = frame.agg(F.count(F.lit(1)), F.sum(F.xxhash64(*frame.columns).cast("decimal(38,0)"))).first()
    return int(row[0]), int(row[1] or 0)


def at_snapshot(spark, settings: LakehouseSettings, name: TableName, snapshot_id: int) -> tuple[int, int]:
    frame = spark.read.option("versionAsOf", snapshot_id).table(name.sql(settings))
    row = frame.agg(F.count(F.lit(1)), F.sum(F.xxhash64(*frame.columns).cast("decimal(38,0)"))).first()
    return int(row[0]), int(row[1] or 0)


def age(path: Path, days: float) -> None:
    moment = time.time() - days * 86_400
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(os.path.join(folder, name), (moment, moment))
    os.utime(path, (moment, moment))


def test_maintain_brings_every_table_to_the_policy_and_changes_no_row(history: History, spark) -> None:
    settings, days = history.settings, history.days
    names = tables(settings)
    catalog = iceberg_catalog(settings)
    before = {name: checksum(spark, name.sql(settings)) for name in names}
    # The retention's cut falls after day 7: days 1-7 are "a week old", days 8-10 within the week.
    cut = history.finished[days[6]]
    as_of = cut + dt.timedelta(days=settings.maintenance.layers.silver.retain_days)
    orders = TableName(SILVER, "orders")
    snapshots = catalog.load_table(orders.identifier).metadata.snapshots
    old_snapshot = min(snapshots, key=lambda s: s.timestamp_ms)
    recent = [s for s in snapshots if s.timestamp_ms > cut.timestamp() * 1000]
    assert old_snapshot.timestamp_ms < cut.timestamp() * 1000 and len(recent) >= 3
    recent_contents = {s.snapshot_id: at_snapshot(spark, settings, orders, s.snapshot_id) for s in recent}

    # Planted: an orphan file old enough to go, a young one (a writer in flight), a dropped table's folder.
    data_dir = Path(fs_path(catalog.load_table(orders.identifier).metadata.location)) / "data"
    old_orphan, young_orphan = data_dir / "orphan-old.parquet", data_dir / "orphan-young.parquet"
    old_orphan.write_bytes(b"PAR1 not referenced")
    young_orphan.write_bytes(b"PAR1 in flight")
    age(old_orphan, 4)
    dropped = settings.warehouse_dir / "silver" / "dropped_table-0a1b2c"
    (dropped / "metadata").mkdir(parents=True)
    (dropped / "metadata" / "00001-x.metadata.json").write_text("{}")
    age(dropped, 4)

    result = maintain(spark, settings, as_of=as_of)

    done = {m.table: m for m in result.tables}
    assert set(done) >= set(names)
    records = TableName(OPS, "maintenance")  # gains this maintenance's own rows, after its counts
    for name in names:
        if name == records:
            continue
        assert checksum(spark, name.sql(settings)) == before[name], f"{name} changed"
        table = catalog.load_table(name.identifier)
        policy = settings.maintenance.policy(name.namespace, name.table)
        older = [s for s in table.metadata.snapshots if s.timestamp_ms < cut.timestamp() * 1000]
        assert len(older) <= policy.retain_last, f"{name}: {len(older)} snapshots older than the retention"
        facts = table_facts(table, name)
        assert facts.manifests <= policy.manifests_max, name
        if name.namespace != BRONZE or name.table.startswith("_"):  # Bronze file tables are registered in place
            small: dict[str, int] = {}
            for f in facts.files:
                if f.content == DATA and f.size < SMALL_FILE_SHARE * policy.target_file_mb * 1024 * 1024:
                    small[f.partition] = small.get(f.partition, 0) + 1
            assert max(small.values(), default=0) < policy.compact_min_files, f"{name}: {small}"
        assert done[name].after == facts.stats
    # Something was actually done: snapshots expired and files compacted somewhere.
    assert sum(m.before.snapshots - m.after.snapshots for m in result.tables) > 0
    assert any(m.after.data_files < m.before.data_files for m in result.tables)

    # Time travel within the retention still reads what it read before; older is gone.
    for snapshot_id, contents in recent_contents.items():
        assert at_snapshot(spark, settings, orders, snapshot_id) == contents
    with pytest.raises(Exception, match=str(old_snapshot.snapshot_id)):
        at_snapshot(spark, settings, orders, old_snapshot.snapshot_id)

    assert not old_orphan.exists() and young_orphan.exists()
    assert not dropped.exists()
    assert [Path(gone.path) for gone in result.leftovers] == [dropped]

    rows = spark.table(records.sql(settings)).where(F.col("run_id") == result.run_id)
    assert {row["table_name"] for row in rows.collect()} >= {str(name) for name in names}
    assert rows.where(~F.col("dry_run") & F.col("orphans_checked")).count() == rows.count()


def test_a_dry_run_changes_nothing_and_says_what_it_would_do(history: History, spark) -> None:
    settings = history.settings
    catalog = iceberg_catalog(settings)
    # A small table with too many manifests: one append per row.
    name = TableName(OPS, "dry_probe")
    spark.sql(f"CREATE TABLE {name.sql(settings)} (id bigint) USING iceberg")
    for i in range(5):
        spark.sql(f"INSERT INTO {name.sql(settings)} VALUES ({i})")
    metadata = catalog.load_table(name.identifier).metadata
    result = maintain(spark, settings, ["ops.dry_probe"], dry_run=True)
    [done] = result.tables
    assert "would rewrite manifests" in done.summary and "would compact" in done.summary
    after = catalog.load_table(name.identifier).metadata
    assert (after.last_updated_ms, len(after.snapshots), after.properties) == (metadata.last_updated_ms, 5, metadata.properties)
    assert done.before == done.after


def test_maintenance_beside_a_pipeline_day_fails_nothing_and_loses_no_commit(history: History, spark) -> None:
    """Maintenance loops over the tables while day 11 runs. Silver publishes (which need main to stand
    still) and maintenance take turns per table; appends retry past compactions."""
    settings, day = history.settings, history.days[-2]
    session = _other_session(spark)
    stop = threading.Event()
    passes: list[str] = []
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                passes.append(maintain(session, settings, [BRONZE, SILVER, OPS], orphans=False).run_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=loop)
    started = dt.datetime.now(dt.UTC)
    worker.start()
    try:
        time.sleep(5)  # the first pass is under way when the day starts
        run = run_batches(spark, settings, "beside-maintenance", [DayBatch(day, day)], maintain_after=False)
    finally:
        stop.set()
        worker.join()
    ended = dt.datetime.now(dt.UTC)
    # The Java exception's line, not Py4J's "An error occurred while calling".
    assert [next((line for line in str(error).splitlines() if "Exception" in line), str(error)) for error in errors] == []
    catalog = iceberg_catalog(settings)
    for commit in run.results[0].silver:
        name = TableName.from_sql(commit.table)
        table = catalog.load_table(name.identifier)
        if commit.snapshot_id is not None:  # the day's commit is on main's line, not lost
            assert commit.snapshot_id in [s.snapshot_id for s in main_line(table)], f"{name}: the day's snapshot is not on main"
        assert commit.rows_read == commit.rows_accepted + commit.rows_quarantined
    # The two did overlap: maintenance committed rewrites while the day ran.
    records = spark.table(TableName(OPS, "maintenance").sql(settings)).where(F.col("run_id").isin(passes))
    overlapping = records.where(
        (F.col("recorded_at") > F.lit(started)) & (F.col("recorded_at") < F.lit(ended))
        & (F.col("actions").contains("compacted") | F.col("actions").contains("rewrote"))
    )
    assert len(passes) >= 2 and overlapping.count() > 0


def test_a_silver_publish_and_maintenance_on_its_table_take_turns(history: History, spark, monkeypatch) -> None:
    """The race the table lock exists for, forced: maintenance that moves `main` (a compaction,
    a manifest rewrite) starts on a Silver table after its audit branch is written and before
    `main` is fast-forwarded to it. Without the lock, maintenance commits first and the
    fast-forward fails (main is no longer an ancestor of the branch); with it, maintenance
    waits, then runs on the published table."""
    settings, day = history.settings, history.days[-1]
    # Every Silver table with more than 2 manifests, or 2 small files in a partition, has main-moving work due.
    busy = settings.model_copy(update={"maintenance": settings.maintenance.model_copy(update={
        "layers": settings.maintenance.layers.model_copy(update={
            "silver": settings.maintenance.layers.silver.model_copy(update={"manifests_max": 2})})})})
    session = _other_session(spark)
    catalog = iceberg_catalog(settings)
    real_fast_forward, real_acquire = publish._fast_forward, run_lock._acquire
    raced: list[tuple[str, object]] = []
    blocked = threading.Event()
    maintainer: dict[str, threading.Thread] = {}

    def acquire(descriptor: int, path, wait_seconds: float, who: str) -> None:
        if threading.current_thread() is maintainer.get("thread"):
            try:  # tell the test that maintenance is waiting for the lock, then wait as the product does
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                blocked.set()
        real_acquire(descriptor, path, wait_seconds, who)

    def fast_forward(spark_session, settings_, table: str, branch: str) -> None:
        name = TableName(SILVER, table)
        todo = plan(table_facts(catalog.load_table(name.identifier), name), busy.maintenance.policy(SILVER, table),
                    dt.datetime.now(dt.UTC), metadata_log_properties(busy))
        if not raced and (todo.compact or todo.rewrite_manifests):
            def run() -> None:
                raced.append((table, maintain(session, busy, [str(name)], orphans=False)))
            thread = maintainer["thread"] = threading.Thread(target=run)
            thread.start()
            deadline = time.monotonic() + 600
            while not blocked.is_set() and thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.2)
        real_fast_forward(spark_session, settings_, table, branch)

    monkeypatch.setattr(publish, "_fast_forward", fast_forward)
    monkeypatch.setattr(run_lock, "_acquire", acquire)
    run = run_batches(spark, settings, "publish-beside-maintenance", [DayBatch(day, day)], maintain_after=False)
    if "thread" in maintainer:
        maintainer["thread"].join()

    assert raced, "no Silver table had main-moving maintenance due: the race was not run"
    table, _ = raced[0]
    assert blocked.is_set(), "maintenance did not wait for the publish"
    commit = next(c for c in run.results[0].silver if TableName.from_sql(c.table) == TableName(SILVER, table))
    line = main_line(catalog.load_table(TableName(SILVER, table).identifier))
    ids = [s.snapshot_id for s in line]
    assert commit.snapshot_id in ids, "the day's commit is not on main"
    # ... and maintenance rewrote main after it, not before.
    assert any(s.summary.operation == Operation.REPLACE for s in line[: ids.index(commit.snapshot_id)])


def test_maintenance_after_a_run_carries_its_run_id_and_looks_for_orphans_at_most_daily(history: History, spark) -> None:
    settings, day = history.settings, history.days[-1]
    run = run_batches(spark, settings, "replay", [DayBatch(day, day)], maintain_after=True)
    assert run.maintenance is not None and run.maintenance.problem is None
    records = spark.table(TableName(OPS, "maintenance").sql(settings)).where(F.col("run_id") == run.run_id).collect()
    assert {row["table_name"].split(".")[0] for row in records} == {BRONZE, SILVER, OPS}
    # The full maintenance above looked for orphans minutes ago: not again until orphan_every_hours.
    assert not any(row["orphans_checked"] for row in records)
    assert set(OPS_TABLES) <= {row["table_name"].split(".")[1] for row in records if row["table_name"].startswith("ops.")}
