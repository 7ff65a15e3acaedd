"""The demo from the real sources vs `--sources files`: what the servers cost end to end.

    .venv/bin/python benchmarks/bench_demo_sources.py [--days 30 --scale 0.1] [--repeat 1]

Each round runs `lakehouse demo` twice through the console script, each in a fresh home on
ports of its own (the artifact cache and Trino's AOT cache shared, as on a machine that has
run a demo before): once with `--sources real` (PostgreSQL, Kafka and the CRM API started,
fed day by day, extracted by position) and once with `--sources files` (landing files only).
The order alternates between rounds. Reports each demo's wall time and its own step times
(services, generate, pipeline, gold), and the ratio real/files of the medians. Goal
(issue 14): at most 1.25.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
CACHE = REPO / ".lakehouse" / "cache"
# Apart from the defaults and the test suite's ports.
PORTS = {
    "CATALOG__PORT": 32181, "TRINO__PORT": 32080, "POSTGRES__PORT": 32433,
    "KAFKA__PORT": 32092, "KAFKA__CONTROLLER_PORT": 32093, "CRM_API__PORT": 32099,
}
STEP = re.compile(r"time: (.*)")


def _demo(home: Path, sources: str, days: int, scale: float) -> tuple[float, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")},
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_CACHE_DIR": str(CACHE),
        **{f"LAKEHOUSE_{key}": str(port) for key, port in PORTS.items()},
        "COLUMNS": "200",
    }
    started = time.monotonic()
    try:
        demo = subprocess.run(
            [LAKEHOUSE, "demo", "--days", str(days), "--scale", str(scale), "--sources", sources],
            env=env, capture_output=True, text=True, timeout=3600,
        )
        seconds = time.monotonic() - started
        if demo.returncode != 0:
            raise SystemExit(f"the {sources} demo failed:\n{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}")
    finally:
        subprocess.run([LAKEHOUSE, "down"], env=env, capture_output=True, text=True, timeout=600)
    steps = STEP.search(demo.stdout)
    return seconds, steps.group(1) if steps else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    walls: dict[str, list[float]] = {"real": [], "files": []}
    print(f"load before: {os.getloadavg()[0]:.1f}")
    for round_ in range(args.repeat):
        order = ("real", "files") if round_ % 2 == 0 else ("files", "real")
        for sources in order:
            with tempfile.TemporaryDirectory(prefix=f"bench-demo-{sources}-") as root:
                seconds, steps = _demo(Path(root) / "home", sources, args.days, args.scale)
            walls[sources].append(seconds)
            print(f"round {round_ + 1} {sources:5}: {seconds:6.1f} s  ({steps})", flush=True)
    real, files = statistics.median(walls["real"]), statistics.median(walls["files"])
    print(f"load after: {os.getloadavg()[0]:.1f}")
    print(f"median real {real:.1f} s, files {files:.1f} s, ratio real/files {real / files:.2f} (goal <= 1.25)")


if __name__ == "__main__":
    main()
