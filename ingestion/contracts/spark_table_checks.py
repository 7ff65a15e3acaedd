"""The Spark side of table-level contract checks: primary key, foreign keys, quality score.

They look at the whole batch (and the tables it references), so they return
findings instead of splitting rows. The caller decides, by severity, whether
to publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Literal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ingestion.contracts.contract import ForeignKey, RunDates, TableContract
from ingestion.contracts.spark_row_checks import failed_checks, require_columns

PRIMARY_KEY_DUPLICATES = "primary_key_duplicates"
FOREIGN_KEY_ORPHANS = "foreign_key_orphans"
DQ_SCORE = "dq_score"


@dataclass(frozen=True)
class Violation:
    table: str
    check: str
    # Rows at fault: surplus rows per key, orphan rows, or rows failing a row check.
    count: int
    severity: Literal["error", "warn"]
    detail: str


def dq_score(df: DataFrame, contract: TableContract, run_dates: RunDates | None = None) -> float:
    """Share of rows passing every row check (1.0 for an empty frame: nothing failed)."""
    return _score(*_passing_and_total(df, contract, run_dates))


def table_violations(
    df: DataFrame, contract: TableContract, referenced: Mapping[str, DataFrame], run_dates: RunDates | None = None
) -> list[Violation]:
    """The failed table-level checks; `referenced` maps each table named by a foreign key to its frame.

    Key violations are always errors; the quality score uses the contract's severity.
    Without `run_dates` the score leaves out bounds relative to the run date: the
    audit of a batch re-checks rows the gate has just checked against them.
    """
    require_columns(df, contract)
    violations = []
    duplicates = _primary_key_surplus(df, contract.primary_key)
    if duplicates:
        key = ", ".join(contract.primary_key)
        violations.append(
            Violation(contract.name, PRIMARY_KEY_DUPLICATES, duplicates, "error", f"{duplicates} rows repeat a ({key}) already seen")
        )
    for foreign_key in contract.foreign_keys:
        parent_name = foreign_key.references.table
        if parent_name not in referenced:
            raise ValueError(
                f"{contract.name} has a foreign key to {parent_name} but no {parent_name} frame was given: pass it in `referenced`"
            )
        orphans = _orphan_count(df, foreign_key, referenced[parent_name])
        if orphans:
            violations.append(
                Violation(contract.name, FOREIGN_KEY_ORPHANS, orphans, "error", f"{orphans} rows have no match: {_describe(foreign_key)}")
            )
    passing, total = _passing_and_total(df, contract, run_dates)
    score = _score(passing, total)
    if score < contract.quality.min_score:
        violations.append(
            Violation(
                contract.name,
                DQ_SCORE,
                total - passing,
                contract.quality.severity,
                f"score {score:.4f} is below {contract.quality.min_score} ({passing} of {total} rows pass the row checks)",
            )
        )
    return violations


def _primary_key_surplus(df: DataFrame, primary_key: list[str]) -> int:
    """Rows beyond the first for each primary key value: what deduplication would drop."""
    surplus = df.groupBy(*primary_key).count().agg(F.sum(F.col("count") - 1).alias("surplus")).first()
    return int(surplus["surplus"] or 0) if surplus else 0


def _orphan_count(df: DataFrame, foreign_key: ForeignKey, parent: DataFrame) -> int:
    """Rows whose (fully non-null) foreign key matches no parent row; a null foreign key means no reference."""
    parent_keys = parent.select(
        *[F.col(name).alias(f"_parent_{index}") for index, name in enumerate(foreign_key.references.columns)]
    ).distinct()
    has_reference = reduce(lambda acc, name: acc & F.col(name).isNotNull(), foreign_key.columns, F.lit(True))
    matches = reduce(
        lambda acc, pair: acc & (F.col(pair[1]) == F.col(f"_parent_{pair[0]}")),
        enumerate(foreign_key.columns),
        F.lit(True),
    )
    return df.where(has_reference).join(parent_keys, on=matches, how="left_anti").count()


def _passing_and_total(df: DataFrame, contract: TableContract, run_dates: RunDates | None) -> tuple[int, int]:
    row = df.agg(
        F.count(F.lit(1)).alias("total"),
        F.count_if(failed_checks(contract, run_dates) == "").alias("passing"),
    ).first()
    return (int(row["passing"]), int(row["total"])) if row else (0, 0)


def _score(passing: int, total: int) -> float:
    return passing / total if total else 1.0


def _describe(foreign_key: ForeignKey) -> str:
    return f"({', '.join(foreign_key.columns)}) -> {foreign_key.references.table}({', '.join(foreign_key.references.columns)})"
