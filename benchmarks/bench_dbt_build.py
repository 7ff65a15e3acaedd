"""Gold `dbt build`: a full refresh vs the incremental build that follows it.

    .venv/bin/python benchmarks/bench_dbt_build.py [--tests 15]

Runs on an existing stack with Silver loaded (`lakehouse up`, `lakehouse backfill`),
with the settings of the environment (LAKEHOUSE_* variables). Two runs in a row:

- full: `dbt build --full-refresh` (every mart rebuilt, fct_orders recreated);
- incremental: `dbt build` with nothing new in Silver (fct_orders MERGEs an empty
  window; the other marts are tables and rebuild anyway, tests rerun).

Prints markdown: wall time of each run and their ratio, then per-model and the
slowest per-test times from each run's `target/run_results.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog.gold import DBT_PROJECT_DIR, build_gold  # noqa: E402
from catalog.settings import load_settings  # noqa: E402

RUN_RESULTS = DBT_PROJECT_DIR / "target" / "run_results.json"


def timed_build(settings, *, full_refresh: bool) -> tuple[float, dict[str, tuple[str, float]]]:
    started = time.perf_counter()
    build_gold(settings, full_refresh=full_refresh)
    wall = time.perf_counter() - started
    results = json.loads(RUN_RESULTS.read_text())["results"]
    # unique_id -> (resource type, seconds)
    return wall, {item["unique_id"]: (item["unique_id"].split(".")[0], item["execution_time"]) for item in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=15, help="how many of the slowest tests to list")
    args = parser.parse_args()

    settings = load_settings()
    full_wall, full = timed_build(settings, full_refresh=True)
    incremental_wall, incremental = timed_build(settings, full_refresh=False)

    print("| run | wall s | nodes | sum of node s |")
    print("|---|---:|---:|---:|")
    for name, wall, nodes in (("full refresh", full_wall, full), ("incremental", incremental_wall, incremental)):
        print(f"| {name} | {wall:.1f} | {len(nodes)} | {sum(seconds for _, seconds in nodes.values()):.1f} |")
    print(f"\nincremental / full (wall): **{incremental_wall / full_wall:.2f}**\n")

    def rows(kind: str) -> list[tuple[str, float, float]]:
        ids = [uid for uid, (resource, _) in full.items() if resource == kind]
        return sorted(
            ((uid.split(".", 2)[2], full[uid][1], incremental.get(uid, (kind, float("nan")))[1]) for uid in ids),
            key=lambda row: -row[1],
        )

    for kind, limit in (("model", None), ("unit_test", None), ("test", args.tests)):
        print(f"| {kind} | full s | incremental s |")
        print("|---|---:|---:|")
        for name, full_s, incremental_s in rows(kind)[:limit]:
            print(f"| {name} | {full_s:.2f} | {incremental_s:.2f} |")
        print()


if __name__ == "__main__":
    main()
