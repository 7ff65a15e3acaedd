"""What maintenance decides for a table, from facts built by hand (no catalog, no Spark)."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.errors import ConfigError
from catalog.naming import TableName
from catalog.settings import TablePolicy, load_settings
from ingestion.maintenance.facts import DATA, POSITION_DELETES, FileFacts, RefFacts, SnapshotFacts, TableFacts
from ingestion.maintenance.job import check_time_travel_promise
from catalog.engine_config import metadata_log_properties
from ingestion.maintenance.plan import plan as plan_with_log

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
LOG = metadata_log_properties(load_settings(maintenance={"metadata_versions": 20}))


def plan(facts: TableFacts, policy: TablePolicy, as_of: dt.datetime):
    return plan_with_log(facts, policy, as_of, LOG)
MB = 1024 * 1024
LOCATION = "file:///w/silver/orders"


def day_ms(days_ago: float) -> int:
    return int((NOW - dt.timedelta(days=days_ago)).timestamp() * 1000)


def facts(files=(), snapshots=(), refs=None, location=LOCATION, manifests=1, properties=None) -> TableFacts:
    snapshots = tuple(snapshots)
    if refs is None:
        refs = (RefFacts("main", snapshots[-1].snapshot_id, True),) if snapshots else ()
    return TableFacts(
        TableName("silver", "orders"), location, tuple(files), manifests, snapshots, tuple(refs), sorted=False,
        properties=properties if properties is not None else LOG, stored_files=0, stored_bytes=0,
    )


def data_file(name: str, partition: str = "p1", size: int = MB, content: int = DATA, root: str = "/w/silver/orders") -> FileFacts:
    return FileFacts(f"file:{root}/data/{name}", partition, size, content)


def chain(*days_ago: float, positioned: tuple[int, ...] = ()) -> list[SnapshotFacts]:
    """Snapshots 1..n, each the child of the one before, taken `days_ago` days before NOW."""
    return [
        SnapshotFacts(i, i - 1 if i > 1 else None, day_ms(age), i in positioned)
        for i, age in enumerate(days_ago, start=1)
    ]


def test_compaction_runs_once_a_partition_holds_enough_small_files() -> None:
    policy = TablePolicy(compact_min_files=3, target_file_mb=128)
    spread = [data_file(f"{i}.parquet", partition=f"p{i}") for i in range(6)]  # six small files, one per partition
    assert plan(facts(spread), policy, NOW).compact is None
    crowded = spread + [data_file("a.parquet", "p1"), data_file("b.parquet", "p1")]
    assert plan(facts(crowded), policy, NOW).compact == "1 partition(s) with 3+ small files"
    # Files of the target size are not small, however many.
    large = [data_file(f"{i}.parquet", "p1", size=127 * MB) for i in range(5)]
    assert plan(facts(large), policy, NOW).compact is None
    assert plan(facts(crowded), policy.model_copy(update={"compact": False}), NOW).compact is None


def test_delete_files_past_the_ratio_trigger_a_compaction_that_applies_them() -> None:
    policy = TablePolicy(delete_file_ratio=0.5)
    files = [data_file(f"{i}.parquet", f"p{i}") for i in range(4)]
    one_delete = files + [data_file("d1.parquet", "p0", content=POSITION_DELETES)]
    assert plan(facts(one_delete), policy, NOW).compact is None
    two_deletes = one_delete + [data_file("d2.parquet", "p1", content=POSITION_DELETES)]
    decided = plan(facts(two_deletes), policy, NOW)
    assert decided.compact == "2 delete files on 4 data files"
    assert decided.rewrite_deletes_with_data and decided.rewrite_deletes


def test_files_registered_in_place_are_never_compacted() -> None:
    """A Bronze file source's deliveries live outside the table's folder (add_files)."""
    raw = [data_file(f"{i}.parquet", root="/home/bronze/orders/batch-1/attempt-1") for i in range(10)]
    decided = plan(facts(raw, location="file:///w/bronze/orders"), TablePolicy(), NOW)
    assert decided.compact is None
    assert decided.compact_skipped and "registered in place" in decided.compact_skipped


def test_expiry_keeps_the_retention_and_the_newest_snapshots_of_main() -> None:
    policy = TablePolicy(retain_days=7, retain_last=2)
    # Ten snapshots, 20 days old down to 2.
    snapshots = chain(20, 18, 16, 14, 12, 10, 8, 6, 4, 2)
    decided = plan(facts(snapshots=snapshots), policy, NOW)
    # 8 of them are older than 7 days; none of those is among the newest two.
    assert decided.expirable == 7 and decided.expire_before_ms == day_ms(7)
    # With a long retention nothing is due, and the step does not run.
    relaxed = plan(facts(snapshots=snapshots), policy.model_copy(update={"retain_days": 30}), NOW)
    assert (relaxed.expirable, relaxed.expire_before_ms) == (0, None)
    # retain_last wins over age: everything old, yet the newest three stay.
    old = chain(40, 39, 38, 37, 36)
    assert plan(facts(snapshots=old), policy.model_copy(update={"retain_last": 3}), NOW).expirable == 2


def test_expiry_keeps_tags_branches_and_the_newest_source_position() -> None:
    policy = TablePolicy(retain_days=7, retain_last=1)
    snapshots = chain(30, 25, 20, 15, 10)
    refs = (RefFacts("main", 5, True), RefFacts("month-end", 2, False), RefFacts("audit", 3, True))
    decided = plan(facts(snapshots=snapshots, refs=refs), policy, NOW)
    assert decided.expirable == 2  # 1 and 4: not a ref head, older than 7 days, not main's newest
    # A source position in snapshot 2: it and everything after it stay, so the next extract finds it.
    positioned = chain(30, 25, 20, 15, 10, positioned=(2,))
    decided = plan(facts(snapshots=positioned), policy, NOW)
    assert decided.expirable == 1 and decided.expire_before_ms == day_ms(25)


def test_manifests_are_rewritten_past_the_limit_and_metadata_properties_set_once() -> None:
    policy = TablePolicy(manifests_max=10)
    assert not plan(facts(manifests=10), policy, NOW).rewrite_manifests
    assert plan(facts(manifests=11), policy, NOW).rewrite_manifests
    assert plan(facts(properties={}), policy, NOW).set_properties == {
        "write.metadata.delete-after-commit.enabled": "true",
        "write.metadata.previous-versions-max": "20",
    }
    assert plan(facts(), policy, NOW).set_properties == {}


def test_a_retention_shorter_than_the_late_data_window_is_refused_in_one_line() -> None:
    settings = load_settings(pipeline={"window_days": 3, "window_days_by_table": {"orders": 10}})
    check_time_travel_promise(settings, [TableName("silver", "customers")])
    with pytest.raises(ConfigError) as refused:
        check_time_travel_promise(settings, [TableName("silver", "orders")])
    message = str(refused.value)
    assert "\n" not in message
    assert "silver.orders is 7 days, shorter than the Silver late-data window of 10 days" in message
    assert "maintenance.tables.silver.orders" in message
    # Another layer is held to the longest Silver window.
    with pytest.raises(ConfigError, match="gold.fct_orders is 7 days"):
        check_time_travel_promise(settings, [TableName("gold", "fct_orders")])
    longer = load_settings(
        pipeline={"window_days_by_table": {"orders": 10}},
        maintenance={"layers": {"silver": {"retain_days": 10}, "gold": {"retain_days": 14}}},
    )
    check_time_travel_promise(longer, [TableName("silver", "orders"), TableName("gold", "fct_orders")])


def test_a_table_override_changes_only_what_it_names() -> None:
    settings = load_settings(maintenance={"layers": {"silver": {"retain_last": 9}}, "tables": {"silver.orders": {"retain_days": 30}}})
    orders = settings.maintenance.policy("silver", "orders")
    assert (orders.retain_days, orders.retain_last) == (30, 9)
    assert settings.maintenance.policy("silver", "customers").retain_days == 7
    with pytest.raises(ConfigError, match="layer.table"):
        load_settings(maintenance={"tables": {"orders": {"retain_days": 30}}})


def test_targets_name_layers_or_tables_and_a_wrong_one_is_one_line(tmp_path) -> None:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog

    from ingestion.maintenance.job import resolve_targets

    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path / 'c.db'}", warehouse=(tmp_path / "w").as_uri())
    for namespace, table in (("silver", "orders"), ("silver", "customers"), ("gold", "fct_orders"), ("scratch", "x")):
        catalog.create_namespace_if_not_exists(namespace)
        catalog.create_table((namespace, table), schema=pa.schema([("id", pa.int64())]))
    everything = resolve_targets(catalog, [])
    assert [str(name) for name in everything] == ["silver.customers", "silver.orders", "gold.fct_orders"]  # layers only
    assert [str(name) for name in resolve_targets(catalog, ["gold", "silver.orders", "silver"])] == [
        "gold.fct_orders", "silver.orders", "silver.customers",
    ]
    with pytest.raises(ConfigError, match=r"no such table; `lakehouse maintain silver` maintains every silver table"):
        resolve_targets(catalog, ["silver.nope"])
    with pytest.raises(ConfigError, match="name a layer"):
        resolve_targets(catalog, ["scratch.x"])


def test_only_iceberg_commit_conflicts_count_as_a_lost_race() -> None:
    from ingestion.maintenance.job import commit_conflict

    lost = RuntimeError(
        "An error occurred while calling o1.sql.\n"
        ": org.apache.iceberg.exceptions.ValidationException: Manifest is missing: file:/w/m1.avro\n\tat org.apache..."
    )
    assert commit_conflict(lost) == ": org.apache.iceberg.exceptions.ValidationException: Manifest is missing: file:/w/m1.avro"
    assert commit_conflict(RuntimeError("An error occurred\n: java.io.FileNotFoundException: /w/x.parquet")) is None
