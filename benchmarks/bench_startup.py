"""Start-up cost of the local stack: cold vs warm `up`, and SparkSession start.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 3]

- cold `up`: a fresh home (no catalog database, no Trino data dir); the artifact
  cache is already filled, so the first download is excluded.
- warm `up`: `up` again on the same home after `down`.
- no-op `up`: `up` while everything is already running.
- SparkSession: a new Python process that builds the session with the
  project's factory and runs `SELECT 1` (Ivy cache already filled).

Each figure is the median of --repeat runs; ratios compare them within this run.
Uses its own ports and a temporary home, so a running demo is untouched.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog import artifacts, services  # noqa: E402
from catalog.settings import load_settings  # noqa: E402

CACHE = REPO / ".lakehouse" / "cache"
PORTS = {"catalog": {"port": 38181}, "trino": {"port": 38080}}

SPARK_START = """
import time; started = time.monotonic()
from catalog.settings import load_settings
from catalog.spark_session import spark_session
spark = spark_session(load_settings(home={home!r}, cache_dir={cache!r}))
spark.sql("SELECT 1").collect()
print(time.monotonic() - started)
"""


def machine() -> str:
    return (f"machine: {platform.node()} {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    # Fill the cache first so no measured run includes a download.
    artifacts.ensure_rest_catalog(CACHE)
    artifacts.ensure_trino(CACHE)

    cold, warm, noop = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as home:
            settings = load_settings(home=home, cache_dir=CACHE, **PORTS)
            try:
                cold.append(timed(lambda: services.up(settings)))
                noop.append(timed(lambda: services.up(settings)))
                services.down(settings)
                warm.append(timed(lambda: services.up(settings)))
            finally:
                services.down(settings)

    spark_runs = []
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as home:
        script = SPARK_START.format(home=home, cache=str(CACHE))
        for _ in range(args.repeat):
            started = time.monotonic()
            subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, capture_output=True, text=True)
            spark_runs.append(time.monotonic() - started)

    median = statistics.median
    print(machine())
    print(f"runs per figure: {args.repeat} (median)")
    print("| measurement | median s | runs s |")
    print("|---|---:|---|")
    for name, runs in (("cold up (REST catalog + Trino)", cold), ("warm up (after down)", warm),
                       ("no-op up (already running)", noop), ("SparkSession start + SELECT 1 (new process)", spark_runs)):
        print(f"| {name} | {median(runs):.2f} | {', '.join(f'{r:.2f}' for r in runs)} |")
    print(f"ratio warm/cold up: {median(warm) / median(cold):.2f}")
    print(f"ratio no-op/cold up: {median(noop) / median(cold):.4f}")


if __name__ == "__main__":
    main()
