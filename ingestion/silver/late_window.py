"""The late-data window: upsert recent partitions cheaply and late rows on purpose.

A daily upsert MERGE that matches on the keys alone makes Iceberg read every
partition of the target. Putting a predicate on the target's partition date
column into the `ON` clause limits the read to the window's partitions.
That is safe only if every source row in the MERGE falls inside the same
predicate: a source row outside it can never match, so it would be inserted
a second time. `split_by_window` therefore separates the batch first:

- `in_window`: business date within the N days ending on the run date. These
  go through `merge_sql(..., window_predicate(...))`.
- `out_of_window`: dated before the window (late data) or after the run date
  (a backfill run, or clock skew). These go through a targeted MERGE whose ON
  clause names exactly their dates: `dates_predicate(column, distinct_dates(...))`.
- `undated`: a null business date. No partition predicate can place these rows,
  so the caller quarantines them. The Silver contracts make the date not null.

Every row lands in exactly one of the three, so the caller can check
`read == in_window + out_of_window + undated`.

Names reach SQL only as sqlglot identifiers, quoted, never by string formatting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sqlglot import exp

DEFAULT_WINDOW_DAYS = 3
TARGET_ALIAS = "t"
SOURCE_ALIAS = "s"


@dataclass(frozen=True)
class WindowSplit:
    in_window: DataFrame
    out_of_window: DataFrame
    undated: DataFrame


def window_start(run_date: dt.date, days: int = DEFAULT_WINDOW_DAYS) -> dt.date:
    """The first date of the `days`-day window ending on `run_date` (inclusive)."""
    if days < 1:
        raise ValueError(f"the late-data window must span at least 1 day, got {days}")
    return run_date - dt.timedelta(days=days - 1)


def window_predicate(
    date_column: str, run_date: dt.date, days: int = DEFAULT_WINDOW_DAYS, *, alias: str = TARGET_ALIAS
) -> exp.Condition:
    """`alias.date_column BETWEEN <window start> AND <run date>`, for the MERGE's ON clause.

    `date_column` is a DATE column the target is partitioned by (identity or `days()`),
    so that Iceberg prunes every partition outside the window.
    """
    return exp.Between(
        this=exp.column(date_column, table=alias, quoted=True),
        low=_date_literal(window_start(run_date, days)),
        high=_date_literal(run_date),
    )


def dates_predicate(date_column: str, dates: Iterable[dt.date], *, alias: str = TARGET_ALIAS) -> exp.Condition:
    """`alias.date_column IN (<dates>)`: the ON clause of the targeted MERGE for late rows."""
    literals = [_date_literal(day) for day in sorted(set(dates))]
    if not literals:
        raise ValueError("a targeted MERGE needs at least one date: skip it when there are no out-of-window rows")
    return exp.In(this=exp.column(date_column, table=alias, quoted=True), expressions=literals)


def merge_sql(
    target: exp.Table,
    source: exp.Table,
    *,
    keys: Sequence[str],
    partition_predicate: exp.Condition,
    updated_at: str = "updated_at",
    dialect: str = "spark",
) -> str:
    """The upsert MERGE: match on `keys` within `partition_predicate`; newer source rows win.

    `target` and `source` come from `sqlglot.exp.table_(..., quoted=True)`.
    `partition_predicate` comes from `window_predicate` or `dates_predicate`,
    written against the target alias.
    """
    if not keys:
        raise ValueError("merge_sql needs at least one key column")
    keys_match = [
        exp.EQ(
            this=exp.column(name, table=TARGET_ALIAS, quoted=True),
            expression=exp.column(name, table=SOURCE_ALIAS, quoted=True),
        )
        for name in keys
    ]
    source_is_newer = exp.GT(
        this=exp.column(updated_at, table=SOURCE_ALIAS, quoted=True),
        expression=exp.column(updated_at, table=TARGET_ALIAS, quoted=True),
    )
    merge = exp.Merge(
        this=exp.alias_(target.copy(), TARGET_ALIAS, table=True),
        using=exp.alias_(source.copy(), SOURCE_ALIAS, table=True),
        on=exp.and_(*keys_match, partition_predicate.copy()),
        whens=exp.Whens(
            expressions=[
                exp.When(matched=True, condition=source_is_newer, then=exp.Update(expressions=[exp.Star()])),
                exp.When(matched=False, then=exp.Insert(this=exp.Star())),
            ]
        ),
    )
    return merge.sql(dialect=dialect)


def split_by_window(
    df: DataFrame, date_column: str, run_date: dt.date, days: int = DEFAULT_WINDOW_DAYS
) -> WindowSplit:
    """Split a batch by the same window that `window_predicate` writes into the MERGE."""
    business_date = F.col(date_column)
    in_window = business_date.between(F.lit(window_start(run_date, days)), F.lit(run_date))
    is_undated = business_date.isNull()
    return WindowSplit(
        in_window=df.where(in_window).select(*df.columns),
        out_of_window=df.where(~is_undated & ~in_window).select(*df.columns),
        undated=df.where(is_undated).select(*df.columns),
    )


def distinct_dates(df: DataFrame, date_column: str) -> list[dt.date]:
    """The sorted distinct non-null dates of `df`: a handful of late partitions, collected to the driver."""
    rows = df.where(F.col(date_column).isNotNull()).select(date_column).distinct().orderBy(date_column).collect()
    return [row[0] for row in rows]


def _date_literal(day: dt.date) -> exp.Expression:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.Type.DATE)
