"""DayResult, the pipeline's per-day record, without Spark."""

from __future__ import annotations

import datetime as dt

from ingestion.bronze import BronzeBatch
from ingestion.bronze.landing import landing_days
from ingestion.pipeline import DayResult, day_batches
from ingestion.silver.publish import SilverCommit

DAY = dt.date(2026, 3, 5)


def test_warnings_name_the_day_and_table_of_each_layer() -> None:
    bronze = BronzeBatch(
        "warehouse_orders", DAY, "b1", (), (), 10, 10, 0, "iceberg.bronze.warehouse_orders",
        warnings=("new_columns: coupon_code (schema drift, carried)",),
    )
    silver = SilverCommit(
        "`iceberg`.`silver`.`orders`", DAY, 10, 9, 1, 9, 0, (), 0.9, 1, warnings=("dq_score: 1 (below 0.95)",)
    )
    quiet = SilverCommit("`iceberg`.`silver`.`events`", DAY, 5, 5, 0, 5, 0, (), 1.0, 2)
    result = DayResult(DAY, (bronze,), (silver, quiet), {})
    assert result.warnings == [
        "2026-03-05 iceberg.bronze.warehouse_orders: new_columns: coupon_code (schema drift, carried)",
        "2026-03-05 `iceberg`.`silver`.`orders`: dq_score: 1 (below 0.95)",
    ]


def test_a_catch_up_result_counts_every_landing_day_it_covers() -> None:
    assert DayResult(DAY, (), (), {}).days == 1
    assert DayResult(DAY, (), (), {}, first_day=DAY - dt.timedelta(days=9)).days == 10


def day(n: int) -> dt.date:
    return dt.date(2026, 1, n)


def test_history_is_one_catch_up_then_the_last_days_one_by_one() -> None:
    assert day_batches(landing_days(day(1), day(30)), 3) == [
        (day(1), day(27)), (day(28), day(28)), (day(29), day(29)), (day(30), day(30)),
    ]


def test_every_day_one_by_one_when_the_daily_days_cover_the_range() -> None:
    days = landing_days(day(1), day(3))
    assert day_batches(days, 3) == day_batches(days, 10) == [(day(n), day(n)) for n in (1, 2, 3)]


def test_a_single_day_of_history_is_a_batch_of_one_day() -> None:
    assert day_batches(landing_days(day(1), day(4)), 3) == [(day(n), day(n)) for n in (1, 2, 3, 4)]


def test_no_daily_days_is_one_catch_up_for_the_whole_range() -> None:
    assert day_batches(landing_days(day(1), day(10)), 0) == [(day(1), day(10))]
