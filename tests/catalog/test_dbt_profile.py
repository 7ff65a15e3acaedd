"""dbt-trino connects to the real Trino with the profile rendered from the settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import engine_config

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_dbt_debug_passes_with_the_rendered_profile(stack, tmp_path: Path) -> None:
    engine_config.write_local_config(stack)
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run(
        [dbt, "debug", "--project-dir", str(REPO / "dbt"), "--profiles-dir", str(stack.config_dir / "dbt")],
        env={**os.environ, "DBT_LOG_PATH": str(tmp_path / "logs"), "DBT_TARGET_PATH": str(tmp_path / "target"),
             "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Connection test: [OK connection ok]" in result.stdout
