"""Landing days through the pipeline as one recorded run: the one loop over day batches.

`day_batches` cuts a range of landing days into the `run_day` calls that cover it: the
history before the last `daily_days` days as one catch-up batch, then each of the last
days on its own. `run_batches` runs them in order inside one `record_run`: each batch's
stage metrics are recorded as soon as it finishes, its jobs' lineage runs are children
of the run's, and each Silver schema change is recorded the moment it commits. The
first batch that fails stops the run, which is recorded as failed with the batches done
before it kept.

`lakehouse run`, `backfill` and `demo` take the pipeline lock (`catalog.run_lock`) before
Spark starts and hold it around this call: `record_run` relies on one run at a time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pyspark.sql import SparkSession

from catalog.settings import LakehouseSettings
from ingestion.maintenance import AfterRun, after_run
from ingestion.operations import record_run
from ingestion.pipeline import DayResult, run_day


class DayBatch(NamedTuple):
    """The landing days `since`..`day` of one `run_day` call (one day when they are equal)."""

    since: dt.date
    day: dt.date

    @property
    def catch_up(self) -> bool:
        return self.since != self.day


@dataclass(frozen=True)
class PipelineRun:
    run_id: str  # its row in ops.runs
    results: tuple[DayResult, ...]  # one per batch, in order
    maintenance: AfterRun | None = None  # the table maintenance that followed (maintenance.after_run)

    @property
    def warnings(self) -> list[str]:
        """Contract warnings of every batch, in order, then a maintenance that could not run."""
        found = [warning for result in self.results for warning in result.warnings]
        return found + ([self.maintenance.problem] if self.maintenance and self.maintenance.problem else [])


def day_batches(days: Sequence[dt.date], daily_days: int) -> list[DayBatch]:
    """The batches of `days`: the days before the last `daily_days` as one catch-up batch,
    then one batch per day (0 runs them all as one catch-up)."""
    split = max(len(days) - daily_days, 0)
    catch_up, daily = days[:split], days[split:]
    return ([DayBatch(catch_up[0], catch_up[-1])] if catch_up else []) + [DayBatch(day, day) for day in daily]


def run_batches(
    spark: SparkSession,
    settings: LakehouseSettings,
    command: str,
    batches: Sequence[DayBatch],
    *,
    window_days: int | None = None,
    report: Callable[[DayBatch, str], None] = lambda _batch, _message: None,
    before_batch: Callable[[DayBatch], None] = lambda _: None,
    batch_done: Callable[[DayResult], None] = lambda _: None,
    maintain_after: bool | None = None,
) -> PipelineRun:
    """Run `batches` in order as one run of `command`, recorded in the ops tables.

    `report(batch, message)` hears of each job as it starts; `before_batch(batch)` runs
    before a batch's jobs (the demo delivers the batch's days to the real sources there,
    as they would have arrived by then); `batch_done(result)` is
    called once a batch's result is recorded, before the next batch starts (an exception
    it raises stops the run like a failed batch). `window_days` overrides every table's
    late-data window (default: the pipeline settings).

    Once every batch is done, the Bronze, Silver and ops tables are maintained
    (`ingestion.maintenance.after_run`) when `maintain_after` says so (default:
    `maintenance.after_run`); its records carry this run's id.
    """
    results = []
    with record_run(spark, settings, command, batches[0].since, batches[-1].day) as ops:
        for batch in batches:
            before_batch(batch)
            result = run_day(
                spark, settings, batch.day, since=batch.since, window_days=window_days,
                report=functools.partial(report, batch),
                lineage=ops.lineage, schema_changed=ops.schema_changed,
            )
            results.append(result)
            ops.day(result)
            batch_done(result)
        maintenance = None
        if settings.maintenance.after_run if maintain_after is None else maintain_after:
            maintenance = after_run(spark, settings, ops.run_id, report=functools.partial(report, batches[-1]))
    return PipelineRun(ops.run_id, tuple(results), maintenance)
