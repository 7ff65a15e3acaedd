"""The analyst query pack (`sql/`) on Trino vs DuckDB, reading the same Iceberg snapshots.

    .venv/bin/python benchmarks/bench_sql_engines.py [--home /tmp/bench-sql-home] [--days 2 --scale 1]
        [--repeat 7] [--warmup 2] [--down]

Brings up its own stack (REST catalog on 20181, Trino on 20080, home --home, the repo's
artifact cache). If Gold is not built in that home yet, it runs the product's demo
(`run_demo`: generate, Bronze + Silver as a catch-up then the last days one by one,
`dbt build`) for --days at --scale;
an existing home is reused as it is.

Both engines read through the same REST catalog: Trino with its Iceberg connector, DuckDB
with the `iceberg` extension (`ATTACH ... (TYPE iceberg)`), loaded from the
`duckdb-extension-*` wheels, since extensions cannot be downloaded at run time. Every
plain table reference is pinned to the snapshot that is current when the run starts
(Trino `FOR VERSION AS OF`, DuckDB `AT (VERSION => ...)`); the metadata-table queries read
the current metadata, and the run fails if any snapshot moved meanwhile. Each query is
translated with sqlglot (Trino -> DuckDB), with these mappings for what DuckDB lacks:

- `FOR TIMESTAMP AS OF x` -> `AT (TIMESTAMP => x)`;
- `"t$snapshots"` -> the snapshot list of the table's metadata JSON, read with DuckDB's JSON
  functions from `iceberg_load_table_response` (`iceberg_snapshots()` has no `summary`);
- `"t$files"` -> the live entries of the current snapshot's data manifests, read with
  `read_avro` (`iceberg_metadata()` has neither partition values nor file sizes).

Each engine must return the same rows (floats and decimals compared to 1e-9 relative),
or the query is reported as a mismatch and left out of the ratio. Per query: `--warmup`
discarded rounds, then `--repeat` rounds alternating the engines; the p50 is the median
wall time of execute + fetch all rows. `SELECT 1` gives each engine's floor. The overall ratio is the geometric mean of the
per-query Trino/DuckDB ratios; the ratio of the summed p50s is printed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog.settings import LakehouseSettings, load_settings  # noqa: E402

CACHE = REPO / ".lakehouse" / "cache"
SQL_DIR = REPO / "sql"
PORTS = {"catalog": {"port": 20181}, "trino": {"port": 20080}}
# The demo's own defaults (`lakehouse demo`), so a home built here matches a CLI demo.
DEMO_START = dt.date(2026, 1, 1)
DEMO_SEED = 42
# Loaded from their wheels in this order: iceberg needs avro (manifests) and httpfs (REST).
DUCKDB_EXTENSIONS = ("avro", "httpfs", "iceberg")
TableKey = tuple[str, str]  # (namespace, table)
FLOOR = "SELECT 1"

# `"t$snapshots"` for DuckDB: the metadata JSON's snapshot list, with Trino's column names.
DUCKDB_SNAPSHOTS = """(
    SELECT
        epoch_ms(CAST(snapshot ->> 'timestamp-ms' AS BIGINT)) AS committed_at,
        CAST(snapshot ->> 'snapshot-id' AS BIGINT) AS snapshot_id,
        CAST(snapshot ->> 'parent-snapshot-id' AS BIGINT) AS parent_id,
        snapshot -> 'summary' ->> 'operation' AS operation,
        snapshot ->> 'manifest-list' AS manifest_list,
        CAST(snapshot -> 'summary' AS MAP(VARCHAR, VARCHAR)) AS summary
    FROM (
        SELECT unnest(CAST(CAST(metadata AS JSON) -> 'snapshots' AS JSON[])) AS snapshot
        FROM iceberg_load_table_response('{table}')
    )
)"""
# `"t$files"` for DuckDB: live data-file entries (status 0 existing, 1 added; 2 is deleted)
# of the current snapshot's data manifests; table functions take no subquery, hence the variable.
DUCKDB_FILES_SETUP = (
    "SET VARIABLE {variable} = (SELECT list(DISTINCT manifest_path) "
    "FROM iceberg_metadata('{table}') WHERE manifest_content = 'DATA')"
)
DUCKDB_FILES = """(
    SELECT
        data_file.content AS content,
        data_file.file_path AS file_path,
        data_file.file_format AS file_format,
        data_file.partition AS partition,
        data_file.record_count AS record_count,
        data_file.file_size_in_bytes AS file_size_in_bytes
    FROM read_avro(getvariable('{variable}'))
    WHERE status <> 2 AND data_file.content = 0
)"""


# --- translation (pure) -------------------------------------------------------------


def _split_metadata(name: str) -> tuple[str, str | None]:
    """`orders$files` -> (`orders`, `files`); `orders` -> (`orders`, None)."""
    table, _, suffix = name.partition("$")
    return table, suffix or None


def _catalog_tables(tree: exp.Expression, catalog: str) -> list[exp.Table]:
    return [table for table in tree.find_all(exp.Table) if table.catalog == catalog and table.db]


def referenced_tables(sql: str, catalog: str) -> set[TableKey]:
    """The Iceberg tables a Trino statement reads, metadata tables counted as their table."""
    tree = sqlglot.parse_one(sql, read="trino")
    return {(table.db, _split_metadata(table.name)[0]) for table in _catalog_tables(tree, catalog)}


def trino_sql(sql: str, catalog: str, snapshots: Mapping[TableKey, int]) -> str:
    """The statement with every plain table reference pinned to its snapshot (`FOR VERSION AS OF`)."""
    tree = sqlglot.parse_one(sql, read="trino")
    for table in _catalog_tables(tree, catalog):
        name, metadata = _split_metadata(table.name)
        if metadata is None and table.args.get("version") is None:
            version = exp.Version(this="VERSION", kind="AS OF", expression=exp.Literal.number(snapshots[(table.db, name)]))
            table.set("version", version)
    return tree.sql(dialect="trino")


class NotTranslatable(ValueError):
    """A Trino construct this benchmark has no DuckDB equivalent for."""


def duckdb_statements(sql: str, catalog: str, snapshots: Mapping[TableKey, int]) -> list[str]:
    """The statement for DuckDB (last) and any set-up statements it needs (first).

    Same pinning as `trino_sql`; explicit time travel and metadata tables are mapped as
    the module docstring says.
    """
    tree = sqlglot.parse_one(sql, read="trino")
    setup: list[str] = []
    for table in _catalog_tables(tree, catalog):
        name, metadata = _split_metadata(table.name)
        qualified = f"{catalog}.{table.db}.{name}"
        alias = table.alias or (name if metadata is None else metadata)
        if metadata == "snapshots":
            table.replace(_subquery(DUCKDB_SNAPSHOTS.format(table=qualified), alias))
        elif metadata == "files":
            variable = f"bench_files_{table.db}_{name}"
            setup.append(DUCKDB_FILES_SETUP.format(variable=variable, table=qualified))
            table.replace(_subquery(DUCKDB_FILES.format(variable=variable), alias))
        elif metadata is not None:
            raise NotTranslatable(f'metadata table "{table.name}" has no DuckDB mapping here')
        else:
            version = table.args.get("version")
            if version is None:
                kind, point = "VERSION", exp.Literal.number(snapshots[(table.db, name)])
            elif version.name.upper() == "TIMESTAMP":
                # DuckDB's AT (TIMESTAMP => ...) wants a TIMESTAMP, Trino's clause a TIMESTAMP WITH TIME ZONE.
                kind, point = "TIMESTAMP", exp.cast(version.expression, exp.DataType.build("TIMESTAMP"))
            else:
                kind, point = "VERSION", version.expression
            table.set("version", None)
            table.set("when", exp.HistoricalData(this="AT", kind=kind, expression=point))
    return [*setup, tree.sql(dialect="duckdb")]


def _subquery(sql: str, alias: str) -> exp.Subquery:
    subquery = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(subquery, exp.Subquery)
    return subquery.as_(alias)


def normalise(value: object) -> object:
    """One engine-neutral form for comparing result values."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def same_rows(left: Sequence[Sequence[object]], right: Sequence[Sequence[object]]) -> bool:
    if len(left) != len(right):
        return False
    for left_row, right_row in zip(left, right, strict=True):
        if len(left_row) != len(right_row):
            return False
        for a, b in zip(map(normalise, left_row), map(normalise, right_row), strict=True):
            if isinstance(a, float) and isinstance(b, float | int):
                if not math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif isinstance(b, float) and isinstance(a, int):
                if not math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif a != b:
                return False
    return True


# --- engines ------------------------------------------------------------------------


def duckdb_engine():
    """DuckDB in UTC with the extensions of their wheels loaded, and no catalog attached."""
    import duckdb

    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for name in DUCKDB_EXTENSIONS:
        package = importlib.import_module(f"duckdb_extension_{name}")
        path = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        connection.execute(f"LOAD '{path}'")
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def attach_iceberg(connection, name: str, uri: str) -> None:
    """A REST catalog as DuckDB catalog `name`."""
    connection.execute(f"ATTACH '' AS {name} (TYPE iceberg, ENDPOINT '{uri}', AUTHORIZATION_TYPE 'none')")


def duckdb_connection(settings: LakehouseSettings):
    connection = duckdb_engine()
    attach_iceberg(connection, settings.catalog.name, settings.catalog.uri)
    return connection


def ensure_gold(settings: LakehouseSettings, *, days: int, scale: float) -> str:
    """Start the stack; run the demo if this home has no Gold yet. Returns what was done."""
    from catalog import services
    from lakehouse.demo import run_demo
    from lakehouse.gold import gold_marts
    from catalog.trino_connection import trino_connection

    # The demo starts what it needs itself (with --sources files, no source servers).
    services.up(settings, only=("rest-catalog", "trino"))
    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        cursor.execute("SHOW SCHEMAS")
        schemas = {row[0] for row in cursor.fetchall()}
        tables = set()
        if "gold" in schemas:
            cursor.execute("SHOW TABLES FROM gold")
            tables = {row[0] for row in cursor.fetchall()}
    if set(gold_marts()) <= tables:
        return "reused"
    started = time.monotonic()
    summary = run_demo(settings, start=DEMO_START, days=days, scale=scale, seed=DEMO_SEED, report=print)
    return f"demo {days} days at scale {scale} in {time.monotonic() - started:.0f} s ({summary.seconds})"


def current_snapshots(settings: LakehouseSettings, tables: set[TableKey]) -> dict[TableKey, int]:
    from catalog.iceberg_catalog import iceberg_catalog

    catalog = iceberg_catalog(settings)
    return {key: catalog.load_table(key).metadata.current_snapshot_id for key in sorted(tables)}


def row_counts(settings: LakehouseSettings, tables: set[TableKey]) -> dict[TableKey, int]:
    from catalog.trino_connection import trino_connection

    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        counts = {}
        for namespace, table in sorted(tables):
            cursor.execute(f'SELECT count(*) FROM "{namespace}"."{table}"')
            counts[(namespace, table)] = int(cursor.fetchone()[0])
    return counts


def geometric_mean(ratios: Iterable[float]) -> float:
    return math.exp(statistics.fmean(math.log(ratio) for ratio in ratios))


@dataclass
class QueryRun:
    name: str
    trino: list[float]
    duckdb: list[float]
    rows: tuple[int, int]
    same: bool

    @property
    def ratio(self) -> float:
        return statistics.median(self.trino) / statistics.median(self.duckdb)


def timed(run: Callable[[], list]) -> tuple[float, list]:
    started = time.perf_counter()
    rows = run()
    return time.perf_counter() - started, rows


def on_trino(cursor, query: str) -> Callable[[], list]:
    """The query on Trino, all rows fetched."""
    def run() -> list:
        cursor.execute(query)
        return cursor.fetchall()
    return run


def on_duckdb(duck, statements: Sequence[str]) -> Callable[[], list]:
    """The set-up statements then the query on DuckDB, all rows fetched."""
    def run() -> list:
        for statement in statements[:-1]:
            duck.execute(statement)
        return duck.execute(statements[-1]).fetchall()
    return run


def add_run_options(parser: argparse.ArgumentParser, *, days: int, down: str) -> None:
    """The demo's size (if it must be built), the rounds, and whether to stop at the end."""
    parser.add_argument("--days", type=int, default=days, help="demo days, if the home has no Gold yet")
    parser.add_argument("--scale", type=float, default=1.0, help="demo scale (1 = ~1,000 orders a day)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--down", action="store_true", help=down)


def bench_query(
    name: str, trino_query: str, duckdb_query: list[str], trino_cursor, duck, *, warmup: int, repeat: int
) -> QueryRun:
    trino_run, duckdb_run = on_trino(trino_cursor, trino_query), on_duckdb(duck, duckdb_query)
    trino_times, duckdb_times = [], []
    trino_rows = duckdb_rows = []
    for round_ in range(warmup + repeat):
        trino_s, trino_rows = timed(trino_run)
        duckdb_s, duckdb_rows = timed(duckdb_run)
        if round_ >= warmup:
            trino_times.append(trino_s)
            duckdb_times.append(duckdb_s)
    return QueryRun(name, trino_times, duckdb_times, (len(trino_rows), len(duckdb_rows)), same_rows(trino_rows, duckdb_rows))


def print_tables(snapshots: Mapping[TableKey, int], counts: Mapping[TableKey, int], *, snapshot: str = "snapshot") -> None:
    """The tables read, their rows and pinned snapshots, as a Markdown table."""
    print(f"| table | rows | {snapshot} |")
    print("|---|---:|---|")
    for (namespace, table), snapshot_id in snapshots.items():
        print(f"| {namespace}.{table} | {counts[(namespace, table)]:,} | {snapshot_id} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default="/tmp/bench-sql-home", help="stack home; reused if Gold is built there")
    add_run_options(parser, days=2, down="stop the stack at the end")
    args = parser.parse_args()

    import duckdb

    from catalog import services
    from catalog.trino_connection import trino_connection

    settings = load_settings(home=args.home, cache_dir=CACHE, **PORTS)
    catalog = settings.catalog.name
    try:
        data = ensure_gold(settings, days=args.days, scale=args.scale)
        queries = {path.stem: path.read_text() for path in sorted(SQL_DIR.glob("*.sql"))}
        tables = set().union(*(referenced_tables(sql, catalog) for sql in queries.values()))
        snapshots = current_snapshots(settings, tables)
        counts = row_counts(settings, tables)

        duck = duckdb_connection(settings)
        runs, skipped = [], {}
        with trino_connection(settings) as connection:
            cursor = connection.cursor()
            for name, sql in queries.items():
                try:
                    duckdb_query = duckdb_statements(sql, catalog, snapshots)
                except NotTranslatable as error:
                    skipped[name] = str(error)
                    continue
                trino_query = trino_sql(sql, catalog, snapshots)
                runs.append(bench_query(name, trino_query, duckdb_query, cursor, duck, warmup=args.warmup, repeat=args.repeat))
            # Each engine's floor: a statement that reads nothing. Not part of the ratio.
            floor = bench_query(FLOOR, "SELECT 1", ["SELECT 1"], cursor, duck, warmup=args.warmup, repeat=args.repeat)
        if current_snapshots(settings, tables) != snapshots:
            raise SystemExit("a table got a new snapshot during the run: the engines may have read different data")
    finally:
        if args.down:
            services.down(settings)

    print(f"data: {data}; python {platform.python_version()}, duckdb {duckdb.__version__}")
    print_tables(snapshots, counts)
    print("| query | Trino p50 ms | DuckDB p50 ms | Trino/DuckDB | rows | same result |")
    print("|---|---:|---:|---:|---:|---|")
    for run in runs:
        rows = str(run.rows[0]) if run.rows[0] == run.rows[1] else f"{run.rows[0]} vs {run.rows[1]}"
        print(
            f"| {run.name} | {statistics.median(run.trino) * 1000:.0f} | {statistics.median(run.duckdb) * 1000:.0f} "
            f"| {run.ratio:.2f} | {rows} | {'yes' if run.same else 'NO'} |"
        )
    for name, reason in skipped.items():
        print(f"| {name} | skipped: {reason} | | | | |")
    print(
        f"| {FLOOR} (not in the ratio) | {statistics.median(floor.trino) * 1000:.0f} "
        f"| {statistics.median(floor.duckdb) * 1000:.0f} | {floor.ratio:.2f} | 1 | {'yes' if floor.same else 'NO'} |"
    )
    compared = [run for run in runs if run.same]
    if compared:
        geomean = geometric_mean(run.ratio for run in compared)
        summed = sum(statistics.median(run.trino) for run in compared) / sum(statistics.median(run.duckdb) for run in compared)
        print(f"\nTrino/DuckDB over {len(compared)} queries with the same result: geometric mean of ratios **{geomean:.2f}**, "
              f"ratio of summed p50s **{summed:.2f}** (goal: 1.5 or less)")
    print("\nruns (ms):")
    for run in runs:
        print(f"- {run.name}: Trino {', '.join(f'{s * 1000:.0f}' for s in run.trino)}; "
              f"DuckDB {', '.join(f'{s * 1000:.0f}' for s in run.duckdb)}")


if __name__ == "__main__":
    main()
