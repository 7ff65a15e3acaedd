"""Windowed vs unwindowed Silver MERGE on a table with a year of daily partitions.

    .venv/bin/python benchmarks/bench_windowed_merge.py [--days 365] [--rows-per-day 2000] [--repeat 3]

Two identical copies of an orders table partitioned by `order_date` get the same
daily batch (updates to the last 3 days plus new orders of the run date):

- windowed: the MERGE the pipeline runs (`ingestion.silver.late_window.merge_sql`
  with the window predicate in the ON clause);
- unwindowed: the same MERGE matching on the key alone.

Reported per variant: median wall time, and the data files the commit removed
and added, read from the Iceberg snapshot summary (`deleted-data-files`,
`added-data-files`). Starts its own REST catalog and Trino on separate ports in
a temporary home, so a running demo is untouched.
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

from pyspark.sql import functions as F  # noqa: E402
from sqlglot import exp  # noqa: E402

from catalog import services  # noqa: E402
from catalog.settings import load_settings  # noqa: E402
from catalog.spark_session import spark_session  # noqa: E402
from ingestion.silver import late_window  # noqa: E402

RUN_DATE = dt.date(2026, 12, 31)


def orders(ids, *, order_date, status: str, amount, updated_at: dt.datetime):
    """Synthetic orders, one per id of the `spark.range` frame `ids`."""
    return ids.select(
        F.col("id").alias("order_id"),
        order_date.alias("order_date"),
        F.lit(status).alias("status"),
        amount.cast("decimal(18,2)").alias("amount"),
        F.lit(updated_at).cast("timestamp").alias("updated_at"),
    )


def day_of(first: dt.date, rows_per_day: int):
    return F.date_add(F.lit(first), (F.col("id") / rows_per_day).cast("int"))


def build_history(spark, table: str, days: int, rows_per_day: int) -> None:
    first = RUN_DATE - dt.timedelta(days=days - 1)
    history = orders(
        spark.range(days * rows_per_day),
        order_date=day_of(first, rows_per_day),
        status="placed",
        amount=F.col("id") % 1000 + 0.99,
        updated_at=dt.datetime(2026, 1, 1),
    )
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    spark.sql(
        f"CREATE TABLE {table} (order_id BIGINT, order_date DATE, status STRING, amount DECIMAL(18,2), updated_at TIMESTAMP) "
        "USING iceberg PARTITIONED BY (order_date)"
    )
    # One file per day, as a daily pipeline leaves it.
    history.repartition("order_date").sortWithinPartitions("order_id").writeTo(table).append()


def daily_batch(spark, days: int, rows_per_day: int):
    first = RUN_DATE - dt.timedelta(days=days - 1)
    window_first_id = (days - 3) * rows_per_day
    updates = orders(
        spark.range(window_first_id, days * rows_per_day, 10),
        order_date=day_of(first, rows_per_day),
        status="shipped",
        amount=F.col("id") % 1000 + 0.99,
        updated_at=dt.datetime(2027, 1, 1),
    )
    new_orders = orders(
        spark.range(days * rows_per_day, days * rows_per_day + rows_per_day),
        order_date=F.lit(RUN_DATE),
        status="placed",
        amount=F.lit(10),
        updated_at=dt.datetime(2027, 1, 1),
    )
    return updates.unionByName(new_orders)


def run_merge(spark, table: str, windowed: bool) -> tuple[float, dict[str, str]]:
    target = exp.to_table(table, dialect="spark")
    source = exp.to_table("bench_batch", dialect="spark")
    predicate = late_window.window_predicate("order_date", RUN_DATE, 3) if windowed else exp.true()
    statement = late_window.merge_sql(target, source, keys=["order_id"], partition_predicate=predicate)
    started = time.monotonic()
    spark.sql(statement)
    elapsed = time.monotonic() - started
    summary = spark.sql(f"SELECT summary FROM {table}.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0]
    return elapsed, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-merge-") as home:
        settings = load_settings(
            home=home, cache_dir=REPO / ".lakehouse" / "cache", catalog={"port": 38281}, trino={"port": 38280, "heap_gb": 2}
        )
        services.up(settings)
        try:
            spark = spark_session(settings, app_name="bench-windowed-merge")
            spark.sql("CREATE NAMESPACE IF NOT EXISTS iceberg.bench")
            daily_batch(spark, args.days, args.rows_per_day).cache().createOrReplaceTempView("bench_batch")
            results: dict[str, list[tuple[float, dict[str, str]]]] = {"windowed": [], "unwindowed": []}
            # Round 0 warms the JVM and is discarded; the order alternates so neither
            # variant always runs first.
            for round_number in range(args.repeat + 1):
                order = ("windowed", "unwindowed") if round_number % 2 else ("unwindowed", "windowed")
                for variant in order:
                    table = f"iceberg.bench.orders_{variant}"
                    build_history(spark, table, args.days, args.rows_per_day)
                    measured = run_merge(spark, table, windowed=variant == "windowed")
                    if round_number:
                        results[variant].append(measured)
        finally:
            services.down(settings)

    print(f"history: {args.days} daily partitions x {args.rows_per_day} rows; batch: updates to the last 3 days + "
          f"{args.rows_per_day} new orders; median of {args.repeat}")
    print("| variant | median s | data files removed | data files added | partitions changed |")
    print("|---|---:|---:|---:|---:|")
    medians = {}
    for variant, runs in results.items():
        medians[variant] = statistics.median(r[0] for r in runs)
        summary = runs[-1][1]
        print(f"| {variant} | {medians[variant]:.2f} | {summary.get('deleted-data-files', '0')} | "
              f"{summary.get('added-data-files', '0')} | {summary.get('changed-partition-count', '?')} |")
    print(f"ratio unwindowed/windowed wall time: {medians['unwindowed'] / medians['windowed']:.2f}")


if __name__ == "__main__":
    main()
