"""Fixtures shared by every test tier.

One SparkSession for the whole run (a JVM per test would dominate the suite).
It is built by the product's own factory from test settings, so unit tests and
integration tests exercise the same conf; unit tests simply never touch the
Iceberg catalog, which Spark connects to lazily.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from catalog.settings import ENV_PREFIX, LakehouseSettings, load_settings

if TYPE_CHECKING:
    from tests.scenario import Scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
# Downloads are shared with the developer's own runs: fetched once per machine.
SHARED_CACHE = Path(os.environ.get("LAKEHOUSE_TEST_CACHE_DIR", REPO_ROOT / ".lakehouse" / "cache"))
# Ports apart from the defaults, so a running `lakehouse demo` does not collide with the tests;
# LAKEHOUSE_TEST_PORT_OFFSET moves them, for two test runs side by side.
_PORT_OFFSET = int(os.environ.get("LAKEHOUSE_TEST_PORT_OFFSET", "0"))
TEST_CATALOG_PORT = 18181 + _PORT_OFFSET
TEST_TRINO_PORT = 18080 + _PORT_OFFSET
TEST_POSTGRES_PORT = 18433 + _PORT_OFFSET
TEST_CRM_API_PORT = 18099 + _PORT_OFFSET
TEST_KAFKA_PORT = 19092 + _PORT_OFFSET
TEST_KAFKA_CONTROLLER_PORT = 19093 + _PORT_OFFSET
TEST_OBJECT_STORE_PORT = 19000 + _PORT_OFFSET
# The first of ten ports for the cluster deployment's own home (tests/catalog/test_cluster_deployment.py).
TEST_CLUSTER_PORT_BASE = 17000 + _PORT_OFFSET
# The setting that reads every source from landing files (catalog/settings.py, pipeline.sources).
# Most tests feed the pipeline landing files; a test of the real sources asks for them in its
# settings. Set at import, not only per test: session and module fixtures build settings
# before any function-scoped fixture runs.
FILE_SOURCES_ENV = "LAKEHOUSE_PIPELINE__SOURCES"
os.environ[FILE_SOURCES_ENV] = "files"
# Table maintenance after every run (maintenance.after_run) adds a pass over every table to
# each of the suite's hundreds of runs; tests/ingestion/maintenance tests it where it is the subject.
MAINTAIN_AFTER_RUN_ENV = "LAKEHOUSE_MAINTENANCE__AFTER_RUN"
os.environ[MAINTAIN_AFTER_RUN_ENV] = "false"


def cache_without(root: Path, *names: str) -> Path:
    """An artifact cache under `root` linking the shared artifacts but the folders `names`."""
    cache = root / "cache"
    cache.mkdir()
    for entry in SHARED_CACHE.iterdir():
        if entry.name not in names:
            (cache / entry.name).symlink_to(entry)
    return cache


def cache_without_aot(root: Path) -> Path:
    """The shared artifacts but not Trino's AOT cache, for tests that must see a Trino record
    one, as on a fresh machine."""
    from catalog import jvm_aot

    return cache_without(root, jvm_aot.CACHE_FOLDER)


def processes_under(home: Path) -> list[psutil.Process]:
    """Every live process whose command line mentions this home: what `down` must clear."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(home) in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            pass
    return found


@pytest.fixture(autouse=True)
def _isolate_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own LAKEHOUSE_* variables must not leak into tests."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    monkeypatch.setenv(FILE_SOURCES_ENV, "files")
    monkeypatch.setenv(MAINTAIN_AFTER_RUN_ENV, "false")


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory) -> LakehouseSettings:
    home = tmp_path_factory.mktemp("lakehouse-home")
    return load_settings(
        home=home,
        cache_dir=SHARED_CACHE,
        catalog={"port": TEST_CATALOG_PORT},
        trino={"port": TEST_TRINO_PORT, "heap_gb": 3},
        postgres={"port": TEST_POSTGRES_PORT},
        crm_api={"port": TEST_CRM_API_PORT},
        kafka={"port": TEST_KAFKA_PORT, "controller_port": TEST_KAFKA_CONTROLLER_PORT},
        spark={"driver_memory": "4g", "shuffle_partitions": 2},
    )


@pytest.fixture(scope="session")
def spark(test_settings: LakehouseSettings) -> Iterator:
    from catalog.spark_session import spark_session

    session = spark_session(test_settings, app_name="lakehouse-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def stack(test_settings: LakehouseSettings) -> Iterator[LakehouseSettings]:
    """The real REST catalog and Trino, started for this test run and stopped after it."""
    from catalog import services

    # The source servers are started by the tests that read them, each on its own ports.
    services.up(test_settings, only=["rest-catalog", "trino"])
    yield test_settings
    services.down(test_settings)


@pytest.fixture(scope="session")
def silver_scenario(stack: LakehouseSettings, spark) -> "Scenario":
    """Ten generated days through Bronze and Silver, shared by the pipeline and Gold tests."""
    from tests.scenario import run_scenario

    return run_scenario(spark, stack)


@contextmanager
def own_rest_catalog(spark, home: Path, name: str, port: int, **overrides: object) -> Iterator[LakehouseSettings]:
    """A second REST catalog (no Trino: the pipeline only talks to the catalog), known to the
    shared session under `name`, for tests whose Silver rows must not mix with the scenario's.
    `overrides` are further settings (e.g. sources_file)."""
    from catalog import engine_config, services

    settings = load_settings(home=home, cache_dir=SHARED_CACHE, catalog={"port": port, "name": name}, **overrides)
    services.up(settings, only=["rest-catalog"])
    try:
        conf = engine_config.spark_conf(settings, engine_config.local_endpoints(settings))
        for key, value in conf.items():
            if key.startswith(f"spark.sql.catalog.{name}"):
                spark.conf.set(key, value)
        yield settings
    finally:
        services.down(settings)
