"""A service that does not answer is one line naming it and the fix; anything else keeps its traceback.

The unit tier makes the real client errors (requests, PyIceberg, trino, a socket) against
a port that refuses connections; Spark's is a real `Py4JJavaError` around a Java cause
chain copied from a killed REST catalog. The integration tier kills a real REST catalog
under the real console script.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import typer
from py4j.protocol import Py4JJavaError

from catalog import faults
from catalog.errors import ConfigError, ServiceUnreachable
from catalog.naming import OPS
from catalog.settings import LakehouseSettings, load_settings
from lakehouse import cli
from tests.conftest import SHARED_CACHE, TEST_CATALOG_PORT

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound but not listening: connecting is refused at once, and no one else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _settings(tmp_path: Path, *, catalog_port: int = 8181, trino_port: int = 8080) -> LakehouseSettings:
    return load_settings(home=tmp_path, catalog={"port": catalog_port}, trino={"port": trino_port})


class _JavaThrowable:
    """What py4j hands over for a Java exception: class, message and cause, all read through the gateway."""

    _target_id = "o123"

    def __init__(self, class_name: str, message: str | None, cause: _JavaThrowable | None = None) -> None:
        self._class_name, self._message, self._cause = class_name, message, cause

    def getClass(self) -> _JavaThrowable:  # noqa: N802 - Java's names
        return self

    def getName(self) -> str:  # noqa: N802
        return self._class_name

    def getMessage(self) -> str | None:  # noqa: N802
        return self._message

    def getCause(self) -> _JavaThrowable | None:  # noqa: N802
        return self._cause


def _spark_error(*chain: tuple[str, str | None]) -> Py4JJavaError:
    cause = None
    for class_name, message in reversed(chain):
        cause = _JavaThrowable(class_name, message, cause)
    return Py4JJavaError("An error occurred while calling o66.sql.\n", cause)


# What `spark.sql("SELECT * FROM iceberg.probe.t")` raised once the REST catalog was killed.
KILLED_CATALOG = (
    ("org.apache.iceberg.exceptions.RESTException", "Error occurred while processing GET request"),
    (
        "org.apache.iceberg.shaded.org.apache.hc.client5.http.HttpHostConnectException",
        "Connect to http://127.0.0.1:8181 failed: Connection refused",
    ),
)


def test_spark_losing_the_catalog_names_the_catalog_from_the_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, catalog_port=9181)
    error = faults.translate(_spark_error(*KILLED_CATALOG), settings)
    assert isinstance(error, ServiceUnreachable)
    # The address is the settings' (9181), not the one in the Java text.
    assert str(error) == (
        "the REST catalog at http://127.0.0.1:9181 is not reachable (connection refused): start it with `lakehouse up`"
    )
    # A catalog killed while answering a request.
    stopped = _spark_error(
        ("org.apache.iceberg.exceptions.RESTException", "Error occurred while processing POST request"),
        ("org.apache.iceberg.shaded.org.apache.hc.core5.http.NoHttpResponseException", "127.0.0.1:9181 failed to respond"),
    )
    assert "the REST catalog at http://127.0.0.1:9181 is not reachable (it stopped responding)" in str(faults.translate(stopped, settings))


def test_a_spark_error_that_is_not_a_connection_keeps_its_traceback(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    server_error = _spark_error(
        ("org.apache.iceberg.exceptions.RESTException", "Unable to process: Internal Server Error"),
    )
    bug = _spark_error(("java.lang.NullPointerException", None))
    assert faults.translate(server_error, settings) is None
    assert faults.translate(bug, settings) is None


def test_pyiceberg_and_requests_name_the_service_by_its_port(tmp_path: Path, refused_port: int) -> None:
    from pyiceberg.catalog import load_catalog

    settings = _settings(tmp_path, catalog_port=refused_port)
    with pytest.raises(requests.ConnectionError) as raised:
        load_catalog("iceberg", type="rest", uri=f"http://127.0.0.1:{refused_port}")
    assert str(faults.translate(raised.value, settings)) == (
        f"the REST catalog at http://127.0.0.1:{refused_port} is not reachable (connection refused): start it with `lakehouse up`"
    )
    # The same error against a port no service of ours has: the address, and no guess.
    other = _settings(tmp_path)
    assert str(faults.translate(raised.value, other)) == (
        f"http://127.0.0.1:{refused_port} is not reachable (connection refused): check that the service there is running"
    )


def test_trino_down_is_named_trino(tmp_path: Path, refused_port: int) -> None:
    import trino.dbapi
    from trino.exceptions import TrinoConnectionError

    settings = _settings(tmp_path, trino_port=refused_port)
    cursor = trino.dbapi.connect(host="127.0.0.1", port=refused_port, user="engineer", max_attempts=1).cursor()
    with pytest.raises(TrinoConnectionError) as raised:
        cursor.execute("SELECT 1")
    assert str(faults.translate(raised.value, settings)) == (
        f"Trino at http://127.0.0.1:{refused_port} is not reachable (connection refused): start it with `lakehouse up`"
    )
    # trino's own error for a reply it could not read is not a connection failure.
    assert faults.translate(TrinoConnectionError("received empty response from server (status 200)"), settings) is None


def test_a_bare_refused_socket_still_says_what_to_do(tmp_path: Path, refused_port: int) -> None:
    with pytest.raises(ConnectionRefusedError) as raised:
        socket.create_connection(("127.0.0.1", refused_port), timeout=5)
    assert str(faults.translate(raised.value, _settings(tmp_path))) == (
        "a service is not reachable (connection refused): check `lakehouse status`, then start it with `lakehouse up`"
    )


def test_unknown_errors_are_not_translated_even_when_a_connection_error_is_their_context(tmp_path: Path, refused_port: int) -> None:
    settings = _settings(tmp_path, catalog_port=refused_port)
    assert faults.translate(ValueError("bad value"), settings) is None
    assert faults.translate(TimeoutError(), settings) is None
    try:
        try:
            requests.get(f"http://127.0.0.1:{refused_port}/v1/config", timeout=5)
        except requests.ConnectionError:
            {}["a bug in the error path"]  # noqa: B018
    except KeyError as bug:
        assert faults.translate(bug, settings) is None
    known = ConfigError("already one line")
    assert faults.translate(known, settings) is known


def test_the_cli_handler_prints_one_line_and_keeps_tracebacks_for_bugs_and_debug(
    tmp_path: Path, refused_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_CATALOG__PORT", str(refused_port))

    @cli.handles_errors
    def reads_the_catalog() -> None:
        requests.get(f"http://127.0.0.1:{refused_port}/v1/config", timeout=5)

    @cli.handles_errors
    def has_a_bug() -> None:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(typer.Exit) as exited:
        reads_the_catalog()
    assert exited.value.exit_code == 1
    assert capsys.readouterr().err.strip() == (
        f"error: the REST catalog at http://127.0.0.1:{refused_port} is not reachable (connection refused): "
        "start it with `lakehouse up`"
    )
    with pytest.raises(ZeroDivisionError):
        has_a_bug()
    monkeypatch.setitem(cli._state, "debug", True)
    with pytest.raises(requests.ConnectionError):
        reads_the_catalog()


# --- integration: a REST catalog killed under the console script -----------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    return subprocess.Popen(
        [LAKEHOUSE, *args], env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _one_error_line(output: str, settings: LakehouseSettings) -> None:
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert f"the REST catalog at {settings.catalog.uri} is not reachable" in errors[0], output
    assert "lakehouse up" in errors[0], output
    assert "Traceback" not in output, output


@pytest.mark.integration
def test_a_catalog_killed_during_a_run_is_one_line(tmp_path: Path) -> None:
    from catalog import services
    from catalog.iceberg_catalog import iceberg_catalog

    settings = load_settings(
        home=tmp_path / "home", cache_dir=SHARED_CACHE, catalog={"port": TEST_CATALOG_PORT + 12},
        trino={"port": TEST_CATALOG_PORT + 13}, spark={"driver_memory": "2g", "shuffle_partitions": 2},
    )
    env = {
        "LAKEHOUSE_HOME": str(settings.home), "LAKEHOUSE_CACHE_DIR": str(SHARED_CACHE),
        "LAKEHOUSE_CATALOG__PORT": str(settings.catalog.port), "LAKEHOUSE_TRINO__PORT": str(settings.trino.port),
        "LAKEHOUSE_SPARK__DRIVER_MEMORY": "2g", "LAKEHOUSE_SPARK__SHUFFLE_PARTITIONS": "2",
        "LAKEHOUSE_PIPELINE__PARALLEL_JOBS": "1",
        "LAKEHOUSE_PIPELINE__SOURCES": "files",  # the catalog is the fault here, not a source server
    }
    generate = subprocess.run(
        [LAKEHOUSE, "generate", "--start", "2026-05-01", "--days", "1", "--scale", "0.05", "--out", str(settings.landing_dir)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}, **env},
        capture_output=True, text=True, timeout=300,
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    [catalog_service] = services.up(settings, only=["rest-catalog"])
    try:
        run = _cli("run", "--date", "2026-05-01", env=env)
        catalog = iceberg_catalog(settings)
        deadline = time.monotonic() + 240
        # The run has started recording (its ops namespace exists): now the catalog dies under it.
        while (OPS,) not in catalog.list_namespaces():
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "the run never reached the catalog"
            time.sleep(0.2)
        os.kill(catalog_service.pid, signal.SIGKILL)
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 1, output
        _one_error_line(output, settings)

        # The PyIceberg commands, on the same dead catalog.
        for args in (["lateness"], ["validate", "silver.orders"], ["report", "--out", str(tmp_path / "r.html")]):
            command = _cli(*args, env=env)
            output, _ = command.communicate(timeout=120)
            assert command.returncode == 1, (args, output)
            _one_error_line(output, settings)
    finally:
        services.down(settings)
