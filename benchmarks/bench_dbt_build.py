"""Gold `dbt build`: a full refresh vs the incremental build that follows it, split by node.

    .venv/bin/python benchmarks/bench_dbt_build.py [--tests N]

Runs on an existing stack with Silver loaded (`lakehouse up`, `lakehouse backfill`, or the
home `bench_sql_engines.py` builds), with the settings of the environment (LAKEHOUSE_*
variables). Two runs in a row:

- full: `dbt build --full-refresh` (every mart rebuilt, fct_orders recreated);
- incremental: `dbt build` with nothing new in Silver (fct_orders MERGEs an empty
  window; the other marts are tables and rebuild anyway, tests rerun).

Prints markdown: the rows the build reads and writes, then per run the wall time, dbt's
own elapsed time and the summed execution time of models, data tests and unit tests;
then each model's, each unit test's and each data test's execution time in both runs
(`NodeResult.execution_time`, dbt's `execution_time` in run_results.json). dbt runs
`gold.threads` nodes at once (2 by default), so the sums exceed the wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog.settings import load_settings  # noqa: E402
from catalog.trino_connection import trino_connection  # noqa: E402
from lakehouse.gold import GoldResult, build_gold  # noqa: E402

KINDS = ("model", "test", "unit_test")
SIZE_TABLES = ("silver.orders", "silver.events", "silver.sessions", "gold.fct_orders", "gold.customer_360")


def timed_build(settings, *, full_refresh: bool) -> tuple[float, GoldResult]:
    started = time.perf_counter()
    result = build_gold(settings, full_refresh=full_refresh)
    return time.perf_counter() - started, result


def seconds_by_kind(result: GoldResult, kind: str) -> dict[str, float]:
    return {node.name: node.execution_time for node in result.nodes if node.resource_type == kind}


def row_counts(settings) -> dict[str, int]:
    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        counts = {}
        for table in SIZE_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = int(cursor.fetchone()[0])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=None, help="list only the N slowest data tests (default: all)")
    args = parser.parse_args()

    settings = load_settings()
    full_wall, full = timed_build(settings, full_refresh=True)
    incremental_wall, incremental = timed_build(settings, full_refresh=False)

    print("| table | rows |\n|---|---:|")
    for table, rows in row_counts(settings).items():
        print(f"| {table} | {rows:,} |")

    print("\n| run | wall s | dbt elapsed s | nodes | models s | tests s | unit tests s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, wall, result in (("full refresh", full_wall, full), ("incremental", incremental_wall, incremental)):
        sums = " | ".join(f"{sum(seconds_by_kind(result, kind).values()):.1f}" for kind in KINDS)
        print(f"| {name} | {wall:.1f} | {result.elapsed:.1f} | {len(result.nodes)} | {sums} |")
    print(f"\nincremental / full (wall): **{incremental_wall / full_wall:.2f}**\n")

    for kind, limit in (("model", None), ("unit_test", None), ("test", args.tests)):
        full_s, incremental_s = seconds_by_kind(full, kind), seconds_by_kind(incremental, kind)
        ranked = sorted(full_s, key=lambda name: -full_s[name])
        shown = ranked[:limit]
        print(f"| {kind} ({len(shown)} of {len(ranked)}, slowest first) | full s | incremental s |")
        print("|---|---:|---:|")
        for name in shown:
            print(f"| {name} | {full_s[name]:.2f} | {incremental_s.get(name, float('nan')):.2f} |")
        print()


if __name__ == "__main__":
    main()
