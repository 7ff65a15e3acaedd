"""The analyst query pack (`sql/`) over an s3:// warehouse vs a file:// one, on Trino and on DuckDB.

    .venv/bin/python benchmarks/bench_storage.py [--root /tmp/bench-storage] [--days 5 --scale 1]
        [--repeat 7] [--warmup 2] [--down]

Two homes under --root, and only the storage differs between the sides:

- `file-home`, the local deployment (REST catalog on 25181, Trino on 25080): the product's
  demo (`run_demo`, landing files as sources) builds Bronze, Silver and Gold there for --days
  at --scale, unless Gold is there already.
- `s3-home`, the cluster deployment's object store (S3Proxy on loopback, 25900) and a REST
  catalog of its own on it (25182). The pack's tables are copied there byte for byte with
  Iceberg's `rewrite_table_path` (Spark, on the file home): a staged copy of every metadata
  file (metadata JSON, manifest lists, manifests) with each path moved from the file
  warehouse to the bucket's, then every file (data, deletes, staged metadata) put into the
  bucket, and the table registered in the S3 catalog. Same data files, same snapshots
  (ids, timestamps, summaries), same history: the run checks the current snapshot ids match.

ONE Trino node (the file home's, which also schedules on itself) reads both: its `iceberg`
catalog is the file home's, and a second Iceberg catalog, `iceberg_s3`, rendered by
`engine_config` for the cluster deployment (native S3, path-style, credentials from the
AWS variables of Trino's environment), is the S3 home's. The cluster deployment's second
Trino node is left out on purpose: it would add an exchange between two JVMs to the S3
side. DuckDB, in this process, attaches both catalogs (`iceberg` extension) and reads the
bucket with `httpfs` (an S3 secret: endpoint, path-style, plain HTTP), both extensions
from their `duckdb-extension-*` wheels. The pack's queries are those of
bench_sql_engines.py: pinned to the starting snapshots, translated to DuckDB by sqlglot,
and on the S3 side the same statements with the catalog renamed.

Per query: --warmup discarded rounds, then --repeat rounds; a round runs Trino on both
sides then DuckDB on both, which side goes first alternating by round. The p50 is the
median wall time of execute + fetch all rows; each side must return the same rows as the
other. CPU seconds over the timed rounds, per pack round: Trino's server process (psutil),
DuckDB's (this process, which does nothing else meanwhile) and S3Proxy's (the S3 side
only: what the store itself costs). The overall ratio is the geometric mean of the per-query
s3/file ratios.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import sqlglot

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_sql_engines import (  # noqa: E402
    CACHE,
    SQL_DIR,
    TableKey,
    add_run_options,
    attach_iceberg,
    current_snapshots,
    duckdb_engine,
    duckdb_statements,
    ensure_gold,
    geometric_mean,
    on_duckdb,
    on_trino,
    print_tables,
    referenced_tables,
    row_counts,
    same_rows,
    timed,
    trino_sql,
)
from catalog import engine_config, services  # noqa: E402
from catalog.settings import LakehouseSettings, load_settings  # noqa: E402
from catalog.storage import fs_path  # noqa: E402

FILE_SETTINGS = {"catalog": {"port": 25181}, "trino": {"port": 25080}, "pipeline": {"sources": "files"}}
S3_SETTINGS = {
    "deployment": "cluster",
    "catalog": {"port": 25182},
    "object_store": {"port": 25900},
    # Never started here; set off the defaults so that the settings' checks see no clash.
    "trino": {"port": 25083, "worker_port": 25084},
}
S3_CATALOG = "iceberg_s3"
# The namespaces and metadata files `copy_tables` makes on the file side for a copy.
SCRATCH_PREFIX = "bench_copy_"
SIDES = ("file", "s3")
ENGINES = ("Trino", "DuckDB")


# --- pure -------------------------------------------------------------------------------


def on_catalog(sql: str, source: str, target: str) -> str:
    """The Trino statement with its tables of catalog `source` read from catalog `target`."""
    tree = sqlglot.parse_one(sql, read="trino")
    for table in tree.find_all(sqlglot.exp.Table):
        if table.catalog == source:
            table.set("catalog", sqlglot.exp.to_identifier(target))
    return tree.sql(dialect="trino")


def relocated(location: str, source_root: Path, target_root: str) -> str:
    """A location under the file warehouse (`file:/w/ns/t`, `file:///w/ns/t`) moved under `target_root`."""
    relative = Path(fs_path(location)).relative_to(source_root).as_posix()
    return f"{target_root.rstrip('/')}/{relative}"


def spelled(uri: str, folder: Path) -> str:
    """How `uri`, a file under `folder`, spells its scheme: `file:` or `file://`."""
    for spelling in ("file://", "file:"):
        if uri.startswith(f"{spelling}{folder}/"):
            return spelling
    raise ValueError(f"{uri} is not a file: URI under {folder}")


def one_spelling(metadata_json: str, folder: Path, spelling: str) -> str:
    """A table's metadata JSON with every path under `folder` spelled `<spelling><folder>`, and no metadata log."""
    metadata = json.loads(metadata_json)
    metadata["metadata-log"] = []
    # The folder itself (`location`, at the end of a JSON string) or anything under it.
    pattern = re.compile(r"file:(?:/{2})?" + re.escape(str(folder)) + r'(?=[/"])')
    return pattern.sub(lambda _: f"{spelling}{folder}", json.dumps(metadata))


def copy_list(file_list: str) -> list[tuple[str, str]]:
    """`rewrite_table_path`'s file list (CSV: source, target) as (local path, bucket path) pairs."""
    return [(fs_path(source), fs_path(target)) for source, target in csv.reader(io.StringIO(file_list)) if source]


# --- the two homes ----------------------------------------------------------------------


def s3_trino_catalog(s3_settings: LakehouseSettings) -> str:
    """The S3 home's Iceberg catalog as a Trino catalog file (no secret: Trino reads the AWS variables)."""
    endpoints = engine_config.local_endpoints(s3_settings)
    properties = engine_config.trino_iceberg_catalog(endpoints, file_system=engine_config.trino_file_system(endpoints.s3))
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def prepare_trino(file_settings: LakehouseSettings, s3_settings: LakehouseSettings) -> None:
    """Give the file home's Trino the S3 catalog and, through this process's environment, its credentials."""
    etc, _ = engine_config.trino_dirs(file_settings)
    (etc / "catalog").mkdir(parents=True, exist_ok=True)
    (etc / "catalog" / f"{S3_CATALOG}.properties").write_text(s3_trino_catalog(s3_settings))
    access = engine_config.object_store_access(s3_settings, with_secret=True)
    assert access is not None
    os.environ.update(engine_config.aws_credentials_env(access))


def trino_catalogs(settings: LakehouseSettings) -> set[str]:
    from catalog.trino_connection import trino_connection

    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        cursor.execute("SHOW CATALOGS")
        return {row[0] for row in cursor.fetchall()}


def copy_tables(file_settings: LakehouseSettings, s3_settings: LakehouseSettings, tables: set[TableKey], staging: Path) -> list[str]:
    """Copy the tables the S3 catalog lacks, files and history, with `rewrite_table_path`.

    `rewrite_table_path` replaces one prefix and refuses any path without it, but a table
    here spells its folder two ways: the REST catalog writes `file:/w/...` (the metadata
    JSON's own paths), Trino `file:///w/...` (Gold's manifests and data), Spark `file:/w/...`.
    So each table is first registered, under a scratch namespace, from a copy of its current
    metadata JSON with every path in its manifests' spelling and no metadata log (its entries
    name the older JSON files, which keep the other spelling); that copy is what is rewritten.
    """
    import pyarrow.fs as pafs

    from catalog import object_store
    from catalog.iceberg_catalog import iceberg_catalog
    from catalog.spark_session import spark_session

    target = iceberg_catalog(s3_settings)
    missing = sorted(key for key in tables if not target.table_exists(key))
    if not missing:
        return []
    source = iceberg_catalog(file_settings)
    bucket = object_store.pyarrow_filesystem(s3_settings)
    local = pafs.LocalFileSystem()
    spark = spark_session(file_settings, app_name="bench-storage-copy")
    done = []
    for namespace, table in missing:
        loaded = source.load_table((namespace, table))
        folder = Path(fs_path(loaded.location()))
        spelling = spelled(loaded.metadata.snapshots[0].manifest_list, folder)
        scratch = (f"{SCRATCH_PREFIX}{namespace}", table)
        metadata = folder / "metadata" / f"{SCRATCH_PREFIX}{loaded.metadata.table_uuid}.metadata.json"
        metadata.write_text(one_spelling(Path(fs_path(loaded.metadata_location)).read_text(), folder, spelling))
        source.create_namespace_if_not_exists(scratch[0])
        if source.table_exists(scratch):
            source.drop_table(scratch)  # only the catalog's entry: files stay
        source.register_table(scratch, f"{spelling}{metadata}")
        stage = staging / namespace / table
        new_location = relocated(str(folder), file_settings.warehouse_dir, s3_settings.warehouse_uri)
        (row,) = spark.sql(
            f"CALL {file_settings.catalog.name}.system.rewrite_table_path(table => '{'.'.join(scratch)}', "
            f"source_prefix => '{spelling}{folder}', target_prefix => '{new_location}', "
            f"staging_location => '{stage.as_uri()}')"
        ).collect()
        pairs = copy_list(local.open_input_stream(fs_path(row.file_list_location)).read().decode())
        for local_path, bucket_path in pairs:
            pafs.copy_files(local_path, bucket_path, source_filesystem=local, destination_filesystem=bucket)
        target.create_namespace_if_not_exists(namespace)
        # `latest_version` is the rewritten metadata JSON's file name.
        target.register_table((namespace, table), f"{new_location}/metadata/{row.latest_version}")
        source.drop_table(scratch)
        source.drop_namespace(scratch[0])
        metadata.unlink()
        done.append(f"{namespace}.{table} ({len(pairs)} files)")
    spark.stop()
    return done


def duckdb_both(file_settings: LakehouseSettings, s3_settings: LakehouseSettings):
    """One DuckDB with both catalogs attached and an S3 secret for the bucket."""
    connection = duckdb_engine()
    attach_iceberg(connection, file_settings.catalog.name, file_settings.catalog.uri)
    access = engine_config.object_store_access(s3_settings, with_secret=True)
    assert access is not None and access.endpoint is not None
    store = s3_settings.object_store
    # CREATE SECRET takes no prepared parameters: each value quoted as an SQL string by sqlglot.
    values = {
        "KEY_ID": access.access_key_id, "SECRET": access.secret_access_key, "REGION": access.region,
        "ENDPOINT": f"{store.host}:{store.port}", "SCOPE": f"s3://{store.bucket}",
    }
    options = ", ".join(f"{key} {sqlglot.exp.Literal.string(value).sql()}" for key, value in values.items())
    connection.execute(f"CREATE SECRET bench_store (TYPE s3, URL_STYLE 'path', USE_SSL false, {options})")
    attach_iceberg(connection, S3_CATALOG, s3_settings.catalog.uri)
    return connection


# --- measuring --------------------------------------------------------------------------


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def service_process(settings: LakehouseSettings, name: str) -> psutil.Process:
    (status,) = [each for each in services.status(settings) if each.name == name]
    return psutil.Process(status.pid)


@dataclass
class Runner:
    """One engine on one side: how to run a query and whose CPU it spends."""

    engine: str
    side: str
    run: Callable[[], list]
    # Whose CPU the query spends: the engine's process, then the side's services
    # (its REST catalog; on the S3 side the object store too).
    processes: dict[str, psutil.Process]


@dataclass
class Totals:
    walls: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)  # (query, engine, side)
    cpu: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (engine, side, process), timed rounds only

    def p50(self, query: str, engine: str, side: str) -> float:
        return statistics.median(self.walls[(query, engine, side)])


def round_order(runners: list[Runner], round_: int) -> list[Runner]:
    """Engine by engine; within each, the file side first in even rounds and the S3 side in odd ones."""
    order = SIDES if round_ % 2 == 0 else tuple(reversed(SIDES))
    return [runner for engine in ENGINES for side in order for runner in runners if (runner.engine, runner.side) == (engine, side)]


def bench_query(name: str, runners: list[Runner], totals: Totals, *, warmup: int, repeat: int) -> dict[str, bool]:
    """Time the query on every runner; per engine, whether both sides returned the same rows."""
    rows: dict[tuple[str, str], list] = {}
    for round_ in range(warmup + repeat):
        for runner in round_order(runners, round_):
            before = {who: cpu_seconds(process) for who, process in runner.processes.items()}
            seconds, rows[(runner.engine, runner.side)] = timed(runner.run)
            if round_ >= warmup:
                totals.walls.setdefault((name, runner.engine, runner.side), []).append(seconds)
                for who, process in runner.processes.items():
                    key = (runner.engine, runner.side, who)
                    totals.cpu[key] = totals.cpu.get(key, 0.0) + cpu_seconds(process) - before[who]
    return {engine: same_rows(rows[(engine, "file")], rows[(engine, "s3")]) for engine in ENGINES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="/tmp/bench-storage", help="folder of the two homes; reused as found")
    add_run_options(parser, days=5, down="stop both stacks at the end")
    args = parser.parse_args()

    import duckdb

    from catalog.trino_connection import trino_connection

    root = Path(args.root)
    file_settings = load_settings(home=root / "file-home", cache_dir=CACHE, **FILE_SETTINGS)
    s3_settings = load_settings(home=root / "s3-home", cache_dir=CACHE, **S3_SETTINGS)
    catalog = file_settings.catalog.name
    try:
        services.up(s3_settings, only=("object-store", "rest-catalog"))
        prepare_trino(file_settings, s3_settings)
        data = ensure_gold(file_settings, days=args.days, scale=args.scale)
        if S3_CATALOG not in trino_catalogs(file_settings):
            raise SystemExit(f"the file home's Trino was started without the {S3_CATALOG} catalog: "
                             f"stop it (LAKEHOUSE_HOME={file_settings.home} lakehouse down) and run again")
        queries = {path.stem: path.read_text() for path in sorted(SQL_DIR.glob("*.sql"))}
        tables = set().union(*(referenced_tables(sql, catalog) for sql in queries.values()))
        copied = copy_tables(file_settings, s3_settings, tables, root / "staging")
        snapshots = current_snapshots(file_settings, tables)
        if current_snapshots(s3_settings, tables) != snapshots:
            raise SystemExit("the S3 copies' current snapshots differ from the file tables': remove --root's s3-home and run again")
        counts = row_counts(file_settings, tables)

        engines = {"Trino": service_process(file_settings, "trino"), "DuckDB": psutil.Process()}
        side_services = {
            "file": {"REST catalog": service_process(file_settings, "rest-catalog")},
            "s3": {"REST catalog": service_process(s3_settings, "rest-catalog"),
                   "S3Proxy": service_process(s3_settings, "object-store")},
        }
        duck = duckdb_both(file_settings, s3_settings)
        totals, same = Totals(), {}
        with trino_connection(file_settings) as connection:
            cursor = connection.cursor()
            runs = {"Trino": lambda query: on_trino(cursor, query), "DuckDB": lambda statements: on_duckdb(duck, statements)}
            for name, sql in queries.items():
                on_s3 = on_catalog(sql, catalog, S3_CATALOG)
                statements = {
                    ("Trino", "file"): trino_sql(sql, catalog, snapshots),
                    ("Trino", "s3"): trino_sql(on_s3, S3_CATALOG, snapshots),
                    ("DuckDB", "file"): duckdb_statements(sql, catalog, snapshots),
                    ("DuckDB", "s3"): duckdb_statements(on_s3, S3_CATALOG, snapshots),
                }
                runners = [
                    Runner(engine, side, runs[engine](statements[(engine, side)]), {engine: engines[engine], **side_services[side]})
                    for engine in ENGINES for side in SIDES
                ]
                same[name] = bench_query(name, runners, totals, warmup=args.warmup, repeat=args.repeat)
        if current_snapshots(file_settings, tables) != snapshots or current_snapshots(s3_settings, tables) != snapshots:
            raise SystemExit("a table got a new snapshot during the run: the sides may have read different data")
    finally:
        if args.down:
            services.down(file_settings)
            services.down(s3_settings)

    report(data, copied, snapshots, counts, queries, totals, same, repeat=args.repeat, duckdb_version=duckdb.__version__)


def report(data, copied, snapshots, counts, queries: Iterable[str], totals: Totals, same, *, repeat: int, duckdb_version: str) -> None:
    print(f"data: {data}; copied to S3: {', '.join(copied) or 'nothing (already there)'}; "
          f"python {platform.python_version()}, duckdb {duckdb_version}")
    print_tables(snapshots, counts, snapshot="snapshot (both sides)")
    print("| query | Trino file p50 ms | Trino s3 p50 ms | s3/file | DuckDB file p50 ms | DuckDB s3 p50 ms | s3/file | same rows |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in queries:
        cells = []
        for engine in ENGINES:
            file_s, s3_s = totals.p50(name, engine, "file"), totals.p50(name, engine, "s3")
            cells += [f"{file_s * 1000:.0f}", f"{s3_s * 1000:.0f}", f"{s3_s / file_s:.2f}"]
        agree = " / ".join(f"{engine} {'yes' if same[name][engine] else 'NO'}" for engine in ENGINES)
        print(f"| {name} | {' | '.join(cells)} | {agree} |")
    print()
    for engine in ENGINES:
        compared = [name for name in queries if same[name][engine]]
        if not compared:
            continue
        ratio = geometric_mean(totals.p50(name, engine, "s3") / totals.p50(name, engine, "file") for name in compared)
        summed = sum(totals.p50(name, engine, "s3") for name in compared) / sum(totals.p50(name, engine, "file") for name in compared)
        print(f"{engine} s3/file over {len(compared)} queries: geometric mean of p50 ratios **{ratio:.2f}**, "
              f"ratio of summed p50s {summed:.2f}")
    print("\nCPU seconds per pack round (timed rounds only):\n")
    print("| queries on | process | file | s3 | s3/file |")
    print("|---|---|---:|---:|---:|")
    for engine in ENGINES:
        processes = sorted({who for each, _, who in totals.cpu if each == engine}, key=lambda who: (who != engine, who))
        rows = {who: {side: totals.cpu.get((engine, side, who), 0.0) / repeat for side in SIDES} for who in processes}
        rows["all of these"] = {side: sum(row[side] for row in rows.values()) for side in SIDES}
        for who, cpu in rows.items():
            ratio = f"{cpu['s3'] / cpu['file']:.2f}" if cpu["file"] > 0 else "-"
            print(f"| {engine} | {who} | {cpu['file']:.2f} | {cpu['s3']:.2f} | {ratio} |")
    print("\nruns (ms):")
    for (name, engine, side), walls in totals.walls.items():
        print(f"- {name} {engine} {side}: {', '.join(f'{s * 1000:.0f}' for s in walls)}")


if __name__ == "__main__":
    main()
