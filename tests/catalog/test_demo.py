"""How the demo splits its days into pipeline batches (no services)."""

from __future__ import annotations

import datetime as dt

from catalog.demo import demo_batches

START = dt.date(2026, 1, 1)


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n - 1)


def test_history_is_one_catch_up_then_the_last_days_one_by_one() -> None:
    assert demo_batches(START, 30, 3) == [(day(1), day(27)), (day(28), day(28)), (day(29), day(29)), (day(30), day(30))]


def test_every_day_one_by_one_when_the_daily_days_cover_the_run() -> None:
    assert demo_batches(START, 3, 3) == demo_batches(START, 3, 10) == [(day(n), day(n)) for n in (1, 2, 3)]


def test_a_single_day_of_history_is_a_batch_of_one_day() -> None:
    assert demo_batches(START, 4, 3) == [(day(1), day(1)), (day(2), day(2)), (day(3), day(3)), (day(4), day(4))]
