"""Timestamps as the landing formats spell them. All are UTC.

Warehouse-style CSV extracts use the database's `YYYY-MM-DD HH:MM:SS`; JSON APIs and
the event stream use ISO 8601 with a `Z`. Datetimes here are naive and mean UTC.
"""

from __future__ import annotations

import datetime as dt
import random

SECONDS_PER_DAY = 86_400


def at_second(day: dt.date, second_of_day: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=second_of_day)


def random_moment(rng: random.Random, day: dt.date) -> dt.datetime:
    return at_second(day, rng.randint(0, SECONDS_PER_DAY - 1))


# isoformat, not strftime: it is C code, and this runs for every row.
def sql_timestamp(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def iso_utc(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


def iso_utc_millis(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"
