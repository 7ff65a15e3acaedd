"""Schema drift on a real Iceberg table: additive and widening changes evolve, others stop."""

from __future__ import annotations

import pytest

from ingestion.silver.publish import IncompatibleSchemaChange, evolve_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def drift_table(stack, spark) -> str:
    name = "iceberg.silver.drift_probe"
    spark.sql("CREATE NAMESPACE IF NOT EXISTS iceberg.silver")
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    spark.sql(f"CREATE TABLE {name} (id INT, amount FLOAT, note STRING) USING iceberg")
    return name


def test_new_column_is_added_and_numbers_widen(drift_table, spark) -> None:
    incoming = spark.createDataFrame([], "id bigint, amount double, note string, coupon_code string")
    changes = evolve_schema(spark, drift_table, incoming)
    assert [str(change) for change in changes] == [
        "widened id int -> bigint", "widened amount float -> double", "added coupon_code string"
    ]
    assert (changes[2].column, changes[2].old_type, changes[2].new_type) == ("coupon_code", None, "string")
    types = {f.name: f.dataType.simpleString() for f in spark.table(drift_table).schema.fields}
    assert types == {"id": "bigint", "amount": "double", "note": "string", "coupon_code": "string"}
    assert evolve_schema(spark, drift_table, incoming) == []  # a replay changes nothing


def test_incompatible_type_change_stops_with_one_line(drift_table, spark) -> None:
    incoming = spark.createDataFrame([], "id string, amount float, note string")
    with pytest.raises(IncompatibleSchemaChange) as error:
        evolve_schema(spark, drift_table, incoming)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("iceberg.silver.drift_probe.id changed from int to string: not a safe widening")
    assert {f.name: f.dataType.simpleString() for f in spark.table(drift_table).schema.fields}["id"] == "int"
