"""The console script itself: exit codes, one-line errors, files it writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from lakehouse.cli import app

runner = CliRunner()


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_is_deterministic_through_the_cli(tmp_path: Path) -> None:
    args = ["generate", "--start", "2026-03-01", "--days", "2", "--scale", "0.05", "--seed", "7"]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    second = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert "warehouse_orders" in first.output
    digest_a, digest_b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert digest_a and digest_a == digest_b
    assert any(name.startswith("warehouse_orders/2026-03-02/") for name in digest_a)


def test_generate_rejects_zero_days(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--days", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert not any(tmp_path.iterdir())


def test_config_local_writes_every_engine_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    result = runner.invoke(app, ["config", "local"])
    assert result.exit_code == 0, result.output
    for name in ("spark-defaults.conf", ".pyiceberg.yaml", "dbt/profiles.yml", "trino/etc/catalog/iceberg.properties"):
        assert (tmp_path / "config" / name).is_file(), name


def test_bad_setting_is_one_red_line_without_traceback(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_CATALOG__BACKEND", "oracle")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "invalid setting 'catalog.backend'" in result.output and "LAKEHOUSE_CATALOG__BACKEND" in result.output


def test_maintain_without_a_catalog_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_CATALOG__PORT", "1")  # nothing listens there
    result = runner.invoke(app, ["maintain", "--dry-run"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == "error: rest-catalog not running: start the stack with `lakehouse up`"


def test_a_second_maintenance_is_refused_naming_the_first(tmp_path: Path, monkeypatch) -> None:
    from catalog.run_lock import maintenance_lock
    from catalog.settings import load_settings

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    with maintenance_lock(load_settings(), "lakehouse maintain silver"):
        result = runner.invoke(app, ["maintain"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: another table maintenance holds") and "lakehouse maintain silver" in line
