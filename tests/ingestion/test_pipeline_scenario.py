"""The 10-day scenario (tests/scenario.py) through Bronze and Silver on the real stack."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from catalog.errors import LakehouseError
from catalog.naming import SILVER, TableName
from ingestion.contracts.contract import load_contracts
from ingestion.pipeline import run_day
from ingestion.silver.batch import PreparedBatch
from ingestion.silver.entities import entity_of, load_entities
from ingestion.silver.publish import ContractViolation, publish_batch
from ingestion.synthetic.report import LateKind
from tests.scenario import DAYS, START, Scenario

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scenario(silver_scenario: Scenario) -> Scenario:
    return silver_scenario


def _orders(stack, spark):
    return spark.table(TableName(SILVER, "orders").sql(stack))


def _refund(report, lateness: int):
    refunds = [
        late
        for entry in report.entries_for("warehouse_orders")
        for late in entry.late_arrivals
        if late.kind == LateKind.ORDER_REFUND and late.lateness_days == lateness
    ]
    assert refunds, f"the generator guarantees a refund {lateness} days late"
    return refunds[0]


def test_every_batch_conserves_rows(scenario) -> None:
    results = scenario.results
    for result in results:
        for commit in result.silver:
            assert commit.rows_read == commit.rows_accepted + commit.rows_quarantined, (result.day, commit.table)
    orders_read = sum(c.rows_read for r in results for c in r.silver if c.table.endswith("`orders`"))
    assert orders_read > 400


def test_days_leave_no_cached_or_checkpointed_blocks(scenario) -> None:
    # Leftover blocks piled up across days until a MERGE sort ran out of memory in CI.
    assert scenario.blocks_left == set()


def test_quality_figures_travel_in_the_snapshot_summary(scenario, spark) -> None:
    last = scenario.results[-1]
    checked = 0
    for commit in last.silver:
        if not commit.rows_merged:
            continue  # an empty MERGE may commit nothing, leaving main on an older snapshot
        [row] = spark.sql(f"SELECT summary FROM {commit.table}.snapshots WHERE snapshot_id = {commit.snapshot_id}").collect()
        summary = row[0]
        assert summary["lakehouse.rows-read"] == str(commit.rows_read), commit.table
        assert summary["lakehouse.rows-quarantined"] == str(commit.rows_quarantined), commit.table
        assert float(summary["lakehouse.dq-score"]) == pytest.approx(commit.dq_score, abs=1e-6)
        assert summary["lakehouse.run-date"] == last.day.isoformat()
        checked += 1
    assert checked >= 5


def test_refund_two_days_late_updates_the_order_in_place(scenario, stack, spark) -> None:
    report = scenario.report
    refund = _refund(report, 2)
    rows = _orders(stack, spark).where(F.col("order_id") == int(refund.key)).collect()
    assert len(rows) == 1, "a late correction must not add a second row"
    assert rows[0].status == "refunded"
    assert str(rows[0].amount) == refund.changes["amount"][1]


def test_refund_five_days_late_goes_through_the_counted_targeted_merge(scenario, stack, spark) -> None:
    report, results = scenario.report, scenario.results
    refund = _refund(report, 5)
    rows = _orders(stack, spark).where(F.col("order_id") == int(refund.key)).collect()
    assert len(rows) == 1 and rows[0].status == "refunded"
    arrival = next(r for r in results if r.day == refund.arrival_day)
    orders_commit = next(c for c in arrival.silver if c.table.endswith("`orders`"))
    assert refund.original_day in orders_commit.late_dates
    assert orders_commit.late_rows >= 1


def _checksum(stack, spark) -> dict[str, tuple[int, int]]:
    sums = {}
    for table in ("orders", "customers", "sessions", "events", "fx_rates", "crm_contacts", "crm_deals"):
        frame = spark.table(TableName(SILVER, table).sql(stack))
        # Order-independent content hash; decimal so that summing 64-bit hashes cannot overflow.
        row = frame.select(F.count(F.lit(1)), F.sum(F.xxhash64(*frame.columns).cast("decimal(38,0)"))).first()
        sums[table] = (row[0], row[1])
    return sums


def test_replaying_a_day_three_times_changes_nothing(scenario, stack, spark) -> None:
    before = _checksum(stack, spark)
    for _ in range(3):
        run_day(spark, stack, START + dt.timedelta(days=5))
    assert _checksum(stack, spark) == before


def test_seeded_duplicate_primary_key_leaves_main_unchanged(scenario, stack, spark) -> None:
    target = TableName(SILVER, "orders").sql(stack)
    before = spark.sql(f"SELECT snapshot_id FROM {target}.refs WHERE name = 'main'").first()[0]
    existing = _orders(stack, spark).limit(1)
    # Two versions of one brand-new order id: a bug upstream of dedup would produce this.
    duplicated = existing.withColumn("order_id", F.lit(987654321).cast("bigint")).unionByName(
        existing.withColumn("order_id", F.lit(987654321).cast("bigint"))
    )
    quarantined = spark.createDataFrame(
        [], "_batch_id string, _source_file string, _line_number int, _raw_line string, _record_hash string, reason string"
    )
    seeded = PreparedBatch(accepted=duplicated, quarantined=quarantined, merge_source=duplicated)
    customers = spark.table(TableName(SILVER, "customers").sql(stack))
    with pytest.raises(ContractViolation) as violation:
        publish_batch(
            spark, stack, entity_of(stack, "orders"), load_contracts().table("orders"), seeded,
            run_date=START + dt.timedelta(days=DAYS - 1), rows_read=2, referenced={"customers": customers},
        )
    message = str(violation.value)
    assert "`orders` failed primary_key_duplicates: 1 rows" in message and "main is unchanged" in message
    after = spark.sql(f"SELECT snapshot_id FROM {target}.refs WHERE name = 'main'").first()[0]
    assert after == before
    assert _orders(stack, spark).where(F.col("order_id") == 987654321).count() == 0
    assert isinstance(violation.value, LakehouseError)


def test_every_scenario_job_is_a_start_and_complete_pair_in_the_lineage_file(scenario, stack) -> None:
    import json

    from catalog.lineage import run_uuid

    parent = run_uuid(scenario.run_id)
    events = [json.loads(line) for line in stack.lineage.file.read_text().splitlines()]
    children = [e for e in events if e["run"]["facets"].get("parent", {}).get("run", {}).get("runId") == parent]
    states: dict[str, list[str]] = {}
    for event in children:
        states.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert len(states) == DAYS * 2 * len(load_entities(stack)), "one run per Bronze source and Silver table and day"
    assert all(run == ["START", "COMPLETE"] for run in states.values())
    assert all(e["inputs"] and e["outputs"] for e in children if e["eventType"] == "COMPLETE")
