"""Pipeline days with the OpenLineage Spark listener off vs on.

    .venv/bin/python benchmarks/bench_spark_listener.py [--days 2] [--scale 0.1]

Each variant runs in its own process (a JVM's listeners are fixed when it starts) with
its own fresh home and REST catalog on separate ports (Spark needs no Trino), and does
what `bench_pipeline_day.py` does: generate `days` days, start a session with the
product's factory, `run_day` for each. The only difference is `lineage.spark_listener`.
Prints the process's wall seconds (catalog start, JVM and Ivy, the days), session start
and day seconds for each variant, the ratios on/off, and the size and event count of
the listener's file. Checks that both variants merged and quarantined the same rows.
The load average before and after goes with the figures: on a busy machine they are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline_day import CACHE, child_figures, run_days, same_rows
from bench_startup import machine

PORTS = {"off": 22381, "on": 22481}


def run_variant(home: Path, *, days: int, scale: float, listener: bool, port: int) -> dict:
    """In this process: a REST catalog, the days, and the listener's file, as one JSON line of figures."""
    from catalog import services
    from catalog.settings import load_settings

    settings = load_settings(home=home, cache_dir=CACHE, catalog={"port": port}, lineage={"spark_listener": listener})
    services.up(settings, only=["rest-catalog"])
    try:
        figures = run_days(settings, days=days, scale=scale, app_name="bench_spark_listener")
    finally:
        services.down(settings)
    events = settings.lineage.spark_file
    assert events is not None
    figures["events"] = len(events.read_text().splitlines()) if events.exists() else 0
    figures["events_bytes"] = events.stat().st_size if events.exists() else 0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--variant", choices=tuple(PORTS), help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        figures = run_variant(args.home, days=args.days, scale=args.scale, listener=args.variant == "on", port=PORTS[args.variant])
        print("FIGURES " + json.dumps(figures))
        return

    load_before = os.getloadavg()
    results = {}
    for variant in ("off", "on"):
        with tempfile.TemporaryDirectory(prefix=f"bench-listener-{variant}-") as home:
            argv = [sys.executable, __file__, "--variant", variant, "--home", home,
                    "--days", str(args.days), "--scale", str(args.scale)]
            clock = time.monotonic()
            results[variant] = child_figures(argv)
            results[variant]["wall"] = time.monotonic() - clock
    load_after = os.getloadavg()
    off, on = results["off"], results["on"]
    same_rows(off, on)
    if off["events"] or not on["events"]:
        raise SystemExit(f"listener events: off wrote {off['events']}, on wrote {on['events']}")

    rows = [("process wall s", off["wall"], on["wall"]), ("SparkSession start s", off["spark_start"], on["spark_start"])]
    rows += [(f"day {n} s", a["seconds"], b["seconds"]) for n, (a, b) in enumerate(zip(off["days"], on["days"]), start=1)]
    rows.append(("days total s", *(sum(day["seconds"] for day in r["days"]) for r in (off, on))))
    print(machine())
    print(f"{args.days} days at scale {args.scale}; load average (1, 5, 15 min) before "
          f"{', '.join(f'{x:.2f}' for x in load_before)}, after {', '.join(f'{x:.2f}' for x in load_after)}")
    print("| measurement | listener off | listener on | on/off |\n|---|---:|---:|---:|")
    for name, a, b in rows:
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    print(f"| listener events | 0 | {on['events']:,} | |")
    print(f"| listener file MB | 0 | {on['events_bytes'] / 2**20:.1f} | |")


if __name__ == "__main__":
    main()
