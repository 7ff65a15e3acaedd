"""DayResult, the pipeline's per-day record, without Spark."""

from __future__ import annotations

import datetime as dt

from ingestion.bronze import BronzeBatch
from ingestion.pipeline import DayResult
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

