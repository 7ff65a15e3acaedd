"""Service lifecycle on real processes: idempotent up, clean down, one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from catalog import services
from catalog.settings import load_settings
from tests.conftest import SHARED_CACHE

pytestmark = pytest.mark.integration

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    return subprocess.run([LAKEHOUSE, *args], env={**clean, **env}, capture_output=True, text=True, timeout=300)


def _processes_under(home: Path) -> list[psutil.Process]:
    """Every live process whose command line mentions this home: what `down` must clear."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(home) in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            pass
    return found


def test_up_is_idempotent_and_down_leaves_no_process(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path / "home", cache_dir=SHARED_CACHE, catalog={"port": 28181}, trino={"port": 28080, "heap_gb": 2}
    )
    try:
        first = services.up(settings)
        assert [s.state for s in services.status(settings)] == ["running", "running"]

        started = time.monotonic()
        second = services.up(settings)
        assert time.monotonic() - started < 5, "a second up must not restart anything"
        assert [s.pid for s in second] == [s.pid for s in first]
    finally:
        stopped = services.down(settings)

    assert stopped == ["trino", "rest-catalog"]
    assert not any(psutil.pid_exists(s.pid) and psutil.Process(s.pid).status() != psutil.STATUS_ZOMBIE for s in first)
    assert _processes_under(settings.home) == []
    assert [s.state for s in services.status(settings)] == ["stopped", "stopped"]
    assert services.down(settings) == []  # nothing left to stop


def test_up_can_start_the_catalog_alone(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, cache_dir=SHARED_CACHE, catalog={"port": 28581}, trino={"port": 28580})
    with pytest.raises(ValueError, match="unknown service spark: choose from rest-catalog, trino"):
        services.up(settings, only=["spark"])
    try:
        started = services.up(settings, only=["rest-catalog"])
        assert [s.name for s in started] == ["rest-catalog"]
        assert [(s.name, s.state) for s in services.status(settings)] == [("rest-catalog", "running"), ("trino", "stopped")]
    finally:
        stopped = services.down(settings)
    assert stopped == ["rest-catalog"]


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
    assert _processes_under(tmp_path) == []


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
    assert _processes_under(tmp_path) == []


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
