"""Longevity, in the style of LST-Bench: does a lakehouse stay as fast after a month of daily runs?

    .venv/bin/python benchmarks/bench_longevity.py [--scale 0.02] [--seed 7] [--history-days 365] [--rounds 30]
        [--repeat 3] [--warmup 1] [--maintain-daily]

One run, in a temporary home with its own REST catalog and Trino (ports 39181 and 39080),
sources from landing files (`pipeline.sources=files`) and no maintenance after a run
(`maintenance.after_run=False`), through the product's own entry points:

1. Generate `history-days + rounds + 3` days of sources (`generate_sources`; late
   corrections, duplicates and bad rows included). At scale 0.02 a day holds ~20 orders, so
   two bad rows put a day under the contract's quality bar (0.95, severity error) and the
   pipeline rightly stops; seed 42 does that on day 371, seed 7 (the default) on no day
   after the history (the generator's ground truth: malformed lines and orphan keys). Load the first `history-days` as one catch-up
   batch (`run_batches(..., "backfill", ...)`), then build Gold (`build_gold`, dbt on Trino).
2. Point *fresh*: the analyst query pack (`sql/*.sql`) through Trino: `--warmup` discarded
   rounds over the whole pack, then `--repeat` timed ones; median per query, and the pack
   total is the sum of those medians. The pack's one parameter, the time-travel point of
   `time_travel_orders` ("2 minutes ago", which may predate a fast backfill), is pinned with
   sqlglot to the start of the last round (the state one day back; fresh: the end of the
   backfill, so no change). Then the shape of every namespace: metadata bytes (each table's
   metadata folder: metadata JSON, manifest lists, manifests), snapshots, data and delete
   files of the current snapshots, and the folders and files under the warehouse (dropped
   tables' folders and dbt's view namespaces included).
3. `--rounds` daily rounds: `run_batches` for one day, then `build_gold`. A day's Silver
   cost is the sum of its Silver jobs' seconds (`DayResult.seconds`); with two jobs at once
   (`pipeline.parallel_jobs`), overlapping jobs both count: the jobs' time, not the day's wall time.
4. Point *after N rounds*: the same pack and measurements.
5. `maintain` on every layer. Snapshots carry the real clock, so all rounds happened within
   the last hour or so; one round stands for one day by moving `as_of` ahead: the retention
   (`maintenance.layers.silver.retain_days`, R days) then reaches back to the start of
   round N - R + 1, so the last R rounds are kept, as after N real days. Orphan files are
   judged by the real clock (72 h safety age), so none are removed here.
6. Point *after maintain*: the same pack and measurements, then 3 more rounds for a day's
   Silver cost after maintenance.

`--maintain-daily` runs the product's default instead (`maintenance.after_run`): `maintain`
on every layer after each round, with `as_of` moved the same way (from round R on, the last R
rounds are kept; before it, the real clock, which keeps everything). Every round then records
the metadata bytes, so that "flat with maintenance" reads as the metadata at rounds 10, 20 and
30, once the retention's R rounds and the metadata log's last versions are full.

The Silver cost is the median of the first 3 rounds (fresh), the last 3 before maintenance
(after N rounds) and the 3 after maintenance. Goals: no more than 1.2x fresh after the
rounds, 1.05x after maintenance, and metadata that stays flat once maintained.
The load average is sampled every 30 s: another workload on the machine shows there.
Wall seconds stretch with that load (runs so far on this machine varied 3x between rounds);
CPU seconds much less, so each point also records them and the goals are judged on both:
the Trino server's CPU over the timed pack rounds (planning, scans, GC: everything the
queries cost it) and the Spark JVM's CPU over a round's Bronze and Silver jobs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pyarrow.fs as pafs
import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog import services  # noqa: E402
from catalog.iceberg_catalog import iceberg_catalog  # noqa: E402
from catalog.naming import TableName  # noqa: E402
from catalog.run_lock import command_line, pipeline_lock  # noqa: E402
from catalog.settings import LakehouseSettings, load_settings  # noqa: E402
from catalog.spark_session import spark_session  # noqa: E402
from catalog.trino_connection import trino_connection  # noqa: E402
from ingestion.bronze.landing import landing_days  # noqa: E402
from ingestion.day_runner import DayBatch, day_batches, run_batches  # noqa: E402
from ingestion.maintenance import maintain  # noqa: E402
from catalog.storage import fs_path, stored  # noqa: E402
from ingestion.maintenance.facts import table_facts  # noqa: E402
from ingestion.maintenance.job import LAYERS  # noqa: E402
from ingestion.pipeline import DayResult  # noqa: E402
from ingestion.synthetic.generator import generate_sources  # noqa: E402
from lakehouse.gold import build_gold  # noqa: E402
from lakehouse.package_data import SQL_DIR  # noqa: E402

CACHE = Path(os.environ.get("LAKEHOUSE_CACHE_DIR", REPO / ".lakehouse" / "cache"))
PORTS = {"catalog": {"port": 39181}, "trino": {"port": 39080}}
START = dt.date(2026, 1, 1)
ROUNDS_AFTER_MAINTAIN = 3
COMPARED = 3  # rounds whose median is a point's Silver day cost


# --- measurements -------------------------------------------------------------------


@dataclass
class LayerShape:
    tables: int = 0
    snapshots: int = 0
    data_files: int = 0  # in the current snapshots
    delete_files: int = 0
    manifests: int = 0  # of the current snapshots
    metadata_json_bytes: int = 0
    metadata_avro_bytes: int = 0  # manifest lists and manifests
    metadata_files: int = 0
    metadata_json_files: int = 0
    warehouse_folders: int = 0  # table (or view) folders under <warehouse>/<namespace>, dropped ones included
    warehouse_files: int = 0  # everything under <warehouse>/<namespace>
    warehouse_bytes: int = 0

    @property
    def metadata_bytes(self) -> int:
        return self.metadata_json_bytes + self.metadata_avro_bytes


@dataclass
class Point:
    name: str
    query_runs: dict[str, list[float]]
    pack_cpu: float  # Trino's CPU seconds per pack round
    layers: dict[str, LayerShape]
    silver_day: float | None = None
    day_cpu: float | None = None  # the Spark JVM's CPU seconds for a round's Bronze and Silver jobs

    @property
    def query_medians(self) -> dict[str, float]:
        return {query: statistics.median(runs) for query, runs in self.query_runs.items()}

    @property
    def pack_total(self) -> float:
        return sum(self.query_medians.values())

    def total(self, attribute: str) -> int:
        """Over every namespace: the maintained layers and dbt's view namespaces."""
        return sum(getattr(shape, attribute) for shape in self.layers.values())


def pinned(sql: str, travel_to: dt.datetime) -> str:
    """The query with any `FOR TIMESTAMP AS OF` moved to `travel_to`; other queries as written.

    `time_travel_orders` reads "2 minutes ago", which may be before the table existed (right
    after a fast backfill) or land anywhere between rounds; pinned, it always compares now
    with the same pipeline state of the point (see `measure`).
    """
    tree = sqlglot.parse_one(sql, read="trino")
    versions = [v for v in tree.find_all(exp.Version) if v.name.upper() == "TIMESTAMP"]
    if not versions:
        return sql
    moment = exp.cast(exp.Literal.string(f"{travel_to.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S.%f} UTC"),
                      exp.DataType.build("TIMESTAMP WITH TIME ZONE", dialect="trino"))
    for version in versions:
        version.set("expression", moment.copy())
    return tree.sql(dialect="trino")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def trino_process(settings: LakehouseSettings) -> psutil.Process:
    (trino,) = [s for s in services.status(settings) if s.name == "trino"]
    return psutil.Process(trino.pid)


def spark_jvm() -> psutil.Process:
    """The driver JVM pyspark started for this process (local mode: the executors run in it)."""
    (jvm,) = [child for child in psutil.Process().children(recursive=True)
              if "org.apache.spark.deploy.SparkSubmit" in child.cmdline()]
    return jvm


def run_query_pack(settings: LakehouseSettings, repeat: int, warmup: int, travel_to: dt.datetime) -> tuple[dict[str, list[float]], float]:
    """Each query of sql/ as an analyst runs it: execute and fetch every row; `warmup` discarded
    rounds over the pack, then `repeat` timed ones. Also Trino's CPU seconds per timed round."""
    queries = {path.stem: pinned(path.read_text(), travel_to) for path in sorted(SQL_DIR.glob("*.sql"))}
    runs: dict[str, list[float]] = {name: [] for name in queries}
    trino = trino_process(settings)
    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        for round_number in range(warmup + repeat):
            if round_number == warmup:
                cpu_before = cpu_seconds(trino)
            for name, sql in queries.items():
                started = time.perf_counter()
                cursor.execute(sql)
                rows = cursor.fetchall()
                if round_number >= warmup:
                    runs[name].append(time.perf_counter() - started)
                if not rows:
                    raise SystemExit(f"{name} returned no rows")
    return runs, (cpu_seconds(trino) - cpu_before) / repeat


def measure_layers(settings: LakehouseSettings) -> dict[str, LayerShape]:
    """Every table's shape from its metadata (`table_facts`, the facts maintenance plans from) and its metadata folder."""
    catalog = iceberg_catalog(settings)
    # The maintained layers, then any other namespace with a folder (dbt's view namespaces).
    others = sorted(path.name for path in settings.warehouse_dir.iterdir() if path.is_dir() and path.name not in LAYERS)
    layers = {layer: LayerShape() for layer in (*LAYERS, *others)}
    filesystem = pafs.LocalFileSystem()
    for layer, shape in layers.items():
        folder = settings.warehouse_dir / layer
        shape.warehouse_files, shape.warehouse_bytes = stored(settings, str(folder))
        shape.warehouse_folders = sum(1 for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else 0
        if not catalog.namespace_exists(layer):
            continue
        for identifier in catalog.list_tables(layer):
            name = TableName(layer, identifier[-1])
            table = catalog.load_table(name.identifier)
            stats = table_facts(table, name).stats
            shape.tables += 1
            shape.snapshots += stats.snapshots
            shape.data_files += stats.data_files
            shape.delete_files += stats.delete_files
            shape.manifests += stats.manifests
            # The folder of the current metadata JSON: every metadata JSON, manifest list and manifest.
            folder = fs_path(table.metadata_location).rsplit("/", 1)[0]
            for info in filesystem.get_file_info(pafs.FileSelector(folder, recursive=True, allow_not_found=True)):
                if info.type != pafs.FileType.File:
                    continue
                shape.metadata_files += 1
                if info.path.endswith(".metadata.json"):
                    shape.metadata_json_files += 1
                    shape.metadata_json_bytes += info.size
                else:
                    shape.metadata_avro_bytes += info.size
    return layers


def measure(settings: LakehouseSettings, name: str, args: argparse.Namespace, travel_to: dt.datetime) -> Point:
    """The query pack (time travel to `travel_to`) and the shape of every layer."""
    runs, pack_cpu = run_query_pack(settings, args.repeat, args.warmup, travel_to)
    point = Point(name, runs, pack_cpu, measure_layers(settings))
    print(f"[{name}] query pack total {point.pack_total:.2f} s, Trino CPU {point.pack_cpu:.2f} s; "
          + ", ".join(f"{query} {seconds * 1000:.0f} ms" for query, seconds in point.query_medians.items()))
    print(f"[{name}] metadata {point.total('metadata_bytes'):,} B, snapshots {point.total('snapshots')}, "
          f"data files {point.total('data_files')}, delete files {point.total('delete_files')}, "
          f"warehouse files {point.total('warehouse_files')}", flush=True)
    return point


# --- the rounds ---------------------------------------------------------------------


@dataclass
class Round:
    number: int
    day: dt.date
    started_at: dt.datetime  # wall clock, UTC
    silver_seconds: float  # sum over Silver jobs
    bronze_seconds: float
    gold_seconds: float
    spark_cpu: float  # the Spark JVM's CPU seconds over the round's Bronze and Silver jobs
    maintain_seconds: float | None = None  # --maintain-daily: maintenance after the round
    metadata_bytes: int | None = None  # --maintain-daily: every table's metadata folder after it
    snapshots: int | None = None


def silver_seconds(result: DayResult) -> float:
    return sum(result.seconds[commit.table] for commit in result.silver)


def run_round(spark, settings: LakehouseSettings, number: int, day: dt.date) -> Round:
    started_at = dt.datetime.now(dt.UTC)
    jvm = spark_jvm()
    cpu_before = cpu_seconds(jvm)
    run = run_batches(spark, settings, "run", [DayBatch(day, day)], maintain_after=False)
    spark_cpu = cpu_seconds(jvm) - cpu_before
    [result] = run.results
    clock = time.monotonic()
    build_gold(settings)
    gold = time.monotonic() - clock
    silver = silver_seconds(result)
    bronze = sum(seconds for table, seconds in result.seconds.items() if table not in {c.table for c in result.silver})
    print(f"round {number} ({day}): Silver {silver:.1f} s, Bronze {bronze:.1f} s, Gold {gold:.1f} s, "
          f"Spark CPU {spark_cpu:.1f} s", flush=True)
    return Round(number, day, started_at, silver, bronze, gold, spark_cpu)


# --- bookkeeping --------------------------------------------------------------------


@dataclass
class Phases:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        print(f"--- {name}", flush=True)
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - started
            print(f"--- {name}: {self.seconds[name]:.0f} s", flush=True)


class LoadSampler:
    """The 1-minute load average every `every` seconds, in a daemon thread."""

    def __init__(self, every: float = 30.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(every)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "n/a"


def median_silver(rounds: list[Round]) -> float:
    return statistics.median(r.silver_seconds for r in rounds)


# --- the run ------------------------------------------------------------------------


def longevity(settings: LakehouseSettings, args: argparse.Namespace, phases: Phases) -> tuple[list[Point], list[Round], object]:
    days = landing_days(START, START + dt.timedelta(days=args.history_days + args.rounds + ROUNDS_AFTER_MAINTAIN - 1))
    history, daily = days[: args.history_days], days[args.history_days:]
    with phases.phase(f"generate {len(days)} days at scale {args.scale}"):
        generate_sources(settings.landing_dir, START, len(days), scale=args.scale, seed=args.seed)
    with phases.phase("Spark session"):
        spark = spark_session(settings, app_name="bench-longevity")
    with phases.phase(f"backfill {args.history_days} days as one batch"):
        run_batches(spark, settings, "backfill", day_batches(history, 0), maintain_after=False)
    backfilled_at = dt.datetime.now(dt.UTC)
    with phases.phase("Gold build after the backfill"):
        build_gold(settings)

    points: list[Point] = []
    rounds: list[Round] = []
    with phases.phase("measure: fresh"):
        points.append(measure(settings, "fresh", args, backfilled_at))
    with phases.phase(f"{args.rounds} daily rounds" + (", each followed by maintain" if args.maintain_daily else "")):
        for number, day in enumerate(daily[: args.rounds], start=1):
            rounds.append(run_round(spark, settings, number, day))
            if args.maintain_daily:
                maintain_after_round(spark, settings, rounds)
    with phases.phase(f"measure: after {args.rounds} rounds"):
        points.append(measure(settings, f"after {args.rounds} rounds", args, rounds[-1].started_at))

    first_kept, as_of = retention_as_of(settings, rounds)
    with phases.phase(f"maintain (as_of {as_of:%Y-%m-%d %H:%M:%S} UTC: keeps rounds {first_kept.number}-{args.rounds})"):
        maintenance = maintain(spark, settings, as_of=as_of, report=lambda line: print(f"  {line}", flush=True))
    print_maintenance(maintenance)
    with phases.phase("measure: after maintain"):
        points.append(measure(settings, "after maintain", args, rounds[args.rounds - 1].started_at))
    with phases.phase(f"{ROUNDS_AFTER_MAINTAIN} rounds after maintain"):
        for number, day in enumerate(daily[args.rounds:], start=args.rounds + 1):
            rounds.append(run_round(spark, settings, number, day))

    compared = min(COMPARED, args.rounds)
    for point, chosen in zip(points, (rounds[:compared], rounds[args.rounds - compared: args.rounds], rounds[args.rounds:])):
        point.silver_day = median_silver(chosen)
        point.day_cpu = statistics.median(r.spark_cpu for r in chosen)
    return points, rounds, maintenance


def retention_as_of(settings: LakehouseSettings, rounds: list[Round]) -> tuple[Round, dt.datetime]:
    """The `as_of` that keeps the last R rounds (R = the Silver retention in days), as after that many real days."""
    retain_days = settings.maintenance.layers.silver.retain_days
    first_kept = rounds[max(len(rounds) - int(retain_days), 0)]
    return first_kept, first_kept.started_at + dt.timedelta(days=retain_days)


def maintain_after_round(spark, settings: LakehouseSettings, rounds: list[Round]) -> None:
    """`--maintain-daily`: every layer, as `after_run` would after a day, with one round standing for one day.

    Orphans are skipped: their safety age counts by the real clock, so none would go."""
    latest = rounds[-1]
    retain_days = int(settings.maintenance.layers.silver.retain_days)
    # Before R rounds, nothing is R days old yet: the real clock keeps everything.
    as_of = retention_as_of(settings, rounds)[1] if len(rounds) >= retain_days else dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    maintain(spark, settings, as_of=as_of, orphans=False)
    latest.maintain_seconds = time.monotonic() - clock
    layers = measure_layers(settings)
    latest.metadata_bytes = sum(shape.metadata_bytes for shape in layers.values())
    latest.snapshots = sum(shape.snapshots for shape in layers.values())
    print(f"round {latest.number}: maintain {latest.maintain_seconds:.1f} s; metadata {latest.metadata_bytes:,} B, "
          f"snapshots {latest.snapshots}", flush=True)


def print_maintenance(result) -> None:
    print("| table | done | snapshots | data files | delete files | data bytes | manifests | stored files | stored bytes | s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for done in result.tables:
        before, after = done.before, done.after
        pairs = [(before.snapshots, after.snapshots), (before.data_files, after.data_files),
                 (before.delete_files, after.delete_files), (before.data_bytes, after.data_bytes),
                 (before.manifests, after.manifests), (before.stored_files, after.stored_files),
                 (before.stored_bytes, after.stored_bytes)]
        print(f"| {done.table} | {done.summary} | " + " | ".join(f"{b:,} → {a:,}" for b, a in pairs) + f" | {done.seconds:.1f} |")
    for gone in result.leftovers:
        print(f"| {gone.path} | dropped table's folder: {gone.files} files, {gone.bytes:,} bytes |")
    print(flush=True)


def report(points: list[Point], rounds: list[Round], args: argparse.Namespace) -> None:
    fresh = points[0]
    rows = [
        ("query pack total s (sum of per-query medians)", lambda p: p.pack_total, "{:.2f}"),
        ("query pack, Trino CPU s per round", lambda p: p.pack_cpu, "{:.2f}"),
        ("a day's Silver s (median of 3 rounds)", lambda p: p.silver_day, "{:.1f}"),
        ("a day's Bronze + Silver, Spark CPU s (median of 3 rounds)", lambda p: p.day_cpu, "{:.1f}"),
        ("metadata bytes (every table)", lambda p: p.total("metadata_bytes"), "{:,}"),
        ("data files, current snapshots", lambda p: p.total("data_files"), "{:,}"),
        ("delete files, current snapshots", lambda p: p.total("delete_files"), "{:,}"),
        ("snapshots", lambda p: p.total("snapshots"), "{:,}"),
        ("metadata JSON files", lambda p: p.total("metadata_json_files"), "{:,}"),
        ("files under the warehouse", lambda p: p.total("warehouse_files"), "{:,}"),
        ("bytes under the warehouse", lambda p: p.total("warehouse_bytes"), "{:,}"),
        ("table folders under the warehouse", lambda p: p.total("warehouse_folders"), "{:,}"),
    ]
    print("\n| measure | " + " | ".join(p.name for p in points) + " |")
    print("|---|" + "---:|" * len(points))
    for label, value, form in rows:
        cells = [form.format(value(fresh))] + [f"{form.format(value(p))} ({ratio(value(p), value(fresh))})" for p in points[1:]]
        print(f"| {label} | " + " | ".join(cells) + " |")

    print("\nper namespace: metadata bytes (JSON + manifest lists and manifests) / metadata JSON files / snapshots / "
          "data files / delete files / warehouse files in folders")
    print("| namespace | " + " | ".join(p.name for p in points) + " |")
    print("|---|" + "---|" * len(points))
    for layer in points[-1].layers:
        cells = []
        for p in points:
            s = p.layers.get(layer, LayerShape())
            cells.append(f"{s.metadata_bytes:,} ({s.metadata_json_bytes:,} + {s.metadata_avro_bytes:,}) / {s.metadata_json_files} / "
                         f"{s.snapshots} / {s.data_files} / {s.delete_files} / {s.warehouse_files} in {s.warehouse_folders}")
        print(f"| {layer} | " + " | ".join(cells) + " |")

    print("\nper query, median ms")
    print("| query | " + " | ".join(p.name for p in points) + " |")
    print("|---|" + "---:|" * len(points))
    for query in fresh.query_runs:
        print(f"| {query} | " + " | ".join(f"{p.query_medians[query] * 1000:.0f}" for p in points) + " |")

    print("\nrounds: Silver s (sum of jobs) / Bronze s / Gold s" + (" / maintain s" if args.maintain_daily else ""))
    print(", ".join(f"{r.number}: {r.silver_seconds:.1f}/{r.bronze_seconds:.1f}/{r.gold_seconds:.1f}"
                    + (f"/{r.maintain_seconds:.1f}" if r.maintain_seconds is not None else "") for r in rounds))
    daily = [r for r in rounds[: args.rounds] if r.metadata_bytes is not None]
    if daily:
        print("\nmetadata after each round's maintenance: bytes / snapshots")
        print(", ".join(f"{r.number}: {r.metadata_bytes:,} / {r.snapshots}" for r in daily))

    after, maintained = points[1], points[2]
    goals = [
        (f"query pack after {args.rounds} rounds <= 1.2x fresh", after.pack_total / fresh.pack_total, 1.2),
        (f"Silver day after {args.rounds} rounds <= 1.2x fresh", after.silver_day / fresh.silver_day, 1.2),
        (f"query pack CPU after {args.rounds} rounds <= 1.2x fresh", after.pack_cpu / fresh.pack_cpu, 1.2),
        (f"day's Spark CPU after {args.rounds} rounds <= 1.2x fresh", after.day_cpu / fresh.day_cpu, 1.2),
        ("query pack after maintain <= 1.05x fresh", maintained.pack_total / fresh.pack_total, 1.05),
        ("query pack CPU after maintain <= 1.05x fresh", maintained.pack_cpu / fresh.pack_cpu, 1.05),
        ("day's Spark CPU after maintain <= 1.05x fresh", maintained.day_cpu / fresh.day_cpu, 1.05),
        ("Silver day after maintain <= 1.05x fresh", maintained.silver_day / fresh.silver_day, 1.05),
        ("metadata after maintain <= 1.05x fresh (flat)",
         maintained.total("metadata_bytes") / fresh.total("metadata_bytes"), 1.05),
        (f"metadata after maintain <= after {args.rounds} rounds (maintain does not let it grow)",
         maintained.total("metadata_bytes") / after.total("metadata_bytes"), 1.0),
    ]
    checkpoints = [r for r in rounds[: args.rounds] if r.metadata_bytes is not None and r.number % 10 == 0]
    if len(checkpoints) >= 2:
        first, last = checkpoints[0], checkpoints[-1]
        goals.append((f"metadata after round {last.number} <= 1.05x after round {first.number}, maintained daily (flat)",
                      last.metadata_bytes / first.metadata_bytes, 1.05))
    print("\ngoals:")
    for label, value, limit in goals:
        print(f"- {label}: {value:.2f}x, {'met' if value <= limit else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.02, help="source volume (1 = ~1,000 orders a day)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (see the docstring)")
    parser.add_argument("--history-days", type=int, default=365, help="days loaded as one catch-up batch")
    parser.add_argument("--rounds", type=int, default=30, help="daily rounds before maintenance")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds over the query pack at each point")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds over the query pack before them")
    parser.add_argument("--maintain-daily", action="store_true",
                        help="maintain every layer after each round (the product's default), recording the metadata each time")
    args = parser.parse_args()
    if args.rounds < 1 or args.history_days < 1:
        parser.error("--rounds and --history-days must be at least 1")

    phases = Phases()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-longevity-") as home, LoadSampler() as load:
        settings = load_settings(
            home=home, cache_dir=CACHE, **PORTS, pipeline={"sources": "files"}, maintenance={"after_run": False}
        )
        with phases.phase("services up"):
            services.up(settings, only=("rest-catalog", "trino"))
        try:
            with pipeline_lock(settings, command_line()):
                points, rounds, _ = longevity(settings, args, phases)
        finally:
            services.down(settings)

    print(f"\nscale {args.scale} (seed {args.seed}), {args.history_days} days of history as one batch, {args.rounds} rounds"
          f"{' each followed by maintain' if args.maintain_daily else ''}, then maintain and {ROUNDS_AFTER_MAINTAIN} rounds; query pack median of {args.repeat} after {args.warmup} warm-up")
    report(points, rounds, args)
    print("\nphases:")
    for name, seconds in phases.seconds.items():
        print(f"- {name}: {seconds:.0f} s")
    print(f"total wall time: {time.monotonic() - started:.0f} s")
    if load.samples:
        print(f"load average (1 min, every 30 s, {len(load.samples)} samples): min {min(load.samples):.2f}, "
              f"median {statistics.median(load.samples):.2f}, max {max(load.samples):.2f}")


if __name__ == "__main__":
    main()
