"""Helpers for the crash and overlap proofs: private homes, the real CLI in its own process
group, SIGKILL at a pipeline point, and checks of what a warehouse holds.

Shared by `test_run_safety.py` (a few cases in CI) and `benchmarks/soak_reliability.py`
(many, by hand). Everything is read back with PyIceberg and the file system, never with
the pipeline under test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from catalog import services
from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import BRONZE, OPS, SILVER, TableName
from catalog.settings import LakehouseSettings, load_settings
from ingestion.bronze import tables as bronze_tables

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
# Columns that differ between two correct runs of the same deliveries: times, and ids
# derived from the home's absolute paths.
VOLATILE_COLUMNS = {"_ingested_at", "_batch_id", "batch_id", "ingested_at", "quarantined_at"}
CHECKED_NAMESPACES = (BRONZE, SILVER)


@dataclass(frozen=True)
class Home:
    settings: LakehouseSettings
    env: dict[str, str]

    @property
    def events(self) -> Path:
        return self.settings.lineage.file


@contextmanager
def private_home(root: Path, *, port: int, cache_dir: Path) -> Iterator[Home]:
    """A home with its own REST catalog (no Trino: `run` needs only the catalog)."""
    settings = load_settings(
        home=root, cache_dir=cache_dir, catalog={"port": port}, spark={"driver_memory": "2g", "shuffle_partitions": 2}
    )
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("LAKEHOUSE_")},
        "LAKEHOUSE_HOME": str(root),
        "LAKEHOUSE_CACHE_DIR": str(cache_dir),
        "LAKEHOUSE_CATALOG__PORT": str(port),
        "LAKEHOUSE_SPARK__DRIVER_MEMORY": "2g",
        "LAKEHOUSE_SPARK__SHUFFLE_PARTITIONS": "2",
        # The crash and overlap proofs run on landing files; the connectors' own tests kill between extract and commit.
        "LAKEHOUSE_PIPELINE__SOURCES": "files",
        "COLUMNS": "200",
    }
    services.up(settings, only=["rest-catalog"])
    try:
        yield Home(settings, env)
    finally:
        services.down(settings)


def start(home: Home, *args: str) -> subprocess.Popen:
    """The console script in a process group of its own, so that its Spark JVM can be killed with it."""
    return subprocess.Popen(
        [LAKEHOUSE, *args], env=home.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def run(home: Home, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    process = start(home, *args)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_day_args(day: dt.date) -> tuple[str, ...]:
    return ("run", "--date", day.isoformat())


def kill_when(home: Home, process: subprocess.Popen, *, job: str, event: str = "START", delay: float = 0.0, timeout: float = 600) -> bool:
    """SIGKILL the process group `delay` s after lineage reports `event` for `job` (e.g. "silver.orders").

    False if the run ended first (then nothing was killed).
    """
    offset = home.events.stat().st_size if home.events.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _lineage_event_seen(home.events, offset, job, event):
            time.sleep(delay)
            return kill_group(process)
        time.sleep(0.1)
    raise TimeoutError(f"no {event} event for {job} within {timeout} s")


def kill_after(process: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL the process group after `seconds`; False if it had ended by then."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        return kill_group(process)


def kill_group(process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        return False
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    return True


def _lineage_event_seen(path: Path, offset: int, job: str, event: str) -> bool:
    if not path.exists():
        return False
    with path.open("rb") as handle:
        handle.seek(offset)
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:  # a line still being written
                continue
            if record.get("eventType") == event and record.get("job", {}).get("name") == job:
                return True
    return False


# --- what the warehouse holds ---------------------------------------------------------


def content_checksums(settings: LakehouseSettings, namespaces: Sequence[str] = CHECKED_NAMESPACES) -> dict[str, str]:
    """Per table of `namespaces` (Bronze and Silver unless told): a digest of its rows, in any
    order, without the volatile columns."""
    catalog = iceberg_catalog(settings)
    home = str(settings.home)
    digests = {}
    for namespace in namespaces:
        for identifier in catalog.list_tables(namespace):
            frame = catalog.load_table(identifier).scan().to_polars()
            frame = frame.drop([name for name in frame.columns if name in VOLATILE_COLUMNS])
            frame = frame.with_columns(pl.col(pl.String).str.replace_all(home, "<home>", literal=True))
            frame = frame.select(sorted(frame.columns))
            rows = sorted(frame.cast(pl.String).fill_null("<null>").rows())
            digests[str(TableName(*identifier))] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def branches_other_than_main(settings: LakehouseSettings) -> dict[str, list[str]]:
    catalog = iceberg_catalog(settings)
    found = {}
    for namespace in CHECKED_NAMESPACES:
        for identifier in catalog.list_tables(namespace):
            refs = [name for name in catalog.load_table(identifier).metadata.refs if name != "main"]
            if refs:
                found[str(TableName(*identifier))] = refs
    return found


def unreferenced_data_files(settings: LakehouseSettings) -> list[Path]:
    """Data files under a table's `data/` folder, and Bronze attempt folders, that no snapshot references."""
    on_disk, referenced = _table_data_files(settings, (*CHECKED_NAMESPACES, OPS))
    bronze = settings.bronze_dir
    if bronze.is_dir():
        on_disk |= {p for p in bronze.rglob("*.parquet") if p.is_file()}
    return sorted(on_disk - referenced)


def unreferenced_table_files(settings: LakehouseSettings, namespaces: Sequence[str]) -> list[Path]:
    """Data files under the `data/` folder of a table in `namespaces` that no snapshot references."""
    on_disk, referenced = _table_data_files(settings, namespaces)
    return sorted(on_disk - referenced)


def _table_data_files(settings: LakehouseSettings, namespaces: Sequence[str]) -> tuple[set[Path], set[Path]]:
    """(files under the tables' `data/` folders, files their snapshots reference)."""
    catalog = iceberg_catalog(settings)
    referenced: set[Path] = set()
    on_disk: set[Path] = set()
    for namespace in namespaces:
        if (namespace,) not in catalog.list_namespaces():
            continue
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            for snapshot in table.metadata.snapshots:
                for manifest in snapshot.manifests(table.io):
                    for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                        referenced.add(_path(entry.data_file.file_path))
            data_dir = _path(table.metadata.location) / "data"
            if data_dir.is_dir():
                on_disk |= {p for p in data_dir.rglob("*") if p.is_file() and not p.name.endswith(".crc")}
    return on_disk, referenced


def bronze_attempt_folders(settings: LakehouseSettings) -> list[Path]:
    bronze = settings.bronze_dir
    if not bronze.is_dir():
        return []
    return sorted(p for p in bronze.glob(f"*/*/{bronze_tables.ATTEMPT_PREFIX}*") if p.is_dir())


def _path(uri: str) -> Path:
    return Path(uri.removeprefix("file://").removeprefix("file:"))
