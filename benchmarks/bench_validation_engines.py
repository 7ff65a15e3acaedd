"""The same contract checks on a 10M-row Silver table: Polars/PyIceberg vs Spark local.

    .venv/bin/python benchmarks/bench_validation_engines.py [--rows 10000000] [--repeat 3]

Builds (once; reused while the table holds `--rows` rows of this generator) a
synthetic `silver.orders` with the Silver table's columns, day partitions and
128 MB target files, and its parent `silver.customers` at a tenth of its size,
written with PyIceberg appends into the REST catalog that `services.up` starts
in its own home and ports. A few known rows break the contract: values outside
the accepted ones or the ranges, nulls, repeated order ids, orphan customers.

Then each engine runs as a separate process, so its wall time includes Python,
imports, catalog calls and (for Spark) the JVM start:

- polars: the product's `lakehouse validate silver.orders --format json`;
- spark: `--engine spark`, the Silver gate's own functions
  (`spark_row_checks.split_rows`, `spark_table_checks.table_violations`) on the
  table and its parent read through Spark, with one extra aggregation for the
  per-check failing-row counts that `validate` also reports.

Peak RSS is sampled from the process tree (psutil, every 50 ms): the Python
process, the JVM child for Spark, and their sum. Both engines' verdicts and
failing-row counts must equal each other and the planted ones, or the run
stops. `--warmup` rounds (page cache, Ivy; 1 by default) are discarded; the
engines alternate in the measured rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl
import psutil
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog import services  # noqa: E402
from catalog.settings import load_settings  # noqa: E402
from ingestion.contracts.contract import ForeignKey, TableContract, load_contracts  # noqa: E402

HOME = Path("/tmp/bench-validate-home")
CACHE = REPO / ".lakehouse" / "cache"
# Passed as environment, so `lakehouse validate` and the Spark child load the same settings.
ENV = {
    "LAKEHOUSE_HOME": str(HOME),
    "LAKEHOUSE_CACHE_DIR": str(CACHE),
    "LAKEHOUSE_CATALOG__PORT": "21181",
    "LAKEHOUSE_TRINO__PORT": "21080",
    "LAKEHOUSE_TRINO__HEAP_GB": "2",
    "LAKEHOUSE_SPARK__DRIVER_MEMORY": "4g",
}
TABLE = "silver.orders"
PARENT = "silver.customers"
FIRST_DAY = dt.date(2025, 1, 1)
DAYS = 365
DAYS_PER_APPEND = 30
TARGET_FILE_BYTES = 128 * 1024 * 1024
SEED = 7
# Generator version: a table written by another version of this script is rebuilt.
GENERATOR = "2"

CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD"]
USD_RATES = [1.0, 1.08, 1.27, 0.0067, 1.12, 0.73]
STATUSES = ["placed", "shipped", "cancelled", "refunded"]
CHANNELS = ["web", "mobile_app", "store", "marketplace"]
CITIES = [f"city_{i:02d}" for i in range(40)]
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "NL", "PL", "JP", "BR", "CA"]
SEGMENTS = ["consumer", "smb", "enterprise"]

# Planted contract violations: check -> rows. The first OVERLAP rows of
# quantity_zero are also status_unknown rows, so one row can fail two checks.
PLANTED = {
    "status_unknown": 100,
    "amount_negative": 50,
    "quantity_zero": 40,
    "currency_null": 30,
    "channel_unknown": 20,
    "customer_null": 15,
    "order_id_repeated": 25,
    "customer_orphan": 60,
}
OVERLAP = 10


def settings():
    return load_settings(
        home=HOME,
        cache_dir=CACHE,
        catalog={"port": int(ENV["LAKEHOUSE_CATALOG__PORT"])},
        trino={"port": int(ENV["LAKEHOUSE_TRINO__PORT"]), "heap_gb": int(ENV["LAKEHOUSE_TRINO__HEAP_GB"])},
        spark={"driver_memory": ENV["LAKEHOUSE_SPARK__DRIVER_MEMORY"]},
    )


# --- Synthetic tables ----------------------------------------------------------


def planted_rows(rows: int) -> dict[str, list[int]]:
    """Row indices per violation; multiples of 7, so a repeated id never copies another planted row."""
    chosen = [7 * k for k in random.Random(SEED).sample(range(1, rows // 7), sum(PLANTED.values()))]
    out, start = {}, 0
    for name, count in PLANTED.items():
        out[name] = sorted(chosen[start : start + count])
        start += count
    out["quantity_zero"] = sorted(out["status_unknown"][:OVERLAP] + out["quantity_zero"][OVERLAP:])
    return out


def expected_findings(contract: TableContract) -> dict[tuple[str, str], int]:
    """Failing rows per (check, column), from what was planted, not from the data."""
    per_column = {
        ("accepted_values", "status"): PLANTED["status_unknown"],
        ("range", "amount"): PLANTED["amount_negative"],
        ("range", "quantity"): PLANTED["quantity_zero"],
        ("not_null", "currency"): PLANTED["currency_null"],
        ("accepted_values", "channel"): PLANTED["channel_unknown"],
        ("not_null", "customer_id"): PLANTED["customer_null"],
    }
    expected = {(check.kind, check.column): per_column.get((check.kind, check.column), 0) for check in contract.row_checks()}
    row_failures = sum(per_column.values()) - OVERLAP
    expected[("primary_key_duplicates", ", ".join(contract.primary_key))] = PLANTED["order_id_repeated"]
    for foreign_key in contract.foreign_keys:
        expected[("foreign_key_orphans", describe(foreign_key))] = PLANTED["customer_orphan"]
    expected[("dq_score", "")] = row_failures
    return expected


def describe(foreign_key: ForeignKey) -> str:
    return f"({', '.join(foreign_key.columns)}) -> {foreign_key.references.table}({', '.join(foreign_key.references.columns)})"


def orders_schema():
    from pyiceberg.schema import Schema
    from pyiceberg.types import DateType, DecimalType, LongType, NestedField, StringType, TimestamptzType

    # The Silver table's columns (contract + fx_rate_date + _batch_id), all optional as Spark's DDL makes them;
    # Spark's TIMESTAMP is Iceberg's timestamptz.
    types = [
        ("order_id", LongType()), ("customer_id", LongType()), ("order_date", DateType()), ("ordered_at", TimestamptzType()),
        ("status", StringType()), ("currency", StringType()), ("amount", DecimalType(18, 2)), ("amount_usd", DecimalType(18, 2)),
        ("quantity", LongType()), ("channel", StringType()), ("ship_city", StringType()), ("updated_at", TimestamptzType()),
        ("fx_rate_date", DateType()), ("_batch_id", StringType()),
    ]  # fmt: skip
    return Schema(*[NestedField(i, name, kind, required=False) for i, (name, kind) in enumerate(types, start=1)])


def customers_schema():
    from pyiceberg.schema import Schema
    from pyiceberg.types import BooleanType, LongType, NestedField, StringType, TimestamptzType

    types = [
        ("customer_id", LongType()), ("first_name", StringType()), ("last_name", StringType()), ("email", StringType()),
        ("country", StringType()), ("segment", StringType()), ("valid_from", TimestamptzType()), ("valid_to", TimestamptzType()),
        ("is_current", BooleanType()), ("_batch_id", StringType()),
    ]  # fmt: skip
    return Schema(*[NestedField(i, name, kind, required=False) for i, (name, kind) in enumerate(types, start=1)])


def decimal_cents(cents: pa.Array) -> pa.Array:
    """decimal(18,2) from integer cents."""
    return pc.multiply(cents.cast(pa.decimal128(19, 0)), pa.scalar(Decimal("0.01"), pa.decimal128(2, 2))).cast(pa.decimal128(18, 2))


def micros(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000


def pick(seed: int, choices: int) -> pl.Expr:
    """A deterministic pseudo-random integer in [0, choices) per row index `i`."""
    return (pl.col("i").hash(seed) % choices).cast(pl.Int64)


def one_of(seed: int, values: list) -> pl.Expr:
    return pick(seed, len(values)).replace_strict(dict(enumerate(values)))


def to_table(frame: pl.DataFrame, schema) -> pa.Table:
    """The frame as Arrow in the Iceberg schema's types; amounts come as `<name>_cents`."""
    arrow = frame.to_arrow()
    columns = {}
    for field in schema.as_arrow():
        if pa.types.is_decimal(field.type):
            columns[field.name] = decimal_cents(arrow[f"{field.name}_cents"].combine_chunks())
        else:
            columns[field.name] = arrow[field.name].cast(field.type)
    return pa.table(columns, schema=schema.as_arrow())


def orders_chunk(start: int, stop: int, rows: int, customers: int, planted: dict[str, list[int]]) -> pa.Table:
    """Rows [start, stop) of the table; row i belongs to day i * DAYS // rows."""
    hit = {name: pl.col("i").is_in([i for i in rows_ if start <= i < stop]) for name, rows_ in planted.items()}
    day = pl.col("i") * DAYS // rows
    ordered_at = micros(FIRST_DAY) + day * 86_400_000_000 + pick(1, 86_400_000_000)
    currency = pick(2, len(CURRENCIES))
    amount = pick(3, 499_900) + 100
    frame = pl.select(i=pl.int_range(start, stop, dtype=pl.Int64)).select(
        # A repeated order id copies the previous row's, as a duplicate delivery would.
        order_id=pl.when(hit["order_id_repeated"]).then(pl.col("i")).otherwise(pl.col("i") + 1),
        customer_id=pl.when(hit["customer_null"])
        .then(None)
        .when(hit["customer_orphan"])
        .then(customers + 1_000_000 + pl.col("i"))
        .otherwise(pick(4, customers) + 1),
        order_date=(day + (FIRST_DAY - dt.date(1970, 1, 1)).days).cast(pl.Int32).cast(pl.Date),
        ordered_at=ordered_at.cast(pl.Datetime("us", "UTC")),
        status=pl.when(hit["status_unknown"]).then(pl.lit("lost")).otherwise(one_of(5, STATUSES)),
        currency=pl.when(hit["currency_null"]).then(None).otherwise(currency.replace_strict(dict(enumerate(CURRENCIES)))),
        amount_cents=pl.when(hit["amount_negative"]).then(-amount).otherwise(amount),
        amount_usd_cents=(amount * currency.replace_strict(dict(enumerate(USD_RATES)))).round().cast(pl.Int64),
        quantity=pl.when(hit["quantity_zero"]).then(0).otherwise(pick(6, 9) + 1),
        channel=pl.when(hit["channel_unknown"]).then(pl.lit("fax")).otherwise(one_of(7, CHANNELS)),
        ship_city=pl.when(pick(8, 20) == 0).then(None).otherwise(one_of(9, CITIES)),
        updated_at=(ordered_at + pick(10, 3 * 86_400_000_000)).cast(pl.Datetime("us", "UTC")),
    ).with_columns(fx_rate_date=pl.col("order_date"), _batch_id=pl.format("bench-{}", pl.col("order_date")))
    return to_table(frame, orders_schema())


def customers_table(customers: int) -> pa.Table:
    """SCD2 versions: every customer current once, every 10th also with an older, closed version."""
    start = micros(dt.date(2024, 1, 1))
    current = pl.select(i=pl.int_range(1, customers + 1, dtype=pl.Int64)).with_columns(
        valid_from=start + 86_400_000_000 + pick(11, 364 * 86_400_000_000), valid_to=pl.lit(None, pl.Int64), is_current=pl.lit(True)
    )
    older = current.filter(pl.col("i") % 10 == 0).with_columns(
        valid_to=pl.col("valid_from"), valid_from=pl.lit(start, pl.Int64), is_current=pl.lit(False)
    )
    frame = pl.concat([current, older]).select(
        customer_id=pl.col("i"),
        first_name=pl.format("first_{}", pl.col("i") % 500),
        last_name=pl.format("last_{}", pl.col("i") % 2000),
        email=pl.format("customer{}@example.com", pl.col("i")),
        country=one_of(12, COUNTRIES),
        segment=one_of(13, SEGMENTS),
        valid_from=pl.col("valid_from").cast(pl.Datetime("us", "UTC")),
        valid_to=pl.col("valid_to").cast(pl.Datetime("us", "UTC")),
        is_current=pl.col("is_current"),
        _batch_id=pl.lit("bench-customers"),
    )
    return to_table(frame, customers_schema())


def ensure_tables(catalog, rows: int) -> None:
    """Create orders and customers unless they already hold this generator's `rows` rows."""
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform

    marker = f"{GENERATOR}:{rows}"
    try:
        if catalog.load_table(TABLE).properties.get("bench.generator") == marker:
            print(f"reusing {TABLE} ({rows:,} rows)", flush=True)
            return
    except NoSuchTableError:
        pass
    catalog.create_namespace_if_not_exists("silver")
    for name in (TABLE, PARENT):
        if catalog.table_exists(name):
            catalog.drop_table(name)
    properties = {"format-version": "2", "write.wap.enabled": "true", "write.target-file-size-bytes": str(TARGET_FILE_BYTES)}
    customers = max(rows // 10, 1)
    started = time.monotonic()
    parent = catalog.create_table(PARENT, customers_schema(), properties=properties)
    parent.append(customers_table(customers))
    schema = orders_schema()
    order_date = schema.find_field("order_date").field_id
    spec = PartitionSpec(PartitionField(source_id=order_date, field_id=1000, transform=IdentityTransform(), name="order_date"))
    orders = catalog.create_table(TABLE, schema, partition_spec=spec, properties=properties)
    planted = planted_rows(rows)
    # Whole days per append: one file per day partition, as a daily pipeline leaves it.
    bounds = [-(-d * rows // DAYS) for d in range(0, DAYS, DAYS_PER_APPEND)] + [rows]
    for start, stop in zip(bounds, bounds[1:]):
        orders.append(orders_chunk(start, stop, rows, customers, planted))
        print(f"  wrote rows {start:,}..{stop:,} ({time.monotonic() - started:.0f} s)", flush=True)
    with orders.transaction() as transaction:
        transaction.set_properties({"bench.generator": marker})
    files = len(orders.inspect.files())
    elapsed = time.monotonic() - started
    print(f"built {TABLE}: {rows:,} rows in {files} files, {PARENT}: {customers:,} customers ({elapsed:.0f} s)", flush=True)


# --- The Spark gate (child process) --------------------------------------------


def spark_gate() -> dict:
    """The Silver gate's functions on the whole table: per-check counts, key checks, DQ score."""
    from pyspark.sql import functions as F

    from catalog.naming import SILVER, TableName
    from catalog.spark_session import spark_session
    from ingestion.contracts.spark_row_checks import QUARANTINE_REASON, REASON_SEPARATOR, split_rows
    from ingestion.contracts.spark_table_checks import DQ_SCORE, FOREIGN_KEY_ORPHANS, PRIMARY_KEY_DUPLICATES, table_violations

    current = load_settings()
    contract = load_contracts().table("orders")
    spark = spark_session(current, app_name="bench-validation-spark")
    try:
        df = spark.table(TableName(SILVER, "orders").sql(current))
        parents = {fk.references.table for fk in contract.foreign_keys}
        referenced = {name: spark.table(TableName(SILVER, name).sql(current)) for name in parents}
        _, quarantined = split_rows(df, contract)
        reasons = F.split(F.col(QUARANTINE_REASON), REASON_SEPARATOR)
        row_checks = contract.row_checks()
        counts = quarantined.agg(
            F.count(F.lit(1)).alias("failing"),
            *[F.count_if(F.array_contains(reasons, check.description)).alias(f"check_{i}") for i, check in enumerate(row_checks)],
        ).first()
        total = df.count()
        violations = {(v.check, v.detail): v for v in table_violations(df, contract, referenced)}
    finally:
        spark.stop()
    by_check: dict[str, list] = {}
    for (check, _), violation in violations.items():
        by_check.setdefault(check, []).append(violation)
    checks = [finding(check.kind, check.column, counts[f"check_{i}"], "warn") for i, check in enumerate(row_checks)]
    surplus = sum(v.count for v in by_check.get(PRIMARY_KEY_DUPLICATES, []))
    checks.append(finding(PRIMARY_KEY_DUPLICATES, ", ".join(contract.primary_key), surplus, "error"))
    orphans = {v.detail.split(": ", 1)[1]: v.count for v in by_check.get(FOREIGN_KEY_ORPHANS, [])}
    for foreign_key in contract.foreign_keys:
        checks.append(finding(FOREIGN_KEY_ORPHANS, describe(foreign_key), orphans.get(describe(foreign_key), 0), "error"))
    # The gate reports the score only when it is below the minimum; its failing rows are the quarantined ones.
    dq = finding(DQ_SCORE, "", counts["failing"], contract.quality.severity)
    checks.append({**dq, "passed": not by_check.get(DQ_SCORE)})
    passed = not any(not c["passed"] and c["severity"] == "error" for c in checks)
    return {"passed": passed, "tables": [{"table": TABLE, "rows": total, "passed": passed, "checks": checks}]}


def finding(name: str, column: str, failing_rows: int, severity: str) -> dict:
    """One check as `lakehouse validate --format json` reports it."""
    return {"name": name, "column": column, "failing_rows": failing_rows, "passed": failing_rows == 0, "severity": severity}


# --- Measuring a child process ---------------------------------------------------


@dataclass
class Run:
    engine: str
    seconds: float
    python_peak_mb: float
    jvm_peak_mb: float
    tree_peak_mb: float
    report: dict


class PeakRss(threading.Thread):
    """Samples the RSS of a process and its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.python = self.jvm = self.tree = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                root = psutil.Process(self.pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            python = jvm = 0
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    name = process.name()
                except psutil.NoSuchProcess:
                    continue
                if name == "java":
                    jvm += rss
                elif process.pid == self.pid:
                    python += rss
            self.python, self.jvm = max(self.python, python), max(self.jvm, jvm)
            self.tree = max(self.tree, python + jvm)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_engine(engine: str) -> Run:
    command = {
        "polars": [str(REPO / ".venv" / "bin" / "lakehouse"), "validate", TABLE, "--format", "json"],
        "spark": [sys.executable, str(Path(__file__).resolve()), "--engine", "spark"],
    }[engine]
    env = {**os.environ, **ENV}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=err)
        sampler = PeakRss(child.pid)
        sampler.start()
        # wait4: this child's own peak RSS from the kernel, however short-lived a peak.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    # validate exits 1 when an error check fails, which the planted rows make it do.
    if child.returncode not in (0, 1) or not stdout.strip():
        raise SystemExit(f"{engine} run failed (exit {child.returncode}):\n{stderr[-3000:]}")
    python_peak = max(usage.ru_maxrss / 1024, sampler.python / 2**20)
    return Run(engine, seconds, python_peak, sampler.jvm / 2**20, max(sampler.tree / 2**20, python_peak), json.loads(stdout))


def findings(report: dict) -> tuple[bool, int, dict[tuple[str, str], int]]:
    (table,) = report["tables"]
    return table["passed"], table["rows"], {(c["name"], c["column"]): c["failing_rows"] for c in table["checks"]}


def verify(run: Run, expected: dict[tuple[str, str], int], rows: int) -> None:
    passed, total, found = findings(run.report)
    if found != expected or total != rows or passed:
        wrong = {key: (found.get(key), expected.get(key)) for key in expected.keys() | found.keys() if found.get(key) != expected.get(key)}
        raise SystemExit(f"{run.engine} disagrees with the planted rows: rows {total} (want {rows}), passed {passed} (want False), "
                         f"(check, column): (found, planted) {wrong}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds; 0 only builds the tables")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds before them")
    parser.add_argument("--engine", choices=["spark"], help="internal: run the Spark gate and print its findings as JSON")
    parser.add_argument("--keep-services", action="store_true", help="leave the REST catalog and Trino running")
    args = parser.parse_args()
    if args.engine == "spark":
        print(json.dumps(spark_gate()))
        return

    from catalog.iceberg_catalog import iceberg_catalog

    current = settings()
    contract = load_contracts().table("orders")
    expected = expected_findings(contract)
    services.up(current)
    runs: dict[str, list[Run]] = {"polars": [], "spark": []}
    loads = []
    try:
        ensure_tables(iceberg_catalog(current), args.rows)
        # Warm-up rounds (page cache, Ivy) are discarded; the order alternates.
        for round_number in range(args.repeat + args.warmup if args.repeat else 0):
            order = ("polars", "spark") if round_number % 2 else ("spark", "polars")
            for engine in order:
                loads.append(os.getloadavg()[0])
                run = run_engine(engine)
                verify(run, expected, args.rows)
                print(f"round {round_number} {engine}: {run.seconds:.1f} s, python {run.python_peak_mb:.0f} MB, "
                      f"jvm {run.jvm_peak_mb:.0f} MB, load {loads[-1]:.2f}", flush=True)
                if round_number >= args.warmup:
                    runs[engine].append(run)
    finally:
        if not args.keep_services:
            services.down(current)
    if not args.repeat:
        return

    print(f"\n{args.rows:,} rows, {platform.python_version()}, {os.cpu_count()} cores; median of {args.repeat} after {args.warmup} warm-up round(s); "
          f"load average (1 min) before runs: {min(loads):.2f}-{max(loads):.2f}")
    print("both engines: same verdict (failed) and the planted failing-row counts:")
    for (name, column), count in expected.items():
        print(f"  {name} {column}: {count}")
    print("| engine | median wall s | runs s | peak RSS python MB | peak RSS JVM MB | peak RSS total MB |")
    print("|---|---:|---|---:|---:|---:|")
    medians = {}
    for engine, measured in runs.items():
        medians[engine] = statistics.median(r.seconds for r in measured)
        print(f"| {engine} | {medians[engine]:.1f} | {', '.join(f'{r.seconds:.1f}' for r in measured)} | "
              f"{max(r.python_peak_mb for r in measured):.0f} | {max(r.jvm_peak_mb for r in measured):.0f} | "
              f"{max(r.tree_peak_mb for r in measured):.0f} |")
    print(f"ratio spark/polars wall time: {medians['spark'] / medians['polars']:.2f}")


if __name__ == "__main__":
    main()
