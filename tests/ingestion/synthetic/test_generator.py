"""generate_sources as the CLI calls it: determinism, seeds, run length, arguments, re-runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.synthetic import GenerationRequestError, generate_sources

from landing_zone import RUN_DAYS, RUN_START, GeneratedRun

SMALL_SCALE = 0.1
SOURCE_NAMES = {"crm_contacts", "crm_deals", "warehouse_customers", "warehouse_orders", "web_sessions", "events", "fx_rates"}
REPO_ROOT = Path(__file__).resolve().parents[3]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def generate_in_subprocess(out_dir: Path, hash_seed: str, seed: int = 42) -> None:
    # A fresh interpreter per run, each with another str-hash salt: output that depended
    # on set or hash order would differ between the two.
    code = (
        "import datetime, pathlib, sys\n"
        "from ingestion.synthetic import generate_sources\n"
        f"generate_sources(pathlib.Path(sys.argv[1]), datetime.date(2026, 1, 1), 8, scale={SMALL_SCALE}, seed={seed})\n"
    )
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-c", code, str(out_dir)], check=True, cwd=REPO_ROOT, env=environment)


def test_same_arguments_give_byte_identical_files_across_processes(tmp_path: Path) -> None:
    generate_in_subprocess(tmp_path / "first", hash_seed="1")
    generate_in_subprocess(tmp_path / "second", hash_seed="2")

    first, second = file_hashes(tmp_path / "first"), file_hashes(tmp_path / "second")
    assert len(first) > 8 * len(SOURCE_NAMES)
    assert first == second


def test_a_different_seed_gives_different_data_in_every_source(tmp_path: Path) -> None:
    generate_sources(tmp_path / "a", RUN_START, 2, scale=SMALL_SCALE, seed=1)
    generate_sources(tmp_path / "b", RUN_START, 2, scale=SMALL_SCALE, seed=2)

    for source in sorted(SOURCE_NAMES):
        for day in ("2026-01-01", "2026-01-02"):
            files_a = file_hashes(tmp_path / "a" / source / day)
            files_b = file_hashes(tmp_path / "b" / source / day)
            assert files_a != files_b, f"{source} {day} is the same under seeds 1 and 2"


def test_a_longer_run_repeats_the_shorter_runs_days_exactly(tmp_path: Path) -> None:
    generate_sources(tmp_path / "short", RUN_START, 3, scale=SMALL_SCALE, seed=7)
    generate_sources(tmp_path / "long", RUN_START, 6, scale=SMALL_SCALE, seed=7)

    short, long = file_hashes(tmp_path / "short"), file_hashes(tmp_path / "long")
    assert short == {path: digest for path, digest in long.items() if path in short}
    assert any("2026-01-06" in path for path in long)


def test_rerun_with_a_smaller_scale_leaves_no_stale_pages(tmp_path: Path) -> None:
    generate_sources(tmp_path, RUN_START, 1, scale=1.0)
    assert (tmp_path / "crm_contacts" / "2026-01-01" / "page-0020.jsonl").exists()

    generate_sources(tmp_path, RUN_START, 1, scale=SMALL_SCALE)

    pages = sorted(path.name for path in (tmp_path / "crm_contacts" / "2026-01-01").iterdir())
    assert pages == ["page-0001.jsonl", "page-0002.jsonl", "page-0003.jsonl"]


@pytest.mark.parametrize(("days", "scale"), [(0, 1.0), (-1, 1.0), (3, 0.0), (3, -2.0)])
def test_out_of_range_arguments_fail_before_writing_anything(tmp_path: Path, days: int, scale: float) -> None:
    with pytest.raises(GenerationRequestError):
        generate_sources(tmp_path, RUN_START, days, scale=scale)
    assert list(tmp_path.iterdir()) == []


def test_every_source_and_day_is_written_with_a_manifest(scale_one_run: GeneratedRun) -> None:
    days = [day.isoformat() for day in scale_one_run.days]
    for source in SOURCE_NAMES:
        assert sorted(path.name for path in (scale_one_run.out_dir / source).iterdir()) == days
    manifests = sorted(path.name for path in (scale_one_run.out_dir / "_manifest").iterdir())
    assert manifests == [f"{day}.json" for day in days]
    assert len(scale_one_run.report.entries) == RUN_DAYS * len(SOURCE_NAMES)


def test_scale_one_volumes_match_the_documented_rows_per_day(scale_one_run: GeneratedRun) -> None:
    day_1 = RUN_START + dt.timedelta(days=1)
    landing = scale_one_run.landing
    orders = landing.parsed_lines("warehouse_orders", day_1)
    placed = {
        line.record["order_id"]
        for line in orders
        if line.record["status"] == "placed" and line.record["ordered_at"].startswith("2026-01-02")
    }
    assert len(placed) == 1_000
    sessions = {line.record["session_id"] for line in landing.parsed_lines("web_sessions", day_1)}
    assert len(sessions - {""}) >= 1_000
    snapshot = {line.record["customer_id"] for line in landing.parsed_lines("warehouse_customers", RUN_START)}
    assert len(snapshot - {""}) >= 2_000
    events = {line.record["event_id"] for line in landing.parsed_lines("events", day_1)}
    assert 4_000 <= len(events) <= 6_500


def test_the_manifest_is_the_report_as_json(scale_one_run: GeneratedRun) -> None:
    day = RUN_START + dt.timedelta(days=6)
    manifest = json.loads((scale_one_run.out_dir / "_manifest" / f"{day.isoformat()}.json").read_text())

    assert manifest["day"] == day.isoformat() and manifest["seed"] == 42 and manifest["scale"] == 1.0
    for source in SOURCE_NAMES:
        assert manifest["sources"][source] == scale_one_run.report.entry(source, day).to_dict()
    refunds = [late for late in manifest["sources"]["warehouse_orders"]["late_arrivals"] if late["kind"] == "refund"]
    assert refunds and all(late["lateness_days"] >= 1 for late in refunds)
