"""Pipeline days: Spark code generation on vs off, a day's jobs one by one vs two at once, or local vs cluster.

    .venv/bin/python benchmarks/bench_pipeline_day.py [--compare codegen|parallel|deployment] [--days 4] [--scale 0.1]

`--compare codegen` (default): codegen on vs off, both with `--parallel-jobs` (default 1).
`--compare parallel`: `pipeline.parallel_jobs` 1 vs 2, both with codegen off (the default).
`--compare deployment`: `deployment: cluster` (the warehouse and landing in the S3 object
store, a standalone master, 2 one-core workers) vs `local` (file:// warehouse, `local[2]`),
both with the default settings otherwise, sources from landing files.
It also prints how long the services took to start and each JVM's resident memory at the end.

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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from catalog.settings import LakehouseSettings

START = dt.date(2026, 3, 1)
CACHE = REPO / ".lakehouse" / "cache"


def run_variant(
    home: Path, *, days: int, scale: float, codegen: bool, parallel_jobs: int, port: int, deployment: str | None = None
) -> dict:
    """In this process: the stack, the days, and one JSON line of figures.

    With a `deployment`, the sources are landing files and only what Spark needs starts.
    """
    from catalog import services
    from catalog.settings import load_settings

    pipeline: dict = {"parallel_jobs": parallel_jobs}
    if deployment is not None:
        pipeline["sources"] = "files"
    cluster = {"master_port": port + 3, "master_webui_port": port + 4, "worker_webui_port": port + 5}
    settings = load_settings(
        home=home, cache_dir=CACHE, deployment=deployment or "local", catalog={"port": port},
        trino={"port": port + 1, "worker_port": port + 2, "heap_gb": 2}, object_store={"port": port + 8},
        spark={"codegen": codegen, "cluster": cluster}, pipeline=pipeline, lineage={"enabled": False},
    )
    clock = time.monotonic()
    services.up(settings, only=None if deployment is None else services.spark_needs(settings))
    services_start = time.monotonic() - clock
    try:
        figures = run_days(
            settings, days=days, scale=scale, app_name="bench-pipeline-day", measure=lambda: resident_memory(settings)
        )
        figures["services_start"] = services_start
        return figures
    finally:
        services.down(settings)


def resident_memory(settings: LakehouseSettings) -> dict[str, float]:
    """Resident MiB of each service's JVM, of the executors a worker started, and of the Spark driver."""
    import psutil

    from catalog import services

    memory = {}
    for status in services.status(settings):
        if status.pid is not None:
            process = psutil.Process(status.pid)
            memory[status.name] = process.memory_info().rss / 2**20
            executors = process.children(recursive=True)
            if executors:
                memory[f"{status.name} executors"] = sum(child.memory_info().rss for child in executors) / 2**20
    drivers = [child for child in psutil.Process().children() if child.name() == "java"]
    memory["spark-driver"] = sum(child.memory_info().rss for child in drivers) / 2**20
    return memory


def run_days(
    settings: LakehouseSettings, *, days: int, scale: float, app_name: str, measure: Callable[[], dict] | None = None
) -> dict:
    """Generate `days` days, start a session, `run_day` each: start and per-day seconds, rows per day.

    `measure`, if given, runs after the last day while the session still holds its executors
    (figures["memory_mb"]).
    """
    from catalog import storage
    from catalog.spark_session import spark_session
    from ingestion.pipeline import run_day
    from ingestion.synthetic import generate_sources

    generate_sources(settings.landing_dir, START, days, scale=scale, seed=7)
    storage.deliver_landing(settings)  # to the cluster deployment's S3 landing prefix
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
    if measure is not None:
        figures["memory_mb"] = measure()
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
    parser.add_argument("--compare", choices=("codegen", "parallel", "deployment"), default="codegen")
    parser.add_argument("--parallel-jobs", type=int, default=1)
    parser.add_argument("--variant", choices=("on", "off"), help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        # "on" is the variant under test: codegen on, two jobs at once, or the cluster.
        parallel = args.compare == "parallel"
        deployment = ("cluster" if args.variant == "on" else "local") if args.compare == "deployment" else None
        figures = run_variant(
            args.home, days=args.days, scale=args.scale, codegen=args.variant == "on" and args.compare == "codegen",
            parallel_jobs=(2 if args.variant == "on" else 1) if parallel else args.parallel_jobs,
            port=22181 if args.variant == "on" else 22281, deployment=deployment,
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
    names = {"parallel": ("2 jobs at once", "one by one"), "codegen": ("codegen on", "codegen off"),
             "deployment": ("cluster", "local")}[args.compare]
    setting = "codegen off" if args.compare == "parallel" else f"parallel_jobs={args.parallel_jobs}"
    if args.compare == "deployment":
        setting = f"codegen off, {setting}"
        print(f"services up in {on['services_start']:.0f} / {off['services_start']:.0f} s")
        for name, figures in zip(names, (on, off)):
            print(f"resident MiB, {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in figures["memory_mb"].items()))
    print(f"{args.days} days at scale {args.scale}, {setting}; Spark start {on['spark_start']:.0f} / {off['spark_start']:.0f} s")
    print(f"| day | {names[0]} s | {names[1]} s |\n|---:|---:|---:|")
    for number, (a, b) in enumerate(zip(on["days"], off["days"]), start=1):
        print(f"| {number} | {a['seconds']:.0f} | {b['seconds']:.0f} |")
    total_on, total_off = (sum(d["seconds"] for d in r["days"]) for r in (on, off))
    print(f"| total | {total_on:.0f} | {total_off:.0f} |")
    print(f"ratio {names[0]} / {names[1]}: {total_on / total_off:.2f}")


if __name__ == "__main__":
    main()
