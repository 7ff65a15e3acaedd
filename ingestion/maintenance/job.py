"""`maintain`: every table of the chosen layers, one at a time: facts, plan, steps, record.

Each table is maintained holding its table lock (`catalog.run_lock.table_lock`), so a
pipeline job that must see `main` stand still (a Silver publish, an ops UPDATE, the Gold
build) waits for it, or it waits for them. Appends (Bronze, the quarantine, the file ledger,
run records) take no lock: Iceberg retries them past a compaction or an expiry.

Order per table: compaction, position deletes, expiry, manifests, orphans; expiry after
compaction so the table's metadata shrinks in the same pass, orphans last because they are
whatever the steps before left unreferenced (and old enough).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyspark.sql import SparkSession

from catalog import storage
from catalog.engine_config import metadata_log_properties
from catalog.errors import ConfigError
from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import BRONZE, GOLD, OPS, SILVER, TableName
from catalog.run_lock import WarehouseBusy, maintenance_lock, table_lock
from catalog.settings import LakehouseSettings, LayerPolicies
from ingestion.maintenance import leftovers, steps
from ingestion.maintenance.facts import TableStats, table_facts
from ingestion.maintenance.plan import Plan, plan
from ingestion.operations import ensure_ops_tables, spark_ddl

Report = Callable[[str], None]
LAYERS = tuple(LayerPolicies.model_fields)  # bronze, silver, gold, ops: the namespaces maintained


@dataclass(frozen=True)
class TableMaintenance:
    table: TableName
    actions: tuple[str, ...]  # what was done (or, in a dry run, would be), in words
    before: TableStats
    after: TableStats
    seconds: float

    @property
    def summary(self) -> str:
        return "; ".join(self.actions) or "nothing to do"


@dataclass(frozen=True)
class MaintenanceResult:
    run_id: str
    dry_run: bool
    orphans_checked: bool
    tables: tuple[TableMaintenance, ...]
    leftovers: tuple[leftovers.Leftover, ...] = field(default_factory=tuple)  # dropped tables' folders (removed unless dry)


def maintain(
    spark: SparkSession,
    settings: LakehouseSettings,
    targets: Sequence[str] = (),
    *,
    dry_run: bool = False,
    orphans: bool = True,
    run_id: str | None = None,
    as_of: dt.datetime | None = None,
    report: Report = lambda _: None,
) -> MaintenanceResult:
    """Maintain the tables named by `targets` (`silver.orders`, or a layer such as `gold`; none: every layer).

    `orphans=False` skips the listing of folders (orphan files and dropped tables' leftovers).
    `as_of` is the moment retention counts back from (now; a test or a benchmark moves it
    ahead to age snapshots); the orphan safety age always counts from the real clock,
    since it protects writers in flight. Records one `ops.maintenance` row per table under
    `run_id` (a new one if None).
    """
    now = dt.datetime.now(dt.UTC)
    as_of = as_of or now
    catalog = iceberg_catalog(settings)
    names = resolve_targets(catalog, targets)
    check_time_travel_promise(settings, names)
    orphans_before = now - dt.timedelta(hours=settings.maintenance.orphan_age_hours)
    run_id = run_id or uuid.uuid4().hex
    done = []
    for name in names:
        report(f"maintain {name}")
        started = time.monotonic()
        key = GOLD if name.namespace == GOLD else str(name)  # dbt builds Gold as one (lakehouse/gold.py)
        with table_lock(settings, key, f"maintain {name}", wait_seconds=settings.maintenance.lock_wait_seconds):
            try:
                done.append(_maintain_table(spark, settings, catalog, name, dry_run=dry_run, orphans=orphans,
                                            as_of=as_of, orphans_before=orphans_before, started=started))
            except NoSuchTableError:  # dropped while we waited for it (a dbt build's __dbt_tmp relation)
                report(f"{name} was dropped meanwhile: skipped")
            except Exception as exc:
                # A writer that takes no table lock (an append, someone's DELETE through Trino) can win
                # the race for a commit: the loser is this step, never the writer. Left for next time.
                conflict = commit_conflict(exc)
                if conflict is None:
                    raise
                stats = table_facts(catalog.load_table(name.identifier), name).stats
                done.append(TableMaintenance(
                    name, (f"stopped by a concurrent commit, left for the next maintenance: {conflict}",),
                    stats, stats, time.monotonic() - started,
                ))
    found: list[leftovers.Leftover] = []
    if orphans and not targets:
        warehouse = storage.filesystem(settings)
        found = leftovers.find_leftovers(catalog, warehouse, settings.warehouse_uri, orphans_before)
        if found and not dry_run:
            leftovers.remove(warehouse, found)
    result = MaintenanceResult(run_id, dry_run, orphans, tuple(done), tuple(found))
    record(spark, settings, result)
    return result


@dataclass(frozen=True)
class AfterRun:
    result: MaintenanceResult | None
    problem: str | None  # why it did not run or did not finish; the run's days are committed either way


def after_run(
    spark: SparkSession,
    settings: LakehouseSettings,
    run_id: str,
    targets: Sequence[str] = (BRONZE, SILVER, OPS),
    report: Report = lambda _: None,
) -> AfterRun:
    """Maintain the layers a run writes (default Bronze, Silver, ops; none: all, and dropped tables'
    folders) after its last day, under its run id.

    Never fails the run: its days are committed. A maintenance already running (`lakehouse
    maintain`) is left to do the work; any error is returned as one line for the run to show.
    Orphans are looked for at most every `orphan_every_hours`.
    """
    try:
        with maintenance_lock(settings, f"maintenance after run {run_id}"):
            result = maintain(spark, settings, targets, orphans=orphans_due(spark, settings), run_id=run_id, report=report)
        return AfterRun(result, None)
    except WarehouseBusy as exc:
        return AfterRun(None, f"maintenance after the run skipped: {exc}")
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the data is committed
        first = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        return AfterRun(None, f"maintenance after the run failed (the run's data is committed; `lakehouse maintain` retries it): {first}")


def orphans_due(spark: SparkSession, settings: LakehouseSettings) -> bool:
    """After a run: whether orphans were last looked for more than `orphan_every_hours` ago (or never)."""
    table = TableName(OPS, "maintenance").sql(settings)
    if not spark.catalog.tableExists(table):
        return True
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=settings.maintenance.orphan_every_hours)
    last = spark.table(table).where("orphans_checked AND NOT dry_run").agg({"recorded_at": "max"}).first()
    return last is None or last[0] is None or last[0].replace(tzinfo=dt.UTC) < since


# Iceberg's ways of saying another commit won: the table is as the winner left it.
_CONFLICTS = ("CommitFailedException", "ValidationException")


def commit_conflict(exc: BaseException) -> str | None:
    """The line naming Iceberg's commit conflict in a Spark error, or None if it is something else."""
    for line in str(exc).splitlines():
        if any(name in line for name in _CONFLICTS):
            return line.strip()[:300]
    return None


def resolve_targets(catalog: Catalog, targets: Sequence[str]) -> list[TableName]:
    """The tables to maintain, in layer order; a name that is neither a layer nor a table fails in one line."""
    existing = {
        layer: [TableName(layer, table) for table in sorted(ident[-1] for ident in catalog.list_tables(layer))]
        if catalog.namespace_exists(layer) else []
        for layer in LAYERS
    }
    if not targets:
        return [name for layer in LAYERS for name in existing[layer]]
    chosen: list[TableName] = []
    for target in targets:
        namespace, _, table = target.partition(".")
        if namespace not in LAYERS:
            raise ConfigError(f"cannot maintain {target!r}: name a layer ({', '.join(LAYERS)}) or a table in one, e.g. silver.orders")
        picked = [n for n in existing[namespace] if not table or n.table == table]
        if table and not picked:
            raise ConfigError(f"cannot maintain {target!r}: no such table; `lakehouse maintain {namespace}` maintains every {namespace} table")
        chosen += [n for n in picked if n not in chosen]
    return chosen


def check_time_travel_promise(settings: LakehouseSettings, names: Sequence[TableName]) -> None:
    """Refuse a retention shorter than the Silver late-data window: a late correction may rewrite
    data that far back, and the state before it must still be there to read (and to audit)."""
    pipeline = settings.pipeline
    longest = max([pipeline.window_days, *pipeline.window_days_by_table.values()])
    for name in names:
        policy = settings.maintenance.policy(name.namespace, name.table)
        window = pipeline.window_for(name.table) if name.namespace == SILVER else longest
        if policy.retain_days < window:
            raise ConfigError(
                f"maintenance retention of {name} is {policy.retain_days:g} days, shorter than the Silver late-data window "
                f"of {window} days, so time travel could not reach back past a late correction: set "
                f"maintenance.layers.{name.namespace}.retain_days (or maintenance.tables.{name}) to {window} or more"
            )


def _maintain_table(
    spark: SparkSession,
    settings: LakehouseSettings,
    catalog: Catalog,
    name: TableName,
    *,
    dry_run: bool,
    orphans: bool,
    as_of: dt.datetime,
    orphans_before: dt.datetime,
    started: float,
) -> TableMaintenance:
    policy = settings.maintenance.policy(name.namespace, name.table)
    facts = table_facts(catalog.load_table(name.identifier), name)
    log = metadata_log_properties(settings)
    todo = plan(facts, policy, as_of, log)
    actions = [todo.compact_skipped] if todo.compact_skipped else []
    if dry_run:
        actions += _would(todo)
        if orphans:
            found = steps.remove_orphan_files(spark, settings, name, older_than=orphans_before, dry_run=True)
            actions += [f"would remove {len(found)} orphan files"] if found else []
        return TableMaintenance(name, tuple(actions), facts.stats, facts.stats, time.monotonic() - started)
    if todo.set_properties:
        actions.append(steps.set_properties(spark, settings, name, todo.set_properties))
    current = facts  # the table as the last step left it (properties add no snapshot)
    if todo.compact:
        actions.append(steps.compact(spark, settings, name, policy, sort=facts.sorted, with_deletes=todo.rewrite_deletes_with_data)
                       + f" ({todo.compact})")
        # What is left to do is decided anew: the deletes it applied, its snapshot (which counts towards retain_last).
        current = table_facts(catalog.load_table(name.identifier), name)
        todo = plan(current, policy, as_of, log)
    if todo.rewrite_deletes:
        actions.append(steps.rewrite_position_deletes(spark, settings, name))
        current = table_facts(catalog.load_table(name.identifier), name)
        todo = plan(current, policy, as_of, log)
    if todo.expire_before_ms is not None:
        deleted = steps.expire_snapshots(spark, settings, name, before_ms=todo.expire_before_ms, retain_last=policy.retain_last)
        left = len(catalog.load_table(name.identifier).metadata.snapshots)
        actions.append(f"expired {len(current.snapshots) - left} snapshots, {deleted}")
    if todo.rewrite_manifests:
        actions.append(steps.rewrite_manifests(spark, settings, name))
    if orphans:
        removed = steps.remove_orphan_files(spark, settings, name, older_than=orphans_before, dry_run=False)
        actions += [f"removed {len(removed)} orphan files"] if removed else []
    after = table_facts(catalog.load_table(name.identifier), name).stats
    return TableMaintenance(name, tuple(actions), facts.stats, after, time.monotonic() - started)


def _would(todo: Plan) -> list[str]:
    found = [f"would compact ({todo.compact})"] if todo.compact else []
    found += ["would rewrite position deletes"] if todo.rewrite_deletes else []
    found += [f"would expire {todo.expirable} snapshots"] if todo.expire_before_ms is not None else []
    found += ["would rewrite manifests"] if todo.rewrite_manifests else []
    found += ["would cap the metadata log (write.metadata.*)"] if todo.set_properties else []
    return found


def record(spark: SparkSession, settings: LakehouseSettings, result: MaintenanceResult) -> None:
    """One `ops.maintenance` row per table, and one per dropped table's folder."""
    if not result.tables and not result.leftovers:
        return
    ensure_ops_tables(spark, settings)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for done in result.tables:
        counts = [value for pair in zip(done.before.as_tuple(), done.after.as_tuple(), strict=True) for value in pair]
        rows.append((result.run_id, str(done.table), result.dry_run, result.orphans_checked, done.summary, done.seconds, *counts, now))
    # A dropped table's folder gets a row of its own, named by its path in the warehouse.
    root = storage.fs_path(settings.warehouse_uri).rstrip("/") + "/"
    for gone in result.leftovers:
        verb = "would remove" if result.dry_run else "removed"
        before = TableStats(0, 0, 0, 0, 0, gone.files, gone.bytes).as_tuple()
        after = before if result.dry_run else TableStats(0, 0, 0, 0, 0, 0, 0).as_tuple()
        counts = [value for pair in zip(before, after, strict=True) for value in pair]
        rows.append((result.run_id, gone.path.removeprefix(root), result.dry_run, True,
                     f"{verb} the folder of a dropped table or namespace", 0.0, *counts, now))
    target = TableName(OPS, "maintenance")
    # Crash recovery sweeps the table's uncommitted files under this lock: the append's must not be among them.
    with table_lock(settings, str(target), "maintenance record", wait_seconds=settings.maintenance.lock_wait_seconds):
        spark.createDataFrame(rows, spark_ddl("maintenance")).writeTo(target.sql(settings)).append()
