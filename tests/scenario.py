"""The shared 10-day scenario: generated sources run day by day through Bronze and Silver.

It runs once per test session (about 14 minutes here) and is read by the pipeline
tests and the Gold tests alike. Ground truth comes from the generator's report
(what it injected), never from the pipeline under test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from catalog.settings import LakehouseSettings
from ingestion.bronze.landing import landing_days
from ingestion.day_runner import day_batches, run_batches
from ingestion.pipeline import DayResult
from ingestion.synthetic import generate_sources
from ingestion.synthetic.report import GenerationReport

# Apart from the dates other integration tests land in the shared session catalog
# (Bronze tests use January): Silver reads Bronze by landing day.
START = dt.date(2026, 3, 1)
DAYS = 10
SCALE = 0.05
SEED = 11


@dataclass(frozen=True)
class Scenario:
    report: GenerationReport
    results: list[DayResult]
    blocks_left: set[int]  # Spark RDDs still holding blocks after the last day
    run_id: str  # its row in ops.runs


def run_scenario(spark, settings: LakehouseSettings) -> Scenario:
    report = generate_sources(settings.landing_dir, START, DAYS, scale=SCALE, seed=SEED)
    before = stored_rdds(spark)
    # Day by day: every landing day a batch of its own.
    run = run_batches(spark, settings, "scenario", day_batches(landing_days(START, START + dt.timedelta(days=DAYS - 1)), DAYS))
    return Scenario(report, list(run.results), stored_rdds(spark) - before, run.run_id)


def stored_rdds(spark) -> set[int]:
    return {info.id() for info in spark.sparkContext._jsc.sc().getRDDStorageInfo()}
