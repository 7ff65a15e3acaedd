"""The Polars side of contract checks: the Spark gate's verdicts, without a JVM.

Pure functions on Polars LazyFrames, mirroring `spark_row_checks` and
`spark_table_checks` check for check: the same failure descriptions joined by
the same `; `, nulls passing range and accepted-values checks, the primary-key
surplus (rows beyond the first per key), foreign-key orphans (a null foreign
key is no reference) and the DQ score.

Verdicts and severities, so that "failed with severity error" means exactly
what makes the Spark gate refuse a batch:

- Row checks (`not_null`, `range`, `run_date_range`, `accepted_values`,
  `decimal_scale`, `max_length`, `control_characters`) are reported one by one
  with their failing-row counts, as `warn`: the pipeline quarantines such rows
  rather than failing, and the contract tolerates them up to its quality score.
- `dq_score` is the share of rows passing every row check (1.0 for an empty
  table); below `quality.min_score` it fails with the contract's severity, and
  its failing-row count is the rows failing any row check.
- `primary_key_duplicates` and `foreign_key_orphans` are always `error`.
- `freshness` is checked only when a maximum age is given: the newest value of
  the table's timestamp column (`updated_at`, `published_at`, the version column
  `valid_from`, or Bronze's `_ingested_at`, first one present) older than
  `max_age_hours` fails as `error`, because asking for a maximum age is asking
  the gate to enforce it. Its failing-row count is every row (the newest is
  stale, so all are). An empty table, or one with no such column, fails it too:
  freshness cannot be shown. Naive timestamps are read as UTC.

Bounds relative to the run date need a run date, which a table at rest does not
have. `split_rows`, `failed_checks` and `dq_score` check them only when given
`run_dates`, as the Spark gate does. `check_table` always checks them: against
the `run_dates` its caller gives (`lakehouse validate` reads them from the
`lakehouse.run-date` of the snapshots behind the one it checks, the first and the
last, as a catch-up batch covering them all would), else against today (UTC).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import polars as pl

from ingestion.contracts.contract import CONTROL_CHARACTERS, ForeignKey, RowCheck, RunDates, SchemaMismatchError, TableContract

QUARANTINE_REASON = "_quarantine_reason"
REASON_SEPARATOR = "; "
PRIMARY_KEY_DUPLICATES = "primary_key_duplicates"
FOREIGN_KEY_ORPHANS = "foreign_key_orphans"
DQ_SCORE = "dq_score"
FRESHNESS = "freshness"
# Timestamp columns that say when a row was last true, in order of preference.
FRESHNESS_COLUMNS = ("updated_at", "published_at", "valid_from", "_ingested_at")
SAMPLE_ROWS = 5

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    column: str
    passed: bool
    failing_rows: int
    severity: Severity
    description: str


@dataclass(frozen=True)
class Freshness:
    column: str
    latest: dt.datetime | None
    age_hours: float | None


@dataclass(frozen=True)
class TableResult:
    table: str
    rows: int
    score: float
    checks: list[CheckResult]
    # Up to SAMPLE_ROWS rows failing a row check, with their QUARANTINE_REASON.
    sample: pl.DataFrame
    freshness: Freshness | None
    primary_key: tuple[str, ...] = ()
    snapshot_id: int | None = field(default=None)

    @property
    def passed(self) -> bool:
        """False when any error-severity check failed: what stops a publish, and the CLI's exit code."""
        return not any(not check.passed and check.severity == "error" for check in self.checks)


def require_columns(schema: pl.Schema, contract: TableContract) -> None:
    """Fail on a column the contract declares but the data lacks, rather than failing every row."""
    missing = [column.name for column in contract.columns if column.name not in schema]
    if missing:
        raise SchemaMismatchError(
            f"{contract.name} lacks contract column(s) {', '.join(missing)}: "
            "fix the transform that builds it, or the contract if the column was dropped on purpose"
        )


def row_failure(check: RowCheck, dtype: pl.DataType) -> pl.Expr:
    """True where the row fails `check`; never null (a null value passes range and accepted values)."""
    value = pl.col(check.column)
    if check.kind == "not_null":
        return value.is_null()
    if check.kind in ("range", "run_date_range"):
        below = value < _literal(check.min, dtype) if check.min is not None else pl.lit(False)
        above = value > _literal(check.max, dtype) if check.max is not None else pl.lit(False)
        return value.is_not_null() & (below | above).fill_null(False)
    if check.kind == "decimal_scale":
        narrow_enough = (isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= check.limit) or dtype.is_integer()
        if narrow_enough:
            return pl.lit(False)
        return value.is_not_null() & (value != value.round(check.limit)).fill_null(False)
    if check.kind == "max_length":
        # Characters (code points), as Spark's length counts them, not bytes.
        return value.is_not_null() & (value.str.len_chars() > check.limit).fill_null(False)
    if check.kind == "control_characters":
        return value.is_not_null() & value.str.contains(CONTROL_CHARACTERS).fill_null(False)
    return value.is_not_null() & ~value.is_in(list(check.accepted_values)).fill_null(False)


def failed_checks(contract: TableContract, schema: pl.Schema, run_dates: RunDates | None = None) -> pl.Expr:
    """The descriptions of the row's failed checks, `; `-separated; "" when it passes them all."""
    failures = [
        pl.when(row_failure(check, schema[check.column])).then(pl.lit(check.description))
        for check in contract.row_checks(run_dates)
    ]
    if not failures:
        return pl.lit("")
    # ignore_nulls skips passed checks, as Spark's concat_ws does, and gives "" for none.
    return pl.concat_str(failures, separator=REASON_SEPARATOR, ignore_nulls=True)


def split_rows(
    lf: pl.LazyFrame, contract: TableContract, run_dates: RunDates | None = None
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(accepted, quarantined), as the Spark gate's `split_rows`: quarantined rows carry QUARANTINE_REASON."""
    schema = lf.collect_schema()
    require_columns(schema, contract)
    checked = lf.with_columns(failed_checks(contract, schema, run_dates).alias(QUARANTINE_REASON))
    passed = pl.col(QUARANTINE_REASON) == ""
    return checked.filter(passed).select(schema.names()), checked.filter(~passed)


def row_check_counts(lf: pl.LazyFrame, contract: TableContract, run_dates: RunDates | None = None) -> pl.LazyFrame:
    """One row: `total`, `passing` (rows passing every row check) and one failing-row count per row check."""
    schema = lf.collect_schema()
    require_columns(schema, contract)
    failures = [row_failure(check, schema[check.column]) for check in contract.row_checks(run_dates)]
    # The same rows as `failed_checks(...) == ""`, without building a reason string per row.
    passes_all = ~pl.any_horizontal(failures) if failures else pl.lit(True)
    return lf.select(
        pl.len().cast(pl.Int64).alias("total"),
        passes_all.sum().cast(pl.Int64).alias("passing"),
        *[failure.sum().cast(pl.Int64).alias(f"check_{index}") for index, failure in enumerate(failures)],
    )


def dq_score(lf: pl.LazyFrame, contract: TableContract, run_dates: RunDates | None = None) -> float:
    """Share of rows passing every row check (1.0 for an empty frame: nothing failed)."""
    counts = row_check_counts(lf, contract, run_dates).collect().row(0, named=True)
    return _score(counts["passing"], counts["total"])


def primary_key_surplus(lf: pl.LazyFrame, primary_key: Sequence[str]) -> pl.LazyFrame:
    """One row, `surplus`: rows beyond the first per key value (nulls group together, as in Spark)."""
    return lf.group_by(list(primary_key)).len().select((pl.col("len").cast(pl.Int64) - 1).sum().alias("surplus"))


def orphans(lf: pl.LazyFrame, foreign_key: ForeignKey, parent: pl.LazyFrame) -> pl.LazyFrame:
    """Rows whose (fully non-null) foreign key matches no parent row, as a lazy anti-join."""
    schema = lf.collect_schema()
    parent_keys = parent.select(
        pl.col(name).cast(schema[child]).alias(f"_parent_{index}")
        for index, (child, name) in enumerate(zip(foreign_key.columns, foreign_key.references.columns))
    ).unique()
    has_reference = pl.all_horizontal(pl.col(name).is_not_null() for name in foreign_key.columns)
    return lf.filter(has_reference).join(
        parent_keys,
        left_on=list(foreign_key.columns),
        right_on=[f"_parent_{index}" for index in range(len(foreign_key.columns))],
        how="anti",
    )


def check_table(
    lf: pl.LazyFrame,
    contract: TableContract,
    referenced: Mapping[str, pl.LazyFrame] | None = None,
    *,
    max_age_hours: float | None = None,
    now: dt.datetime | None = None,
    table: str | None = None,
    run_dates: RunDates | None = None,
) -> TableResult:
    """Every check of `contract` on `lf`; `referenced` maps each table named by a foreign key to its frame.

    Bounds relative to the run date are checked against `run_dates`, else against today (UTC).
    """
    referenced = referenced or {}
    now = now or dt.datetime.now(dt.timezone.utc)
    run_dates = run_dates or RunDates.of(now.astimezone(dt.timezone.utc).date())
    schema = lf.collect_schema()
    require_columns(schema, contract)
    for foreign_key in contract.foreign_keys:
        if foreign_key.references.table not in referenced:
            raise ValueError(
                f"{contract.name} has a foreign key to {foreign_key.references.table} but no "
                f"{foreign_key.references.table} frame was given: pass it in `referenced`"
            )
    freshness_column = next((name for name in FRESHNESS_COLUMNS if isinstance(schema.get(name), pl.Datetime)), None)
    row_checks = contract.row_checks(run_dates)
    _, quarantined = split_rows(lf, contract, run_dates)
    queries = [
        row_check_counts(lf, contract, run_dates),
        primary_key_surplus(lf, contract.primary_key),
        quarantined.head(SAMPLE_ROWS),
        *[orphans(lf, fk, referenced[fk.references.table]).select(pl.len().cast(pl.Int64)) for fk in contract.foreign_keys],
    ]
    if freshness_column:
        queries.append(lf.select(pl.col(freshness_column).max()))
    # Streaming, one query at a time: each reads only its own columns, in batches, so the
    # peak is one query's state (the primary-key hash table), not the table. `collect_all`
    # would read a shared scan once, but by caching all its columns in memory first:
    # 2 GiB for 10M Silver orders (benchmarks/RESULTS.md, validation engines).
    counts, surplus, sample, *rest = [query.collect(engine="streaming") for query in queries]
    orphan_counts = [frame.item() for frame in rest[: len(contract.foreign_keys)]]
    totals = counts.row(0, named=True)
    total, passing = totals["total"], totals["passing"]
    score = _score(passing, total)

    checks = [
        CheckResult(check.kind, check.column, totals[f"check_{i}"] == 0, totals[f"check_{i}"], "warn", check.description)
        for i, check in enumerate(row_checks)
    ]
    duplicates = int(surplus.item() or 0)
    key = ", ".join(contract.primary_key)
    checks.append(
        CheckResult(PRIMARY_KEY_DUPLICATES, key, duplicates == 0, duplicates, "error", f"{duplicates} rows repeat a ({key}) already seen")
    )
    for foreign_key, count in zip(contract.foreign_keys, orphan_counts):
        checks.append(
            CheckResult(FOREIGN_KEY_ORPHANS, _describe(foreign_key), count == 0, count, "error", f"{count} rows have no match: {_describe(foreign_key)}")
        )
    checks.append(
        CheckResult(
            DQ_SCORE,
            "",
            score >= contract.quality.min_score,
            total - passing,
            contract.quality.severity,
            f"score {score:.4f} against minimum {contract.quality.min_score} ({passing} of {total} rows pass the row checks)",
        )
    )
    freshness = None
    if freshness_column:
        latest = _as_utc(rest[-1].item())
        age = (now - latest).total_seconds() / 3600 if latest else None
        freshness = Freshness(freshness_column, latest, age)
    if max_age_hours is not None:
        checks.append(_freshness_check(freshness, max_age_hours, total))
    return TableResult(table or contract.name, total, score, checks, sample, freshness, tuple(contract.primary_key))


def _freshness_check(freshness: Freshness | None, max_age_hours: float, total: int) -> CheckResult:
    if freshness is None:
        return CheckResult(
            FRESHNESS, "", False, 0, "error", f"no timestamp column ({', '.join(FRESHNESS_COLUMNS)}) to judge freshness by"
        )
    if freshness.age_hours is None:
        return CheckResult(FRESHNESS, freshness.column, False, 0, "error", f"no {freshness.column} value: the table is empty")
    stale = freshness.age_hours > max_age_hours
    return CheckResult(
        FRESHNESS,
        freshness.column,
        not stale,
        total if stale else 0,
        "error",
        f"newest {freshness.column} {freshness.latest:%Y-%m-%d %H:%M}Z is {freshness.age_hours:.1f} h old (max {max_age_hours:g} h)",
    )


def _literal(bound: object, dtype: pl.DataType) -> pl.Expr:
    """The bound as a literal comparable with the column, as Spark would coerce it."""
    if isinstance(bound, Decimal) and dtype.is_float():
        return pl.lit(float(bound))
    if isinstance(bound, Decimal) and dtype.is_integer() and bound == bound.to_integral_value():
        return pl.lit(int(bound))
    if isinstance(bound, dt.datetime) and isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            # Naive Iceberg `timestamp` columns hold UTC wall time.
            return pl.lit(bound.astimezone(dt.timezone.utc).replace(tzinfo=None))
        return pl.lit(bound).dt.convert_time_zone(dtype.time_zone)
    return pl.lit(bound)


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _score(passing: int, total: int) -> float:
    return passing / total if total else 1.0


def _describe(foreign_key: ForeignKey) -> str:
    return f"({', '.join(foreign_key.columns)}) -> {foreign_key.references.table}({', '.join(foreign_key.references.columns)})"
