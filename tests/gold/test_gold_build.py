"""The Gold layer (dbt-trino) built on the 10-day Silver scenario, on the real stack.

Silver changes made here use order ids far above the generator's (which count up
from 1) and are deleted again, so the pipeline tests that run after these see the
Silver tables they expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from catalog.naming import SILVER, TableName
from catalog.trino_connection import trino_connection
from ingestion.synthetic.report import LateKind
from lakehouse.gold import GoldBuildError, build_gold, target_dir

pytestmark = pytest.mark.integration

MARTS = (
    "dim_customers",
    "dim_date",
    "fct_orders",
    "fct_daily_revenue",
    "fct_customer_engagement",
    "fct_crm_pipeline_funnel",
    "customer_360",
)
LATE_REFUND_ORDER_ID = 1_900_000_001
ORPHAN_ORDER_ID = 1_900_000_002
ORPHAN_CUSTOMER_ID = 1_999_999_999


def _query(stack, sql: str) -> list[list]:
    cursor = trino_connection(stack).cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def _silver_orders(stack) -> str:
    return TableName(SILVER, "orders").sql(stack)


@pytest.fixture
def seeded_orders(stack, spark) -> Iterator[list[int]]:
    """Order ids a test adds to Silver; deleted from Silver and Gold afterwards."""
    seeded: list[int] = []
    yield seeded
    if seeded:
        ids = ", ".join(str(order_id) for order_id in seeded)
        spark.sql(f"DELETE FROM {_silver_orders(stack)} WHERE order_id IN ({ids})")
        _query(stack, f"DELETE FROM iceberg.gold.fct_orders WHERE order_id IN ({ids})")


def test_build_passes_and_every_mart_has_rows(first_build, stack) -> None:
    assert first_build.success and not first_build.failed_nodes
    kinds = {node.resource_type for node in first_build.nodes}
    assert {"model", "test", "unit_test"} <= kinds
    for mart in MARTS:
        assert first_build.node(mart).status == "success"
        [[rows]] = _query(stack, f"SELECT count(*) FROM iceberg.gold.{mart}")
        assert rows > 0, mart


def test_gold_orders_match_silver(first_build, stack) -> None:
    [[silver_orders, silver_usd]] = _query(stack, "SELECT count(*), sum(amount_usd) FROM iceberg.silver.orders")
    [[gold_orders, gold_usd]] = _query(stack, "SELECT count(*), sum(amount_usd) FROM iceberg.gold.fct_orders")
    assert (gold_orders, gold_usd) == (silver_orders, silver_usd)


def test_docs_generate_passes(first_build, stack) -> None:
    result = build_gold(stack, command=("docs", "generate"))
    assert result.success
    assert (target_dir(stack) / "catalog.json").is_file()


def _revenue(stack, order_date, country, channel) -> Decimal:
    rows = _query(
        stack,
        "SELECT revenue_usd FROM iceberg.gold.fct_daily_revenue "
        f"WHERE order_date = DATE '{order_date}' AND country = '{country}' AND channel = '{channel}'",
    )
    assert len(rows) == 1
    return rows[0][0]


def test_late_refund_reaches_daily_revenue(first_build, stack, spark, seeded_orders) -> None:
    orders = spark.table(_silver_orders(stack))
    [[newest_day]] = _query(stack, "SELECT max(order_date) FROM iceberg.gold.fct_orders")
    # An order three days before Gold's newest day: inside the default 7-day lookback.
    template = (
        orders.where((F.col("order_date") == F.date_sub(F.lit(newest_day), 3)) & F.col("status").isin("placed", "shipped"))
        .where(F.col("amount_usd") >= 1)
        .orderBy("order_id")
        .limit(1)
    )
    seeded_orders.append(LATE_REFUND_ORDER_ID)
    template.withColumn("order_id", F.lit(LATE_REFUND_ORDER_ID).cast("bigint")).writeTo(_silver_orders(stack)).append()
    build_gold(stack)
    [[order_date, country, channel, amount, amount_usd]] = _query(
        stack,
        "SELECT order_date, customer_country, channel, amount, amount_usd FROM iceberg.gold.fct_orders "
        f"WHERE order_id = {LATE_REFUND_ORDER_ID}",
    )
    before = _revenue(stack, order_date, country, channel)

    # The refund arrives later: the whole row restated with a newer updated_at.
    refunded_amount = (amount / 2).quantize(Decimal("0.01"))
    refunded_usd = (amount_usd / 2).quantize(Decimal("0.01"))
    spark.sql(
        f"UPDATE {_silver_orders(stack)} SET status = 'refunded', amount = {refunded_amount}, "
        f"amount_usd = {refunded_usd}, updated_at = current_timestamp() WHERE order_id = {LATE_REFUND_ORDER_ID}"
    )
    rebuilt = build_gold(stack)

    assert rebuilt.node("fct_orders").message == "MERGE (1 rows)"
    assert _revenue(stack, order_date, country, channel) == before - (amount_usd - refunded_usd)
    rows = _query(stack, f"SELECT status, amount_usd FROM iceberg.gold.fct_orders WHERE order_id = {LATE_REFUND_ORDER_ID}")
    assert rows == [["refunded", refunded_usd]]


def test_orphan_order_stops_the_build_before_gold(first_build, stack, spark, seeded_orders) -> None:
    orders = spark.table(_silver_orders(stack))
    orphan = (
        orders.orderBy(F.col("order_date").desc(), "order_id")
        .limit(1)
        .withColumn("order_id", F.lit(ORPHAN_ORDER_ID).cast("bigint"))
        .withColumn("customer_id", F.lit(ORPHAN_CUSTOMER_ID).cast("bigint"))
        .withColumn("updated_at", F.current_timestamp())
    )
    seeded_orders.append(ORPHAN_ORDER_ID)
    orphan.writeTo(_silver_orders(stack)).append()

    with pytest.raises(GoldBuildError) as failure:
        build_gold(stack)
    assert "stg_orders_customer_id_has_a_customer" in str(failure.value)
    assert _query(stack, f"SELECT count(*) FROM iceberg.gold.fct_orders WHERE order_id = {ORPHAN_ORDER_ID}") == [[0]]

    spark.sql(f"DELETE FROM {_silver_orders(stack)} WHERE order_id = {ORPHAN_ORDER_ID}")
    assert build_gold(stack).success


def test_generator_refunds_reach_gold_at_their_refunded_amount(first_build, stack, silver_scenario) -> None:
    entries = silver_scenario.report.entries_for("warehouse_orders")
    # An orphan order (unknown customer) is quarantined in Silver, its refund with it.
    orphans = {key for entry in entries for key in entry.orphan_keys}
    refunds = [
        late
        for entry in entries
        for late in entry.late_arrivals
        if late.kind == LateKind.ORDER_REFUND and late.key not in orphans
    ]
    assert refunds
    for refund in refunds:
        rows = _query(stack, f"SELECT status, amount FROM iceberg.gold.fct_orders WHERE order_id = {int(refund.key)}")
        assert rows == [["refunded", Decimal(refund.changes["amount"][1])]], refund


def test_each_model_built_is_a_lineage_run_from_its_inputs(first_build, stack) -> None:
    import json

    events = [json.loads(line) for line in stack.lineage.file.read_text().splitlines()]
    completed = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("gold.")}
    started = {e["run"]["runId"] for e in events if e["eventType"] == "START"}
    models = [node.name for node in first_build.nodes if node.resource_type == "model" and node.status == "success"]
    assert "gold.dbt_build" in completed
    for model in models:
        event = completed[f"gold.{model}"]
        assert event["run"]["runId"] in started, f"{model}: a START for the same run"
        # dim_date is a generated date spine: the one model that reads no source or model.
        assert bool(event["inputs"]) == (model != "dim_date"), f"{model}: its sources and models as inputs"
        assert event["outputs"][0]["name"].endswith(f".{model}")
    fct_orders = completed["gold.fct_orders"]["outputs"][0]
    assert fct_orders["facets"]["dataQualityAssertions"]["assertions"], "its dbt tests, as assertions"
