"""Bronze ingest vs a plain pyarrow Parquet write of the same landing rows.

    .venv/bin/python benchmarks/bench_bronze_ingest.py [--scale 5] [--repeat 3]

One day of warehouse orders (CSV) is generated, then timed two ways in one run:

- bronze: `ingestion.bronze.ingest_landing_day` (Spark parse, metadata columns,
  Parquet write, Iceberg `add_files`, ingested-file ledger), each round on a fresh
  copy of the file so nothing is skipped as already ingested;
- pyarrow: `pyarrow.csv.read_csv` + `pyarrow.parquet.write_table`: the floor,
  with no metadata, no parse-error capture and no catalog.

The ratio is what Bronze's guarantees cost over the bare write. Starts its own
REST catalog and Trino on separate ports.
"""

from __future__ import annotations

import argparse
import shutil
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from catalog import services  # noqa: E402
from catalog.settings import load_settings  # noqa: E402
from catalog.spark_session import spark_session  # noqa: E402
from ingestion.bronze import ingest_landing_day  # noqa: E402
from ingestion.synthetic import generate_sources  # noqa: E402

DAY = dt.date(2026, 1, 1)
SOURCE = "warehouse_orders"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-bronze-") as work:
        work_dir = Path(work)
        landing = work_dir / "landing"
        generate_sources(landing, DAY, 1, scale=args.scale, seed=1)
        csv_file = next((landing / SOURCE / DAY.isoformat()).glob("*.csv"))
        rows = sum(1 for _ in csv_file.open("rb")) - 1
        header = csv_file.open("rb").readline().decode().strip().split(",")

        settings = load_settings(
            home=work_dir / "home", cache_dir=REPO / ".lakehouse" / "cache",
            catalog={"port": 38381}, trino={"port": 38380, "heap_gb": 2},
        )
        services.up(settings)
        try:
            spark = spark_session(settings, app_name="bench-bronze")
            bronze_runs, arrow_runs = [], []
            # Round 0 warms up both paths and is discarded.
            for round_number in range(args.repeat + 1):
                # A fresh copy per round: the ingested-file ledger would skip a path it has seen.
                round_landing = work_dir / f"landing-{round_number}"
                shutil.copytree(landing / SOURCE, round_landing / SOURCE)
                started = time.monotonic()
                batch = ingest_landing_day(spark, settings, SOURCE, DAY, landing_dir=round_landing)
                bronze_seconds = time.monotonic() - started
                assert batch.rows_written == rows, (batch.rows_written, rows)

                started = time.monotonic()
                # Everything as strings, like Bronze; a malformed line fails the whole read here.
                table = pa_csv.read_csv(
                    csv_file,
                    read_options=pa_csv.ReadOptions(encoding="latin-1"),
                    parse_options=pa_csv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
                    convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True),
                )
                pq.write_table(table, work_dir / f"arrow-{round_number}.parquet")
                arrow_seconds = time.monotonic() - started
                if round_number:
                    bronze_runs.append(bronze_seconds)
                    arrow_runs.append(arrow_seconds)
        finally:
            services.down(settings)

    bronze, arrow = statistics.median(bronze_runs), statistics.median(arrow_runs)
    print(f"{SOURCE}, one day at scale {args.scale}: {rows:,} data lines; median of {args.repeat} after a warm-up")
    print("| path | median s | rows/s |")
    print("|---|---:|---:|")
    print(f"| Bronze (Spark + Iceberg add_files + ledger) | {bronze:.2f} | {rows / bronze:,.0f} |")
    print(f"| pyarrow read_csv + write_table | {arrow:.3f} | {rows / arrow:,.0f} |")
    print(f"ratio bronze/pyarrow: {bronze / arrow:.1f}")


if __name__ == "__main__":
    main()
