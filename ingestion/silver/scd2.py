"""Type 2 slowly changing dimensions (customers): one MERGE that closes and opens versions.

The dimension holds the business key, the tracked attributes and
`valid_from`, `valid_to`, `is_current`; the current version has a null
`valid_to`. A batch of CDC changes carries the key, the attributes, `updated_at`
and `op` (I insert, U update, D delete).

The MERGE source follows the standard single-statement pattern: every source
row is the final state of one dimension row.

- Close rows have `merge_key` = the business key. They match the current
  version (`ON t.key = s.merge_key AND t.is_current`) and set its `valid_to`
  and `is_current`.
- Open rows have a null `merge_key`, so they never match and are inserted.

How changes are applied, per key:

- They are replayed in `updated_at` order after the key's latest version, so a
  batch holding several changes to one key writes each intermediate version
  (closed by the next change) rather than only the last one.
- A change that leaves the tracked attributes as they were (an unchanged
  re-delivery, a touch of `updated_at` only) does nothing.
- A delete closes the current version at the delete's time and opens nothing.
  A later insert opens a new version.

Late, out-of-order changes: a change dated before the key's latest version
started (or, for a deleted key, before it was deleted) is not applied, because
fitting it in would mean rewriting history that Gold may already have
published. `rejected_changes` returns these rows, with the other changes that
cannot be applied, so that the caller counts them and quarantines them.
A change dated exactly at the latest version's start is applied only if it
re-delivers that version (a no-op). Otherwise it is rejected, because two
states at one instant cannot be ordered.

Precondition: at most one change per (key, updated_at). Run
`dedup.latest_per_key(changes, [key, "updated_at"], tie_breaker=...)` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from sqlglot import exp

VALID_FROM = "valid_from"
VALID_TO = "valid_to"
IS_CURRENT = "is_current"
MERGE_KEY = "merge_key"
REJECTION_REASON = "_rejection_reason"

OP_INSERT, OP_UPDATE, OP_DELETE = "I", "U", "D"
UPSERT_OPS = (OP_INSERT, OP_UPDATE)

# Internal columns of the replay: a state is either the dimension's latest
# version (sequence 0) or an incoming change (sequence 1).
_AT = "_event_at"
_OP = "_op"
_SEQUENCE = "_sequence"
_OP_CURRENT = "C"  # the latest version is current: the key exists
_NEXT_AT = "_next_event_at"
_ANCHOR_AT = "_anchor_at"


def scd2_merge_source(
    dimension: DataFrame,
    changes: DataFrame,
    *,
    key: str,
    tracked: Sequence[str],
    changed_at: str = "updated_at",
    op: str = "op",
) -> DataFrame:
    """The MERGE source: close rows (merge_key set) and open rows (merge_key null).

    Columns: merge_key, key, *tracked, valid_from, valid_to, is_current.
    """
    states = _replay(dimension, changes, key=key, tracked=tracked, changed_at=changed_at, op=op)
    is_change = F.col(_SEQUENCE) == 1
    effective = states.where(~is_change | _changes_state(tracked))
    next_state = Window.partitionBy(key).orderBy(_AT, _SEQUENCE)
    versions = effective.withColumn(_NEXT_AT, F.lead(_AT).over(next_state))

    key_type = dimension.schema[key].dataType
    current_version_superseded = ~is_change & (F.col(_OP) == _OP_CURRENT) & F.col(_NEXT_AT).isNotNull()
    close_rows = versions.where(current_version_superseded).select(
        F.col(key).alias(MERGE_KEY),
        F.col(key),
        *tracked,
        F.col(VALID_FROM),
        F.col(_NEXT_AT).alias(VALID_TO),
        F.lit(False).alias(IS_CURRENT),
    )
    opened_by_upsert = is_change & F.col(_OP).isin(*UPSERT_OPS)
    open_rows = versions.where(opened_by_upsert).select(
        F.lit(None).cast(key_type).alias(MERGE_KEY),
        F.col(key),
        *tracked,
        F.col(_AT).alias(VALID_FROM),
        F.col(_NEXT_AT).alias(VALID_TO),
        F.col(_NEXT_AT).isNull().alias(IS_CURRENT),
    )
    return close_rows.unionByName(open_rows).select(MERGE_KEY, key, *tracked, VALID_FROM, VALID_TO, IS_CURRENT)


def rejected_changes(
    dimension: DataFrame,
    changes: DataFrame,
    *,
    key: str,
    tracked: Sequence[str],
    changed_at: str = "updated_at",
    op: str = "op",
) -> DataFrame:
    """The changes `scd2_merge_source` does not apply, with a `_rejection_reason`.

    Every change is either replayed (applied or a no-op) or returned here, never both.
    """
    anchored = _anchor_changes(dimension, changes, key=key, tracked=tracked)
    reason = _rejection_reason(tracked, changed_at=changed_at, op=op)
    return anchored.withColumn(REJECTION_REASON, reason).where(F.col(REJECTION_REASON).isNotNull()).select(
        *changes.columns, REJECTION_REASON
    )


def apply_scd2_merge(dimension: DataFrame, merge_source: DataFrame, *, key: str, tracked: Sequence[str]) -> DataFrame:
    """What `scd2_merge_sql` does to the table, on DataFrames (for tests and dry runs)."""
    closes = merge_source.where(F.col(MERGE_KEY).isNotNull()).select(
        F.col(MERGE_KEY).alias("_close_key"),
        F.col(VALID_TO).alias("_closed_valid_to"),
        F.col(IS_CURRENT).alias("_closed_is_current"),
    )
    matches_current = (dimension[key] == closes["_close_key"]) & dimension[IS_CURRENT]
    is_closed = F.col("_close_key").isNotNull()
    updated = dimension.join(closes, on=matches_current, how="left").select(
        dimension[key],
        *[dimension[name] for name in tracked],
        dimension[VALID_FROM],
        F.when(is_closed, F.col("_closed_valid_to")).otherwise(dimension[VALID_TO]).alias(VALID_TO),
        F.when(is_closed, F.col("_closed_is_current")).otherwise(dimension[IS_CURRENT]).alias(IS_CURRENT),
    )
    inserted = merge_source.where(F.col(MERGE_KEY).isNull()).select(key, *tracked, VALID_FROM, VALID_TO, IS_CURRENT)
    return updated.unionByName(inserted).select(key, *tracked, VALID_FROM, VALID_TO, IS_CURRENT)


def scd2_merge_sql(
    target: exp.Table, source: exp.Table, *, key: str, tracked: Sequence[str], dialect: str = "spark"
) -> str:
    """The single MERGE INTO statement that applies `scd2_merge_source` rows to `target`.

    `target` and `source` come from `sqlglot.exp.table_(..., quoted=True)`.
    """
    target_alias, source_alias = "t", "s"

    def t(name: str) -> exp.Column:
        return exp.column(name, table=target_alias, quoted=True)

    def s(name: str) -> exp.Column:
        return exp.column(name, table=source_alias, quoted=True)

    inserted = [key, *tracked, VALID_FROM, VALID_TO, IS_CURRENT]
    close_current = exp.When(
        matched=True,
        then=exp.Update(
            expressions=[exp.EQ(this=t(VALID_TO), expression=s(VALID_TO)), exp.EQ(this=t(IS_CURRENT), expression=s(IS_CURRENT))]
        ),
    )
    # A close row that finds no current version (the key changed since the source
    # was built) must not be inserted as a stray closed version.
    open_version = exp.When(
        matched=False,
        condition=exp.Is(this=s(MERGE_KEY), expression=exp.Null()),
        then=exp.Insert(
            this=exp.Tuple(expressions=[exp.column(name, quoted=True) for name in inserted]),
            expression=exp.Tuple(expressions=[s(name) for name in inserted]),
        ),
    )
    merge = exp.Merge(
        this=exp.alias_(target.copy(), target_alias, table=True),
        using=exp.alias_(source.copy(), source_alias, table=True),
        on=exp.and_(exp.EQ(this=t(key), expression=s(MERGE_KEY)), exp.EQ(this=t(IS_CURRENT), expression=exp.true())),
        whens=exp.Whens(expressions=[close_current, open_version]),
    )
    return merge.sql(dialect=dialect)


def _latest_versions(dimension: DataFrame, key: str) -> DataFrame:
    """Each key's most recent version, current or (for a deleted key) closed."""
    newest_first = Window.partitionBy(key).orderBy(F.col(VALID_FROM).desc())
    return (
        dimension.withColumn("_rank", F.row_number().over(newest_first)).where(F.col("_rank") == 1).drop("_rank")
    )


def _anchor_changes(dimension: DataFrame, changes: DataFrame, *, key: str, tracked: Sequence[str]) -> DataFrame:
    """Each change next to its key's latest version (`_anchor_*` columns, null for a new key)."""
    latest = _latest_versions(dimension, key).select(
        F.col(key).alias("_anchor_key"),
        # A deleted key's latest version is closed: it stopped existing at valid_to.
        F.when(F.col(IS_CURRENT), F.col(VALID_FROM)).otherwise(F.col(VALID_TO)).alias(_ANCHOR_AT),
        F.col(IS_CURRENT).alias("_anchor_is_current"),
        *[F.col(name).alias(f"_anchor_{name}") for name in tracked],
    )
    return changes.join(latest, on=changes[key] == latest["_anchor_key"], how="left")


def _rejection_reason(tracked: Sequence[str], *, changed_at: str, op: str) -> Column:
    """Null for a change the replay can place after the key's latest version."""
    redelivers_current = (
        F.col("_anchor_is_current")
        & F.col(op).isin(*UPSERT_OPS)
        & _all_equal([(F.col(name), F.col(f"_anchor_{name}")) for name in tracked])
    )
    has_anchor = F.col(_ANCHOR_AT).isNotNull()
    before_anchor = has_anchor & (F.col(changed_at) < F.col(_ANCHOR_AT))
    conflicts_at_anchor = has_anchor & (F.col(changed_at) == F.col(_ANCHOR_AT)) & ~redelivers_current
    return (
        F.when(F.col(op).isNull() | ~F.col(op).isin(OP_INSERT, OP_UPDATE, OP_DELETE), F.lit("op is not I, U or D"))
        .when(F.col(changed_at).isNull(), F.lit(f"{changed_at} is null"))
        .when(before_anchor, F.lit("late: older than the key's latest version"))
        .when(conflicts_at_anchor, F.lit("late: differs from the key's latest version at the same instant"))
    )


def _replay(
    dimension: DataFrame, changes: DataFrame, *, key: str, tracked: Sequence[str], changed_at: str, op: str
) -> DataFrame:
    """Latest versions and applicable changes as one time-ordered sequence of states per key.

    Each row also carries the previous state (`_previous_*`), so that a change
    can be compared with the state it would replace.
    """
    anchored = _anchor_changes(dimension, changes, key=key, tracked=tracked)
    applicable = anchored.where(_rejection_reason(tracked, changed_at=changed_at, op=op).isNull()).select(
        F.col(key),
        *tracked,
        F.col(changed_at).cast(dimension.schema[VALID_FROM].dataType).alias(_AT),
        F.col(op).alias(_OP),
        F.lit(1).alias(_SEQUENCE),
        F.lit(None).cast(dimension.schema[VALID_FROM].dataType).alias(VALID_FROM),
    )
    latest_versions = _latest_versions(dimension, key).select(
        F.col(key),
        *tracked,
        F.when(F.col(IS_CURRENT), F.col(VALID_FROM)).otherwise(F.col(VALID_TO)).alias(_AT),
        F.when(F.col(IS_CURRENT), F.lit(_OP_CURRENT)).otherwise(F.lit(OP_DELETE)).alias(_OP),
        F.lit(0).alias(_SEQUENCE),
        F.col(VALID_FROM),
    )
    in_order = Window.partitionBy(key).orderBy(_AT, _SEQUENCE)
    states = latest_versions.unionByName(applicable)
    return states.select(
        "*",
        F.lag(_OP).over(in_order).alias("_previous_op"),
        *[F.lag(name).over(in_order).alias(f"_previous_{name}") for name in tracked],
    )


def _changes_state(tracked: Sequence[str]) -> Column:
    """True for a change that differs from the state before it."""
    key_existed = F.col("_previous_op").isNotNull() & (F.col("_previous_op") != OP_DELETE)
    same_attributes = _all_equal([(F.col(name), F.col(f"_previous_{name}")) for name in tracked])
    deletes_existing_key = (F.col(_OP) == OP_DELETE) & key_existed
    upsert_changes_something = F.col(_OP).isin(*UPSERT_OPS) & (~key_existed | ~same_attributes)
    return deletes_existing_key | upsert_changes_something


def _all_equal(pairs: Sequence[tuple[Column, Column]]) -> Column:
    """Null-safe equality of every pair: a null attribute equals a null attribute."""
    return reduce(lambda acc, pair: acc & pair[0].eqNullSafe(pair[1]), pairs, F.lit(True))
