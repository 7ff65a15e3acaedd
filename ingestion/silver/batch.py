"""Bronze rows of one batch -> rows Silver accepts + rows it quarantines, with reasons.

Pure: DataFrames in, DataFrames out. Every Bronze row ends in exactly one of
`accepted` or `quarantined` (read = accepted + quarantined). A row is quarantined
with the reason of the first of these checks it fails:

1. the line could not be parsed in Bronze (`_parse_error`);
2. a value does not cast to the contract type (`amount is not a decimal(18,2)`);
3. the amount has no FX rate;
4. a foreign key has no match in the referenced Silver table (orphans), or, for a
   key declared `not_deleted_before`, the key was deleted there at or before the
   row's date (`orphan: customer_id was deleted before ordered_at`);
5. a contract row check fails (nulls, ranges, bounds relative to the run dates,
   accepted values, decimal places, string length, control characters).

A decimal is never rounded: it keeps every decimal place it arrived with until the
row checks have run (`amount has more than 2 decimal places`), and only then takes
its declared type, which for an accepted row changes no digit.

Duplicates are *accepted*: they are valid rows that collapse into one version in
`merge_source` (latest `version_column` wins), so `accepted - merge_source rows`
is the number of duplicates absorbed. Rows of one key that claim the same version
with different values are not duplicates: one is kept all the same (the greatest
record hash), and `same_version_conflicts` makes a warning of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ingestion.bronze.columns import column as bronze_column
from ingestion.contracts.contract import ColumnContract, ForeignKey, RunDates, TableContract
from ingestion.contracts.spark_row_checks import failed_checks, require_columns
from ingestion.silver import fx, scd2
from ingestion.silver.dedup import latest_per_key, version_conflicts
from ingestion.silver.entities import SilverEntity

# Bronze metadata carried to Silver (lineage) or to the quarantine table.
BATCH_ID = "_batch_id"
PARSE_ERROR = "_parse_error"
RECORD_HASH = "_record_hash"
QUARANTINE_COLUMNS = ("_batch_id", "_source_file", "_line_number", "_raw_line", "_record_hash")
LINEAGE_COLUMNS = ("_batch_id",)
REJECT_REASON = "_reject_reason"
_CAST_ERRORS = "_cast_errors"
_REFERENCED_KEY = "_referenced_key"
_DELETED_AT = "_referenced_deleted_at"
_DECIMAL_TYPE = re.compile(r"^decimal\((\d+),(\d+)\)$")
# Conflicting versions named in a warning; the count covers them all.
CONFLICT_EXAMPLES = 3


@dataclass(frozen=True)
class PreparedBatch:
    accepted: DataFrame  # contract columns + carried extras + lineage, one row per valid Bronze row
    quarantined: DataFrame  # QUARANTINE_COLUMNS + reason
    merge_source: DataFrame  # accepted, deduplicated: one row per key
    # Every Bronze row with `_reject_reason` (null when accepted): `accepted` and
    # `quarantined` are its two filters, so caching it computes the batch once.
    checked: DataFrame | None = None


def prepare_batch(
    bronze: DataFrame,
    entity: SilverEntity,
    contract: TableContract,
    *,
    fx_rates: DataFrame | None = None,
    referenced_keys: Mapping[str, DataFrame] | None = None,
    run_dates: RunDates | None = None,
) -> PreparedBatch:
    """`referenced_keys`: FK column name -> frame whose first column is the keys that exist; for a
    foreign key declared `not_deleted_before`, also the parent's `valid_to` and `is_current`.

    `run_dates`: the landing days of the batch, for the contract's bounds relative to the
    run date; without them (benchmarks, ad-hoc use) those bounds are not checked.
    """
    checked = _checked_rows(
        bronze, entity, contract, fx_rates=fx_rates, referenced_keys=referenced_keys, run_dates=run_dates
    )
    accepted = _accepted(checked)
    merge_source = latest_per_key(accepted, list(entity.keys), order_by=entity.version_column, tie_breaker=RECORD_HASH)
    return PreparedBatch(
        accepted=accepted,
        quarantined=_quarantined(checked),
        merge_source=merge_source.select(*silver_columns(accepted)),
        checked=checked,
    )


def _checked_rows(
    bronze: DataFrame,
    entity: SilverEntity,
    contract: TableContract,
    *,
    fx_rates: DataFrame | None = None,
    referenced_keys: Mapping[str, DataFrame] | None = None,
    run_dates: RunDates | None = None,
) -> DataFrame:
    """Every Bronze row, typed, with `_reject_reason`: the first failed step's reason, or null.

    One linear plan that each step only adds columns to. Filtering the rejects out
    after every step, and unioning them back, made the plan (and Spark's planning
    time, most of a small batch's cost) grow with every step.
    """
    typed = cast_to_contract(bronze, entity, contract)
    unparseable = F.concat(F.lit("unparseable: "), F.col(PARSE_ERROR))
    # A line that did not parse has no values to cast: its parse error is the reason.
    checked = typed.withColumn(
        REJECT_REASON, F.when(F.col(PARSE_ERROR).isNotNull(), unparseable).otherwise(F.nullif(F.col(_CAST_ERRORS), F.lit("")))
    ).drop(PARSE_ERROR, _CAST_ERRORS)

    if entity.fx_date_column is not None:
        if fx_rates is None:
            raise ValueError(f"{entity.table} converts amounts to USD: pass fx_rates")
        checked = fx.convert_to_usd(checked, fx_rates.withColumnRenamed("rate_date", "date"), business_date=entity.fx_date_column)
        checked = _reject(checked, F.concat(F.lit("no FX rate: "), F.col(fx.MISSING_REASON)))
        checked = checked.drop(fx.MISSING_REASON, *entity.derived.keys() - {entity.date_column})

    for foreign_key in contract.foreign_keys:
        column = foreign_key.columns[0]
        keys = (referenced_keys or {}).get(column)
        if keys is None:
            raise ValueError(f"{entity.table}.{column} references {foreign_key.references.table}: pass its keys")
        # One row per key, so the left join neither drops nor repeats a row.
        existing = _existing_keys(keys, foreign_key)
        joined = checked.join(existing, on=F.col(column) == F.col(_REFERENCED_KEY), how="left")
        orphan = F.col(column).isNotNull() & F.col(_REFERENCED_KEY).isNull()
        reason = F.when(orphan, F.lit(f"orphan: {column} has no match in {foreign_key.references.table}"))
        dated_by = foreign_key.not_deleted_before
        if dated_by is not None:
            # At the deletion instant itself the key is gone already: SCD2's valid_to is exclusive.
            deleted = F.col(_DELETED_AT).isNotNull() & (F.col(dated_by) >= F.col(_DELETED_AT))
            reason = reason.when(deleted, F.lit(f"orphan: {column} was deleted before {dated_by}"))
        checked = _reject(joined, reason).drop(_REFERENCED_KEY, _DELETED_AT)

    require_columns(checked, contract)
    checked = _reject(checked, F.nullif(failed_checks(contract, run_dates), F.lit("")))
    # Decimals kept their extra places for the scale check; an accepted row has none to lose.
    declared = {c.name: c.type for c in contract.columns if c.scale is not None and c.name in checked.columns}
    return checked.withColumns({name: F.col(name).cast(kind) for name, kind in declared.items()})


def _existing_keys(keys: DataFrame, foreign_key: ForeignKey) -> DataFrame:
    """`_REFERENCED_KEY`, one row per key that exists, and `_DELETED_AT`: when the key was deleted, else null.

    Without `not_deleted_before` a deletion does not matter (any key the table holds is a
    match). With it, `keys` is an SCD2 table: a key none of whose versions is current was
    deleted when its latest version closed; a key deleted and inserted again is current.
    """
    key = F.col(keys.columns[0]).alias(_REFERENCED_KEY)
    if foreign_key.not_deleted_before is None:
        return keys.select(key).distinct()
    missing = [name for name in (scd2.VALID_TO, scd2.IS_CURRENT) if name not in keys.columns]
    if missing:
        raise ValueError(
            f"the keys of {foreign_key.references.table} lack {', '.join(missing)}, which not_deleted_before needs: pass them"
        )
    is_current = F.max(F.col(scd2.IS_CURRENT).cast("int")) == 1
    return keys.groupBy(key).agg(F.when(~is_current, F.max(scd2.VALID_TO)).alias(_DELETED_AT))


def same_version_conflicts(accepted: DataFrame, entity: SilverEntity) -> tuple[str, ...]:
    """A warning (or none) about keys whose rows claim one version with different values.

    The batch keeps one of them (dedup's tie-breaker, the record hash), so the result is
    deterministic but arbitrary: the source sent two truths for one instant. Rows whose
    source columns are all equal (exact copies, redeliveries) are duplicates, not conflicts.
    One aggregation over the accepted rows; the examples are read only when there are conflicts.
    """
    keys, version = list(entity.keys), entity.version_column
    content = [name for name in entity.renamed if name in accepted.columns]
    conflicts = version_conflicts(accepted, keys, order_by=version, content=content).persist()
    try:
        count = conflicts.count()
        if not count:
            return ()
        examples = [
            ", ".join(f"{name} {row[name]}" for name in keys) + f" at {row[version]}"
            for row in conflicts.orderBy(*keys, version).limit(CONFLICT_EXAMPLES).collect()
        ]
    finally:
        conflicts.unpersist()
    more = ", ..." if count > len(examples) else ""
    return (f"same_version_conflicts: {count} keys ({'; '.join(examples)}{more}): one row kept per key, by record hash",)


def _reject(checked: DataFrame, reason: Column) -> DataFrame:
    """Set `_reject_reason` to `reason` on rows no earlier step rejected."""
    return checked.withColumn(REJECT_REASON, F.coalesce(F.col(REJECT_REASON), reason))


def _accepted(checked: DataFrame) -> DataFrame:
    return checked.where(F.col(REJECT_REASON).isNull()).drop(REJECT_REASON)


def _quarantined(checked: DataFrame) -> DataFrame:
    return _quarantine(checked.where(F.col(REJECT_REASON).isNotNull()), F.col(REJECT_REASON))


def prepare_scd2_batch(
    bronze: DataFrame,
    entity: SilverEntity,
    contract: TableContract,
    *,
    dimension: DataFrame,
    run_dates: RunDates | None = None,
) -> PreparedBatch:
    """Customers: CDC rows -> the SCD2 MERGE source; late, unorderable changes are quarantined.

    `dimension` is the Silver table as it is now (main). Row checks cover the CDC
    columns; the versioning columns are the MERGE's to set. A change's version column
    (`updated_at`) becomes `valid_from`, so it is typed and bounded as `valid_from` is;
    a null one stays the SCD2 replay's to reject.
    """
    versioning = {scd2.VALID_FROM, scd2.VALID_TO, scd2.IS_CURRENT}
    valid_from = contract.column(scd2.VALID_FROM)
    changed_at = ColumnContract.model_validate(
        {**valid_from.model_dump(exclude_defaults=True), "name": entity.version_column, "nullable": True}
    )
    change_contract = contract.model_copy(
        update={"columns": [*(c for c in contract.columns if c.name not in versioning), changed_at], "foreign_keys": []}
    )
    staged_rows = _checked_rows(bronze, entity, change_contract, run_dates=run_dates)
    key, tracked = entity.keys[0], entity.scd2_tracked
    instant = [key, entity.version_column]
    arguments = {"key": key, "tracked": tracked, "changed_at": entity.version_column}

    def new_changes(accepted: DataFrame) -> DataFrame:
        # One change per (key, instant), as the SCD2 replay requires.
        changes = latest_per_key(accepted, instant, order_by=entity.version_column, tie_breaker=RECORD_HASH)
        # A replayed day brings changes the history already holds; they are no-ops,
        # not late changes, even when newer versions exist by now.
        return changes.join(already_in_history(dimension, changes, **arguments), on=instant, how="left_anti")

    # Unique per instant (changes are), so the left join below repeats no row.
    rejected = scd2.rejected_changes(dimension, new_changes(_accepted(staged_rows)), **arguments)
    checked = _reject(
        staged_rows.join(rejected.select(*instant, scd2.REJECTION_REASON), on=instant, how="left"),
        F.concat(F.lit("not applied to SCD2: "), F.col(scd2.REJECTION_REASON)),
    ).select(*staged_rows.columns)
    accepted = _accepted(checked)
    # The changes still to apply are the accepted rows' (rejection drops whole instants),
    # derived from `checked` so that a caller caching it computes the rejections once.
    merge_source = scd2.scd2_merge_source(dimension, new_changes(accepted), **arguments)
    return PreparedBatch(accepted=accepted, quarantined=_quarantined(checked), merge_source=merge_source, checked=checked)


def already_in_history(
    dimension: DataFrame, changes: DataFrame, *, key: str, tracked: tuple[str, ...], changed_at: str
) -> DataFrame:
    """(key, changed_at) of the changes the SCD2 history already reflects.

    An insert or update is reflected when the version in effect at its instant
    has the same tracked attributes; a delete, when the key has history but no
    version is in effect at its instant (it was closed then).
    """
    history = dimension.select(
        F.col(key).alias("_h_key"),
        *(F.col(name).alias(f"_h_{name}") for name in tracked),
        F.col(scd2.VALID_FROM).alias("_h_from"),
        F.col(scd2.VALID_TO).alias("_h_to"),
    )
    at = F.col(changed_at)
    in_effect = (
        (F.col(key) == F.col("_h_key"))
        & (F.col("_h_from") <= at)
        & (F.col("_h_to").isNull() | (at < F.col("_h_to")))
    )
    versions = changes.join(history, on=in_effect, how="left")
    same_attributes = [F.col(name).eqNullSafe(F.col(f"_h_{name}")) for name in tracked]
    upsert_reflected = F.col("op").isin(*scd2.UPSERT_OPS) & F.col("_h_key").isNotNull()
    for same in same_attributes:
        upsert_reflected = upsert_reflected & same
    known_keys = dimension.select(F.col(key).alias("_known_key")).distinct()
    delete_reflected = (F.col("op") == scd2.OP_DELETE) & F.col("_h_key").isNull() & F.col("_known_key").isNotNull()
    return (
        versions.join(known_keys, on=F.col(key) == F.col("_known_key"), how="left")
        .where(upsert_reflected | delete_reflected)
        .select(key, changed_at)
        .distinct()
    )


def cast_to_contract(bronze: DataFrame, entity: SilverEntity, contract: TableContract) -> DataFrame:
    """Rename and cast Bronze strings to the contract's types; `_cast_errors` names each failure."""
    declared = {column.name: column.type for column in contract.columns}
    typed: list[Column] = []
    failures: list[Column] = []
    for silver_name, bronze_name in entity.renamed.items():
        # Sources send "" for missing values; an empty key is a missing key.
        raw = F.nullif(F.trim(bronze_column(bronze_name)), F.lit(""))
        silver_type = declared.get(silver_name, "string")
        value = raw.try_cast(silver_type) if silver_type != "string" else raw
        typed.append(_unrounded(raw, value, silver_type).alias(silver_name))
        failures.append(F.when(raw.isNotNull() & value.isNull(), F.lit(f"{silver_name} is not a valid {silver_type}")))
    extras = [name for name in bronze.columns if not name.startswith("_") and name not in entity.renamed.values()]
    frame = bronze.select(
        *typed,
        *(F.nullif(bronze_column(name), F.lit("")).alias(name) for name in extras),  # drifted-in columns ride along
        *QUARANTINE_COLUMNS,
        PARSE_ERROR,
        F.concat_ws("; ", *failures).alias(_CAST_ERRORS),
    )
    for name, expression in entity.derived.items():
        frame = frame.withColumn(name, F.expr(expression))
    return frame


def _unrounded(raw: Column, value: Column, silver_type: str) -> Column:
    """`value`, but a decimal keeps every decimal place it was sent with, for the scale check.

    Cast to decimal(38, s') with the declared type's integer digits, so that a value too
    large for the declared type is still null (a cast error); s' = 38 - (p - s) places
    (22 for decimal(18,2)), beyond which Spark's decimal holds no digit.
    """
    decimal = _DECIMAL_TYPE.match(silver_type)
    if decimal is None:
        return value
    integer_digits = int(decimal.group(1)) - int(decimal.group(2))
    return F.when(value.isNotNull(), raw.try_cast(f"decimal(38,{38 - integer_digits})"))


def _quarantine(rows: DataFrame, reason: Column) -> DataFrame:
    return rows.select(*QUARANTINE_COLUMNS, reason.alias("reason"))


def silver_columns(prepared: DataFrame) -> list[str]:
    """The columns written to the Silver table: everything but quarantine-only metadata."""
    quarantine_only = set(QUARANTINE_COLUMNS) - set(LINEAGE_COLUMNS)
    return [name for name in prepared.columns if name not in quarantine_only]
