"""The Spark side of row-level contract checks: accept or quarantine each row.

Every row ends up in exactly one of the two frames, because the reason column
is never null (an empty string means "passed every check").
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ingestion.contracts.contract import CONTROL_CHARACTERS, RowCheck, RunDates, SchemaMismatchError, TableContract

QUARANTINE_REASON = "_quarantine_reason"
REASON_SEPARATOR = "; "


def failed_checks(contract: TableContract, run_dates: RunDates | None = None) -> Column:
    """The descriptions of the row's failed checks, `; `-separated; "" when it passes them all.

    Bounds relative to the run date are checked only with `run_dates` (the batch gate passes them).
    """
    failures = [F.when(_fails(check), F.lit(check.description)) for check in contract.row_checks(run_dates)]
    # concat_ws skips nulls (passed checks) and returns "" for none, never null.
    return F.concat_ws(REASON_SEPARATOR, *failures) if failures else F.lit("")


def split_rows(
    df: DataFrame, contract: TableContract, run_dates: RunDates | None = None
) -> tuple[DataFrame, DataFrame]:
    """(accepted, quarantined): quarantined rows carry `_quarantine_reason` naming every failed check."""
    require_columns(df, contract)
    checked = df.withColumn(QUARANTINE_REASON, failed_checks(contract, run_dates))
    passed = F.col(QUARANTINE_REASON) == ""
    accepted = checked.where(passed).select(*df.columns)
    quarantined = checked.where(~passed).select(*df.columns, QUARANTINE_REASON)
    return accepted, quarantined


def require_columns(df: DataFrame, contract: TableContract) -> None:
    """Fail on a column the contract declares but the data lacks, rather than quarantining every row."""
    missing = [column.name for column in contract.columns if column.name not in df.columns]
    if missing:
        raise SchemaMismatchError(
            f"{contract.name} lacks contract column(s) {', '.join(missing)}: "
            "fix the transform that builds it, or the contract if the column was dropped on purpose"
        )


def _is_null(check: RowCheck) -> Column:
    return F.col(check.column).isNull()


def _out_of_range(check: RowCheck) -> Column:
    value = F.col(check.column)
    below = value < F.lit(check.min) if check.min is not None else F.lit(False)
    above = value > F.lit(check.max) if check.max is not None else F.lit(False)
    return value.isNotNull() & (below | above)


def _not_accepted(check: RowCheck) -> Column:
    value = F.col(check.column)
    return value.isNotNull() & ~value.isin(*check.accepted_values)


def _too_many_decimals(check: RowCheck) -> Column:
    # Only a value wider than the declared scale can fail: the batch keeps the cast's
    # extra places until the row checks ran. Rounding mode is moot: any digit beyond differs.
    value = F.col(check.column)
    return value.isNotNull() & (value != F.round(value, check.limit))


def _too_long(check: RowCheck) -> Column:
    # Characters (code points), as Polars' len_chars counts them, not bytes.
    value = F.col(check.column)
    return value.isNotNull() & (F.length(value) > F.lit(check.limit))


def _has_control_characters(check: RowCheck) -> Column:
    value = F.col(check.column)
    return value.isNotNull() & value.rlike(CONTROL_CHARACTERS)


# A null value passes every check but not_null: nullability is checked once, by not_null.
_FAILURE_BY_KIND = {
    "not_null": _is_null,
    "range": _out_of_range,
    # Resolved to fixed bounds by `row_checks(run_dates)`: the same comparison as range.
    "run_date_range": _out_of_range,
    "accepted_values": _not_accepted,
    "decimal_scale": _too_many_decimals,
    "max_length": _too_long,
    "control_characters": _has_control_characters,
}


def _fails(check: RowCheck) -> Column:
    return _FAILURE_BY_KIND[check.kind](check)
