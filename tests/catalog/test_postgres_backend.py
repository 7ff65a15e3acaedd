"""The REST catalog on PostgreSQL instead of SQLite, with a throwaway local cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from catalog import services
from catalog.iceberg_catalog import iceberg_catalog
from catalog.settings import load_settings
from catalog.trino_connection import trino_connection
from tests.conftest import SHARED_CACHE

pytestmark = pytest.mark.integration

PG_PORT = 25432


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert candidates, "PostgreSQL server is missing: apt-get install postgresql"
    return candidates[-1].parent


def _as_postgres_user(argv: list[str]) -> list[str]:
    # initdb refuses to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture
def postgres() -> Iterator[str]:
    bin_dir = _postgres_bin()
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="lakehouse-pg-"))
    data = root / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(_as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "iceberg"]), check=True, capture_output=True)
    options = f"-p {PG_PORT} -k {root} -c listen_addresses=127.0.0.1"
    # -l: the server must not inherit our pipes, or waiting for their EOF never ends.
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"]
    subprocess.run(_as_postgres_user(start), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    try:
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "iceberg", "iceberg"], check=True)
        yield f"jdbc:postgresql://127.0.0.1:{PG_PORT}/iceberg"
    finally:
        subprocess.run(_as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_rest_catalog_on_postgres_serves_pyiceberg_and_trino(postgres: str, tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path / "home",
        cache_dir=SHARED_CACHE,
        catalog={"backend": "postgresql", "postgres_url": postgres, "port": 28481},
        trino={"port": 28480, "heap_gb": 2},
        postgres={"port": 28482},
    )
    try:
        services.up(settings)
        catalog = iceberg_catalog(settings)
        catalog.create_namespace_if_not_exists("silver")
        table = catalog.create_table("silver.pg_backed", schema=pa.schema([pa.field("id", pa.int64())]))
        table.append(pa.table({"id": [1, 2, 3]}))

        with trino_connection(settings) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT sum(id) FROM iceberg.silver.pg_backed")
            assert cursor.fetchall() == [[6]]
    finally:
        services.down(settings)

    psql = _postgres_bin() / "psql"
    listed = subprocess.run(
        [str(psql), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "iceberg", "-d", "iceberg", "-tAc",
         "SELECT table_namespace || '.' || table_name FROM iceberg_tables"],
        capture_output=True, text=True, check=True,
    )
    assert listed.stdout.split() == ["silver.pg_backed"]
    assert not (settings.data_dir / "catalog" / "catalog.db").exists(), "SQLite must not be used with backend=postgresql"
