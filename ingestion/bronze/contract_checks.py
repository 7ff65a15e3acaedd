"""The Bronze contract, applied to one batch: reported, never enforced.

Bronze keeps every line, so nothing here can reject a row. What the contract
adds is visibility: the share of lines that parsed against the layer's threshold,
declared source columns the batch lacks, and undeclared columns it brings
(schema drift, which Silver will evolve into its table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingestion.bronze.columns import METADATA_COLUMNS
from ingestion.contracts.contract import TableContract


@dataclass(frozen=True)
class BronzeFindings:
    dq_score: float  # share of lines that parsed; 1.0 for an empty batch
    warnings: tuple[str, ...]
    new_columns: tuple[str, ...]  # source columns the contract does not declare


def check_batch(contract: TableContract, columns: Sequence[str], rows_read: int, rows_unparseable: int) -> BronzeFindings:
    declared = [c.name for c in contract.columns if c.name not in METADATA_COLUMNS]
    source_columns = [name for name in columns if name not in METADATA_COLUMNS]
    missing = [name for name in declared if name not in source_columns]
    new = tuple(name for name in source_columns if name not in declared)
    score = (rows_read - rows_unparseable) / rows_read if rows_read else 1.0
    warnings = []
    if missing and rows_read:
        warnings.append(f"missing_columns: {', '.join(missing)} (every row of the batch lacks them)")
    if new:
        warnings.append(f"new_columns: {', '.join(new)} (schema drift, carried)")
    threshold = contract.quality
    if score < threshold.min_score:
        warnings.append(f"dq_score: {rows_unparseable} of {rows_read} lines unparseable, score {score:.4f} below {threshold.min_score}")
    return BronzeFindings(dq_score=score, warnings=tuple(warnings), new_columns=new)
