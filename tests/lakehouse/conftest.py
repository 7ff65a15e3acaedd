"""The wheel, installed into a fresh venv, and the demo run once from it: shared by
`test_demo.py` (the demo's output) and `test_packaging.py` (what a non-editable install
needs), so the suite pays for one demo.

What a non-editable install lacks is what this proves: the dbt project, the SQL pack and
the contracts must come from the package (no checkout next to it), and dbt must write
nothing into site-packages.

Installing every dependency again would download about a gigabyte (pyspark, pyarrow,
polars, dbt) for minutes. So the wheel goes in with `--no-deps`, and a `.pth` line makes
this dev venv's site-packages visible behind the fresh venv's own; pip then installs
only the pins the dev venv lacks. The dev venv's editable install cannot shadow the
wheel: the fresh venv's site-packages comes first on sys.path, and the import hook the
editable install registers lives in a `.pth` file of the dev site-packages, which Python
does not process for a folder that a `.pth` line added. The test checks both.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from catalog import jvm_aot, services
from catalog.settings import LakehouseSettings, load_settings
from tests.conftest import (
    REPO_ROOT, TEST_CATALOG_PORT, TEST_CRM_API_PORT, TEST_KAFKA_CONTROLLER_PORT, TEST_KAFKA_PORT,
    TEST_POSTGRES_PORT, TEST_TRINO_PORT, cache_without_aot,
)

CATALOG_PORT = TEST_CATALOG_PORT + 400
TRINO_PORT = TEST_TRINO_PORT + 400
POSTGRES_PORT = TEST_POSTGRES_PORT + 400
KAFKA_PORT, KAFKA_CONTROLLER_PORT = TEST_KAFKA_PORT + 400, TEST_KAFKA_CONTROLLER_PORT + 400
CRM_API_PORT = TEST_CRM_API_PORT + 400
# What a build or a run leaves in a checkout; a wheel is built from a copy without them.
# (dbt/target and dbt/logs stay: the wheel's package-data excludes must leave them out.)
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".lakehouse", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path
    settings: LakehouseSettings
    env: dict[str, str]
    cwd: Path

    def run(self, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout)

    def lakehouse(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "lakehouse"), *args, timeout=timeout)


def _pip(*args: str) -> None:
    # The dev venv's pip, working on the fresh venv through --python (no pip inside it).
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True, env=_clean_env())


def _clean_env() -> dict[str, str]:
    """This process's environment without what would import another tree (PYTHONPATH) or home."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("LAKEHOUSE_")}


def _requirements(wheel: Path) -> list[str]:
    """The wheel's own dependency pins (not those of its extras)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        headers = email.parser.Parser().parsestr(archive.read(metadata).decode())
    return [pin for pin in headers.get_all("Requires-Dist") or [] if "extra ==" not in pin]


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("packaging")
    # A copy: building in place would leave build/ and an .egg-info in the checkout. Like
    # `pip install .`, the build fetches setuptools into an isolated environment.
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, symlinks=True, ignore=_NOT_SOURCE)
    _pip("wheel", "--no-deps", "--wheel-dir", str(root / "dist"), str(source))
    [wheel] = (root / "dist").glob("lakehouse-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    _pip("--python", python, "install", "--no-deps", str(wheel))
    site_packages = Path(
        subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       check=True, capture_output=True, text=True).stdout.strip()
    )
    (site_packages / "dev-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _pip("--python", python, "install", *_requirements(wheel))

    home, cwd = root / "home", root / "elsewhere"
    cwd.mkdir()
    # No AOT cache: the demo's Trino records one, as a first demo on a fresh machine does.
    cache = cache_without_aot(root)
    env = {
        **_clean_env(),
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",  # as in an activated venv
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_CACHE_DIR": str(cache),
        "LAKEHOUSE_CATALOG__PORT": str(CATALOG_PORT),
        "LAKEHOUSE_TRINO__PORT": str(TRINO_PORT),
        "LAKEHOUSE_POSTGRES__PORT": str(POSTGRES_PORT),
        "LAKEHOUSE_KAFKA__PORT": str(KAFKA_PORT),
        "LAKEHOUSE_KAFKA__CONTROLLER_PORT": str(KAFKA_CONTROLLER_PORT),
        "LAKEHOUSE_CRM_API__PORT": str(CRM_API_PORT),
        "LAKEHOUSE_TRINO__HEAP_GB": "2",
        "LAKEHOUSE_SPARK__DRIVER_MEMORY": "2g",
        "COLUMNS": "200",
    }
    settings = load_settings(
        home=home, cache_dir=cache, catalog={"port": CATALOG_PORT}, trino={"port": TRINO_PORT},
        postgres={"port": POSTGRES_PORT}, kafka={"port": KAFKA_PORT, "controller_port": KAFKA_CONTROLLER_PORT},
        crm_api={"port": CRM_API_PORT},
    )
    try:
        yield Installed(venv, site_packages, settings, env, cwd)
    finally:
        services.down(settings)


@dataclass(frozen=True)
class WheelDemo:
    """`lakehouse demo` from the wheel, and what the services looked like when it ended."""

    demo: subprocess.CompletedProcess[str]
    running: frozenset[str]  # the services running as the demo returned
    trino_niceness: int
    aot_cache: Path


@pytest.fixture(scope="session")
def wheel_demo(installed: Installed) -> WheelDemo:
    settings = installed.settings
    aot_cache = jvm_aot.cache_file(settings.cache_dir, settings.java.jdk25_home)
    assert aot_cache is not None and not aot_cache.exists()
    try:
        demo = installed.lakehouse("demo", "--days", "3", "--daily-days", "1", "--scale", "0.05", "--seed", "11", timeout=1500)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        statuses = {status.name: status for status in services.status(settings)}
        trino = statuses["trino"]
        niceness = psutil.Process(trino.pid).nice() if trino.pid else 0
    finally:
        services.down(settings)  # the demo's Trino writes its AOT cache as it stops
    running = frozenset(name for name, status in statuses.items() if status.state == "running")
    return WheelDemo(demo, running, niceness, aot_cache)
