"""`lakehouse smoke`'s round trip on the real services: Spark writes one table, Trino and PyIceberg read it back."""

from __future__ import annotations

import pytest

from lakehouse.round_trip import run

pytestmark = pytest.mark.integration


def test_spark_trino_and_pyiceberg_agree_on_one_table(stack, spark) -> None:
    messages: list[str] = []
    result = run(stack, report=messages.append)
    assert (result.written, result.read_by_trino, result.read_by_pyiceberg) == (3, 3, 3)
    assert result.table == "`iceberg`.`silver`.`runtime_smoke`"
    assert messages == ["Spark writes 3 rows to `iceberg`.`silver`.`runtime_smoke`", "Trino reads it back", "PyIceberg reads it back"]
