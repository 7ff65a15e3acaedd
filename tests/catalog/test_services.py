"""Service lifecycle on real processes: idempotent up, clean down, one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pytest

from catalog import jvm_aot, services
from catalog.iceberg_catalog import iceberg_catalog
from catalog.trino_connection import trino_connection
from catalog.errors import ConfigError, ServiceError
from catalog.settings import load_settings
from tests.conftest import SHARED_CACHE, cache_without_aot, processes_under

pytestmark = pytest.mark.integration

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    return subprocess.run([LAKEHOUSE, *args], env={**clean, **env}, capture_output=True, text=True, timeout=300)


def test_up_is_idempotent_and_down_leaves_no_process(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path / "home", cache_dir=SHARED_CACHE, catalog={"port": 28181}, trino={"port": 28080, "heap_gb": 2},
        crm_api={"port": 28099}, postgres={"port": 28433}, kafka={"port": 28192, "controller_port": 28193},
    )
    try:
        first = services.up(settings)
        assert [(s.name, s.state) for s in services.status(settings)] == [
            ("rest-catalog", "running"), ("trino", "running"), ("crm-api", "running"), ("postgres", "running"), ("kafka", "running")
        ]

        started = time.monotonic()
        second = services.up(settings)
        assert time.monotonic() - started < 5, "a second up must not restart anything"
        assert [s.pid for s in second] == [s.pid for s in first]
    finally:
        stopped = services.down(settings)

    assert stopped == ["kafka", "postgres", "crm-api", "trino", "rest-catalog"]
    assert not any(psutil.pid_exists(s.pid) and psutil.Process(s.pid).status() != psutil.STATUS_ZOMBIE for s in first)
    assert processes_under(settings.home) == []
    assert [s.state for s in services.status(settings)] == ["stopped"] * 5
    assert services.down(settings) == []  # nothing left to stop


def test_up_can_start_the_catalog_alone(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, cache_dir=SHARED_CACHE, catalog={"port": 28581}, trino={"port": 28580})
    with pytest.raises(ConfigError, match="unknown service spark: choose from object-store, rest-catalog, trino, trino-worker, crm-api, postgres, kafka, spark-master, spark-worker-1"):
        services.up(settings, only=["spark"])
    try:
        started = services.up(settings, only=["rest-catalog"])
        assert [s.name for s in started] == ["rest-catalog"]
        assert [(s.name, s.state) for s in services.status(settings)] == [
            ("rest-catalog", "running"), ("trino", "stopped"), ("crm-api", "stopped"), ("postgres", "stopped"), ("kafka", "stopped")
        ]
    finally:
        stopped = services.down(settings)
    assert stopped == ["rest-catalog"]


def test_start_waits_for_each_service_only_when_asked(tmp_path: Path) -> None:
    """The demo's order: the catalog is waited for at once, Trino boots meanwhile, at the
    lowest CPU priority, and is waited for later."""
    settings = load_settings(
        home=tmp_path, cache_dir=SHARED_CACHE, catalog={"port": 28681}, trino={"port": 28680, "heap_gb": 2},
        crm_api={"port": 28699}, postgres={"port": 28633}, kafka={"port": 28692, "controller_port": 28693},
    )
    try:
        startup = services.start(settings, low_priority=("trino",))
        [catalog] = startup.wait("rest-catalog")
        assert catalog.name == "rest-catalog"
        pids = {s.name: s.pid for s in services.status(settings)}
        assert psutil.Process(pids["trino"]).nice() == services.LOW_PRIORITY_NICENESS
        assert psutil.Process(pids["rest-catalog"]).nice() == 0
        # Under autogroup scheduling the niceness must reach Trino's session too, or it
        # would still compete with the caller's session as an equal.
        autogroup = Path(f"/proc/{pids['trino']}/autogroup")
        if autogroup.exists():
            assert autogroup.read_text().split()[-1] == str(services.LOW_PRIORITY_NICENESS)
        startup.check()  # booting is not failing
        # Trino takes seconds to boot: launched, alive, not yet answering.
        states = {s.name: s.state for s in services.status(settings)}
        assert (states["rest-catalog"], states["trino"]) == ("running", "unhealthy")
        # Meanwhile the demo writes its tables, to query them the moment Trino is ready.
        catalog_client = iceberg_catalog(settings)
        catalog_client.create_namespace("silver")
        table = catalog_client.create_table("silver.ready", schema=pa.schema([pa.field("id", pa.int64())]))
        table.append(pa.table({"id": [1, 2, 3]}))

        ready = startup.wait()
        # Ready means a scan runs: `starting: false` and an active node come seconds before
        # Trino can place a catalog's splits (NO_NODES_AVAILABLE in between).
        with trino_connection(settings) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT sum(id) FROM iceberg.silver.ready")
            assert cursor.fetchall() == [[6]]
        assert [(s.name, s.state) for s in ready] == [
            ("rest-catalog", "running"), ("trino", "running"), ("crm-api", "running"), ("postgres", "running"), ("kafka", "running")
        ]
        assert ready[0] is catalog  # waited for once, not again
        assert [s.state for s in services.status(settings)] == ["running"] * 5
    finally:
        stopped = services.down(settings)
    assert stopped == ["kafka", "postgres", "crm-api", "trino", "rest-catalog"]
    assert processes_under(settings.home) == []


def test_check_names_a_service_that_died_while_booting(tmp_path: Path) -> None:
    """The demo checks between pipeline days that Trino, booting meanwhile, is still alive."""
    settings = load_settings(home=tmp_path, cache_dir=SHARED_CACHE, catalog={"port": 28681}, trino={"port": 28680})
    try:
        startup = services.start(settings, only=["rest-catalog"])
        [(_, process, _)] = startup.launched
        process.kill()
        process.wait(10)
        with pytest.raises(ServiceError, match="rest-catalog exited during start-up"):
            startup.check()
    finally:
        services.down(settings)


def test_busy_port_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = _cli(
            "up",
            env={"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE_CACHE_DIR": str(SHARED_CACHE), "LAKEHOUSE_CATALOG__PORT": str(port)},
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"port {port} for rest-catalog is already in use" in lines[0]
    assert "LAKEHOUSE_CATALOG__PORT" in lines[0]
    assert processes_under(tmp_path) == []


def test_missing_jdk_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    result = _cli(
        "up",
        env={
            "LAKEHOUSE_HOME": str(tmp_path),
            "LAKEHOUSE_CACHE_DIR": str(SHARED_CACHE),
            "LAKEHOUSE_CATALOG__PORT": "28281",
            "LAKEHOUSE_TRINO__PORT": "28282",
            "LAKEHOUSE_JAVA__JDK25_HOME": str(tmp_path / "no-such-jdk"),
        },
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "trino needs Java 24+ but there is no JDK at" in lines[0]
    assert "LAKEHOUSE_JAVA__JDK25_HOME" in lines[0]
    # Preflight runs before anything starts: the REST catalog was not left behind.
    assert processes_under(tmp_path) == []


def test_wrong_java_version_is_refused(tmp_path: Path) -> None:
    result = _cli(
        "up",
        env={
            "LAKEHOUSE_HOME": str(tmp_path),
            "LAKEHOUSE_CATALOG__PORT": "28381",
            "LAKEHOUSE_TRINO__PORT": "28382",
            "LAKEHOUSE_JAVA__JDK25_HOME": str(load_settings().java.jdk17_home),
        },
    )
    assert result.returncode == 1
    assert "trino needs Java 24+ but" in result.stderr and "is Java 17" in result.stderr


def test_status_reports_stopped_services(tmp_path: Path) -> None:
    result = _cli("status", env={"LAKEHOUSE_HOME": str(tmp_path)})
    assert result.returncode == 3
    assert "rest-catalog" in result.stdout and "stopped" in result.stdout
    assert "postgres" in result.stdout and "kafka" in result.stdout


def test_postgres_runs_with_a_generated_password_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    """The CLI's up/status/down show postgres; its password is generated once (0600), never printed."""
    import psycopg

    from catalog import postgres

    env = {
        "LAKEHOUSE_HOME": str(tmp_path),
        "LAKEHOUSE_POSTGRES__PORT": "28983",
        "LAKEHOUSE_CATALOG__PORT": "28981",
        "LAKEHOUSE_TRINO__PORT": "28980",
    }
    settings = load_settings(home=tmp_path, postgres={"port": 28983})
    try:
        started = subprocess.run(
            [sys.executable, "-c", "from catalog import services; from catalog.settings import load_settings; "
             "services.up(load_settings(), print, only=['postgres'])"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}, **env},
            capture_output=True, text=True, timeout=120,
        )
        assert started.returncode == 0, started.stderr
        secret = postgres.password_file(settings)
        assert secret.stat().st_mode & 0o777 == 0o600
        assert secret.read_text() not in started.stdout + started.stderr
        status = _cli("status", env=env)
        row = next(line for line in status.stdout.splitlines() if "postgres" in line)
        assert "running" in row and "28983" in row, status.stdout

        with psycopg.connect(**postgres.connection_kwargs(settings, "postgres")) as connection:
            assert connection.execute("SELECT current_user").fetchone() == (settings.postgres.user,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(**{**postgres.connection_kwargs(settings, "postgres"), "password": "not-the-password"})
    finally:
        down = _cli("down", env=env)
    assert "postgres" in down.stdout + down.stderr
    assert [s.state for s in services.status(settings) if s.name == "postgres"] == ["stopped"]
    assert processes_under(settings.home) == []


def test_trino_records_an_aot_cache_on_its_first_stop_and_starts_from_it(tmp_path: Path) -> None:
    """Java 25's AOT cache: recorded only by a start that asks (the demo's), kept after a
    clean exit, then mapped by every later Trino. A cache dir of its own (the artifacts linked in)
    so the shared cache's AOT file is neither used nor replaced."""
    cache = cache_without_aot(tmp_path)
    settings = load_settings(
        home=tmp_path / "home", cache_dir=cache, catalog={"port": 28881}, trino={"port": 28880, "heap_gb": 2}, crm_api={"port": 28899},
        postgres={"port": 28882}, kafka={"port": 28892, "controller_port": 28893},
    )
    expected = jvm_aot.cache_file(cache, settings.java.jdk25_home)
    assert expected is not None and not expected.exists()
    try:
        services.up(settings)  # a plain start neither uses nor records a cache
        assert jvm_aot.recording(services._recorded_command(services.services(settings)[1])) is None
    finally:
        services.down(settings)
    assert not expected.parent.exists() or list(expected.parent.iterdir()) == []

    try:
        services.start(settings, record_aot_cache=True).wait()
        recording = jvm_aot.recording(services._recorded_command(services.services(settings)[1]))
        assert recording is not None and recording.parent == expected.parent
    finally:
        services.down(settings)
    assert expected.is_file() and expected.stat().st_size > 10_000_000
    assert list(expected.parent.iterdir()) == [expected], "no recording left behind"

    try:
        [_, trino, *_] = services.up(settings)
        command = services._recorded_command(services.services(settings)[1])
        assert f"-XX:AOTCache={expected}" in command and jvm_aot.recording(command) is None
        # The JVM maps the cache file into memory when it uses it.
        assert str(expected) in Path(f"/proc/{trino.pid}/maps").read_text()
    finally:
        services.down(settings)
