"""The scale-1 run shared by the source-generator tests (about 2 seconds, generated once)."""

from __future__ import annotations

import pytest

from ingestion.synthetic import generate_sources
from landing_zone import RUN_DAYS, RUN_START, GeneratedRun, LandingZone


@pytest.fixture(scope="session")
def scale_one_run(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRun:
    out_dir = tmp_path_factory.mktemp("landing")
    report = generate_sources(out_dir, RUN_START, RUN_DAYS, scale=1.0, seed=42)
    return GeneratedRun(out_dir, report, LandingZone(out_dir))
