"""One incremental Silver orders day on top of 30 vs 365 days of history.

    .venv/bin/python benchmarks/bench_history_length.py [--short 30] [--long 365] [--rows-per-day 2000] [--repeat 3]

The day runs the production path, `prepare_batch` then `publish_batch`: casts and
contract row checks, FX conversion, orphan check against customers, the windowed
MERGE plus the targeted MERGE for rows older than the window, all on a WAP branch,
the audit of touched keys, fast-forward of main and the quarantine write.

The day's Bronze batch is the same for both histories: `rows-per-day` new orders,
updates to every 10th order of the last 3 days, and 20 refunds of orders 5 days old
(out of the 3-day window, so the targeted MERGE runs too). History is written
synthetically with one file per day, as a daily pipeline leaves it. The goal is
an incremental cost within 1.25x whatever the history length.

Starts its own REST catalog and Trino on separate ports in a temporary home.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from catalog import services  # noqa: E402
from catalog.naming import SILVER, TableName, namespace_sql  # noqa: E402
from catalog.settings import load_settings  # noqa: E402
from catalog.spark_session import spark_session  # noqa: E402
from ingestion.contracts.contract import load_contracts  # noqa: E402
from ingestion.silver.batch import prepare_batch  # noqa: E402
from ingestion.silver.entities import entity_of  # noqa: E402
from ingestion.silver.publish import ensure_tables, publish_batch  # noqa: E402

RUN_DATE = dt.date(2026, 12, 31)
CUSTOMER_COUNT = 1000
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD")


def day_of(first: dt.date, rows_per_day: int):
    return F.date_add(F.lit(first), (F.col("id") / rows_per_day).cast("int"))


def silver_orders(spark, days: int, rows_per_day: int) -> DataFrame:
    first = RUN_DATE - dt.timedelta(days=days)  # history ends the day before the run date
    ids = spark.range(1, days * rows_per_day + 1)
    order_date = F.date_add(F.lit(first), ((F.col("id") - 1) / rows_per_day).cast("int"))
    amount = (F.col("id") % 1000 + F.lit(0.99)).cast("decimal(18,2)")
    return ids.select(
        F.col("id").alias("order_id"),
        (F.col("id") % CUSTOMER_COUNT + 1).alias("customer_id"),
        order_date.alias("order_date"),
        F.to_timestamp(order_date).alias("ordered_at"),
        F.lit("placed").alias("status"),
        F.lit("USD").alias("currency"),
        amount.alias("amount"),
        amount.alias("amount_usd"),
        F.lit(1).cast("bigint").alias("quantity"),
        F.lit("web").alias("channel"),
        F.lit("Lyon").alias("ship_city"),
        F.to_timestamp(order_date).alias("updated_at"),
        order_date.alias("fx_rate_date"),
        F.lit("history").alias("_batch_id"),
    )


def bronze_day(spark, days: int, rows_per_day: int) -> DataFrame:
    """The run date's raw Bronze rows: strings plus Bronze metadata, as landing CSV gives them."""
    last_id = days * rows_per_day
    window_updates = spark.range(last_id - 3 * rows_per_day + 1, last_id + 1, 10).select(
        "id", F.lit("shipped").alias("status"), (F.col("id") % 1000 + F.lit(0.99)).alias("amount")
    )
    late_refunds = spark.range(last_id - 5 * rows_per_day + 1, last_id - 5 * rows_per_day + 21).select(
        "id", F.lit("refunded").alias("status"), F.lit(0).alias("amount")
    )
    new_orders = spark.range(last_id + 1, last_id + rows_per_day + 1).select(
        "id", F.lit("placed").alias("status"), F.lit(10).alias("amount")
    )
    first = RUN_DATE - dt.timedelta(days=days)
    order_date = F.when(F.col("id") > last_id, F.lit(RUN_DATE)).otherwise(
        F.date_add(F.lit(first), ((F.col("id") - 1) / rows_per_day).cast("int"))
    )
    rows = window_updates.unionByName(late_refunds).unionByName(new_orders)
    return rows.select(
        F.col("id").cast("string").alias("order_id"),
        (F.col("id") % CUSTOMER_COUNT + 1).cast("string").alias("customer_id"),
        F.date_format(F.to_timestamp(order_date), "yyyy-MM-dd HH:mm:ss").alias("ordered_at"),
        "status",
        F.lit("USD").alias("currency"),
        F.format_number(F.col("amount").cast("double"), 2).alias("amount"),
        F.lit("1").alias("quantity"),
        F.lit("web").alias("channel"),
        F.lit("Lyon").alias("ship_city"),
        F.lit(f"{RUN_DATE} 23:00:00").alias("updated_at"),
        F.lit("bench-day").alias("_batch_id"),
        F.lit("bench.csv").alias("_source_file"),
        F.col("id").cast("int").alias("_line_number"),
        F.current_timestamp().alias("_ingested_at"),
        F.lit(RUN_DATE).alias("_ingest_date"),
        F.sha2(F.col("id").cast("string"), 256).alias("_record_hash"),
        F.col("id").cast("string").alias("_raw_line"),
        F.lit(None).cast("string").alias("_parse_error"),
    ).withColumn("amount", F.regexp_replace("amount", ",", ""))


def build_silver(spark, settings, contracts, days: int, rows_per_day: int) -> None:
    entities = [entity_of(settings, table) for table in ("fx_rates", "customers", "orders")]
    for entity in entities:
        spark.sql(f"DROP TABLE IF EXISTS {TableName(SILVER, entity.table).sql(settings)}")
    ensure_tables(spark, settings, entities, contracts)
    target = TableName(SILVER, "orders").sql(settings)
    # One file per day, as a daily pipeline leaves it.
    silver_orders(spark, days, rows_per_day).repartition("order_date").sortWithinPartitions("order_id").writeTo(target).append()
    spark.range(1, CUSTOMER_COUNT + 1).select(
        F.col("id").alias("customer_id"), *(F.lit("x").alias(c) for c in ("first_name", "last_name", "email")),
        F.lit("US").alias("country"), F.lit("smb").alias("segment"),
        F.lit(dt.datetime(2020, 1, 1)).alias("valid_from"), F.lit(None).cast("timestamp").alias("valid_to"),
        F.lit(True).alias("is_current"), F.lit("history").alias("_batch_id"),
    ).writeTo(TableName(SILVER, "customers").sql(settings)).append()
    spark.range(0, days + 2).crossJoin(spark.createDataFrame([(c,) for c in CURRENCIES], "currency string")).select(
        F.date_sub(F.lit(RUN_DATE), F.col("id").cast("int")).alias("rate_date"),
        "currency",
        F.lit(1).cast("decimal(18,8)").alias("rate_to_usd"),
        F.lit(dt.datetime(2020, 1, 1)).alias("published_at"),
        F.lit("history").alias("_batch_id"),
    ).writeTo(TableName(SILVER, "fx_rates").sql(settings)).append()


def run_day(spark, settings, contracts, bronze: DataFrame) -> tuple[float, object]:
    silver = lambda table: spark.table(TableName(SILVER, table).sql(settings))  # noqa: E731
    started = time.monotonic()
    customers = silver("customers").persist()
    customers.count()
    orders = entity_of(settings, "orders")
    prepared = prepare_batch(
        bronze, orders, contracts.table("orders"), fx_rates=silver("fx_rates"),
        referenced_keys={"customer_id": customers.select("customer_id", "valid_to", "is_current")},
    )
    commit = publish_batch(
        spark, settings, orders, contracts.table("orders"), prepared,
        run_date=RUN_DATE, rows_read=bronze.count(), referenced={"customers": customers},
    )
    customers.unpersist()
    return time.monotonic() - started, commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=int, default=30)
    parser.add_argument("--long", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    contracts = load_contracts()

    with tempfile.TemporaryDirectory(prefix="bench-history-") as home:
        settings = load_settings(
            home=home, cache_dir=REPO / ".lakehouse" / "cache", catalog={"port": 38381}, trino={"port": 38380, "heap_gb": 2}
        )
        services.up(settings)
        try:
            spark = spark_session(settings, app_name="bench-history-length")
            spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, SILVER)}")
            results: dict[int, list[tuple[float, object]]] = {args.short: [], args.long: []}
            # Round 0 warms the JVM and is discarded; the order alternates.
            for round_number in range(args.repeat + 1):
                order = (args.short, args.long) if round_number % 2 else (args.long, args.short)
                for days in order:
                    build_silver(spark, settings, contracts, days, args.rows_per_day)
                    bronze = bronze_day(spark, days, args.rows_per_day).persist()
                    measured = run_day(spark, settings, contracts, bronze)
                    bronze.unpersist()
                    if round_number:
                        results[days].append(measured)
        finally:
            services.down(settings)

    print(f"one orders day ({args.rows_per_day} new, updates to every 10th order of the last 3 days, 20 refunds "
          f"5 days late) through prepare + WAP publish; median of {args.repeat}")
    print("| history days | median s | runs s | rows merged | late rows (targeted MERGE) |")
    print("|---:|---:|---|---:|---:|")
    medians = {}
    for days, runs in results.items():
        medians[days] = statistics.median(r[0] for r in runs)
        commit = runs[-1][1]
        print(f"| {days} | {medians[days]:.2f} | {', '.join(f'{r[0]:.2f}' for r in runs)} | "
              f"{commit.rows_merged} | {commit.late_rows} |")
    print(f"ratio {args.long}/{args.short} days: {medians[args.long] / medians[args.short]:.2f}")


if __name__ == "__main__":
    main()
