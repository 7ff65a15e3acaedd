"""Keep the latest version of each row per business key."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

_VERSION_RANK = "_version_rank"


def latest_per_key(
    df: DataFrame,
    keys: Sequence[str],
    *,
    tie_breaker: str,
    order_by: str = "updated_at",
) -> DataFrame:
    """One row per `keys`: the greatest `order_by`, ties broken by the greatest `tie_breaker`.

    The tie-breaker (an ingest offset or a record hash) makes a replay of the
    same Bronze files pick the same row. Rows whose `order_by` is null lose to
    any dated row. Two rows equal on both columns are identical for our
    purposes, so which one survives does not matter.
    """
    if not keys:
        raise ValueError("latest_per_key needs at least one key column")
    newest_first = Window.partitionBy(*keys).orderBy(
        F.col(order_by).desc_nulls_last(), F.col(tie_breaker).desc_nulls_last()
    )
    return (
        df.withColumn(_VERSION_RANK, F.row_number().over(newest_first))
        .where(F.col(_VERSION_RANK) == 1)
        .select(*df.columns)
    )


def version_conflicts(df: DataFrame, keys: Sequence[str], *, order_by: str, content: Sequence[str]) -> DataFrame:
    """(keys, order_by) of each version that rows claim with different `content` columns.

    Those are the ties `latest_per_key` breaks by its tie-breaker, when the tied rows
    disagree. Rows equal on every `content` column (nulls included) are copies, not a
    conflict; a row with a null `order_by` claims no version.
    """
    # JSON of the struct: one comparable value per row, in which a null differs from any value.
    fingerprint = F.to_json(F.struct(*content))
    return (
        df.where(F.col(order_by).isNotNull())
        .groupBy(*keys, order_by)
        .agg(F.count_distinct(fingerprint).alias("_contents"))
        .where(F.col("_contents") > 1)
        .select(*keys, order_by)
    )
