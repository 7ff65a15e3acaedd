"""Pipeline days: Spark code generation on vs off, or a day's jobs one by one vs two at once.

    .venv/bin/python benchmarks/bench_pipeline_day.py [--compare codegen|parallel] [--days 4] [--scale 0.1]

`--compare codegen` (default): codegen on vs off, both with `--parallel-jobs` (default 1).
`--compare parallel`: `pipeline.parallel_jobs` 1 vs 2, both with codegen off (the default).

Each variant runs in its own process (Spark conf is fixed when the session starts) with
its own fresh home, REST catalog and Trino on separate ports: generate `days` days, then
`run_day` for each, the production path (Bronze for every source, then Silver with
write-audit-publish). Prints seconds per day and in total for each variant, the ratio,
and checks that both variants merged and quarantined the same rows each day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from catalog.settings import LakehouseSettings

START = dt.date(2026, 3, 1)
CACHE = REPO / ".lakehouse" / "cache"


def run_variant(home: Path, *, days: int, scale: float, codegen: bool, parallel_jobs: int, port: int) -> dict:
    """In this process: the stack, the days, and one JSON line of figures."""
    from catalog import services
    from catalog.settings import load_settings

    settings = load_settings(
        home=home, cache_dir=CACHE, catalog={"port": port}, trino={"port": port + 1, "heap_gb": 2},
        spark={"codegen": codegen}, pipeline={"parallel_jobs": parallel_jobs}, lineage={"enabled": False},
    )
    services.up(settings)
    try:
        return run_days(settings, days=days, scale=scale, app_name="bench-pipeline-day")
    finally:
        services.down(settings)


def run_days(settings: LakehouseSettings, *, days: int, scale: float, app_name: str) -> dict:
    """Generate `days` days, start a session, `run_day` each: start and per-day seconds, rows per day."""
    from catalog.spark_session import spark_session
    from ingestion.pipeline import run_day
    from ingestion.synthetic import generate_sources

    generate_sources(settings.landing_dir, START, days, scale=scale, seed=7)
    clock = time.monotonic()
    spark = spark_session(settings, app_name=app_name)
    figures: dict = {"spark_start": time.monotonic() - clock, "days": []}
    for offset in range(days):
        clock = time.monotonic()
        result = run_day(spark, settings, START + dt.timedelta(days=offset))
        figures["days"].append({
            "seconds": time.monotonic() - clock,
            "merged": sum(c.rows_merged for c in result.silver),
            "quarantined": sum(c.rows_quarantined for c in result.silver),
        })
    spark.stop()
    return figures


def child_figures(argv: list[str]) -> dict:
    """Run a variant in a process of its own (Spark conf is fixed at start); the figures it printed."""
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(output.split("FIGURES ", 1)[1])


def same_rows(a: dict, b: dict) -> None:
    """Both variants merged and quarantined the same rows each day, or stop."""
    if [(d["merged"], d["quarantined"]) for d in a["days"]] != [(d["merged"], d["quarantined"]) for d in b["days"]]:
        raise SystemExit(f"the variants disagree on rows merged/quarantined: {a['days']} vs {b['days']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--compare", choices=("codegen", "parallel"), default="codegen")
    parser.add_argument("--parallel-jobs", type=int, default=1)
    parser.add_argument("--variant", choices=("on", "off"), help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        # "on" is the variant under test: codegen on, or two jobs at once.
        parallel = args.compare == "parallel"
        figures = run_variant(
            args.home, days=args.days, scale=args.scale, codegen=args.variant == "on" and not parallel,
            parallel_jobs=(2 if args.variant == "on" else 1) if parallel else args.parallel_jobs,
            port=22181 if args.variant == "on" else 22281,
        )
        print("FIGURES " + json.dumps(figures))
        return

    results = {}
    for variant in ("on", "off"):
        with tempfile.TemporaryDirectory(prefix=f"bench-codegen-{variant}-") as home:
            argv = [sys.executable, __file__, "--variant", variant, "--home", home, "--days", str(args.days),
                    "--scale", str(args.scale), "--parallel-jobs", str(args.parallel_jobs), "--compare", args.compare]
            results[variant] = child_figures(argv)
    on, off = results["on"], results["off"]
    same_rows(on, off)
    names = ("2 jobs at once", "one by one") if args.compare == "parallel" else ("codegen on", "codegen off")
    setting = "codegen off" if args.compare == "parallel" else f"parallel_jobs={args.parallel_jobs}"
    print(f"{args.days} days at scale {args.scale}, {setting}; Spark start {on['spark_start']:.0f} / {off['spark_start']:.0f} s")
    print(f"| day | {names[0]} s | {names[1]} s |\n|---:|---:|---:|")
    for number, (a, b) in enumerate(zip(on["days"], off["days"]), start=1):
        print(f"| {number} | {a['seconds']:.0f} | {b['seconds']:.0f} |")
    total_on, total_off = (sum(d["seconds"] for d in r["days"]) for r in (on, off))
    print(f"| total | {total_on:.0f} | {total_off:.0f} |")
    print(f"ratio {names[0]} / {names[1]}: {total_on / total_off:.2f}")


if __name__ == "__main__":
    main()
