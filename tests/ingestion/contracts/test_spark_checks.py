from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.testing import assertDataFrameEqual

from ingestion.contracts.contract import SchemaMismatchError
from ingestion.contracts.spark_row_checks import split_rows
from ingestion.contracts.spark_table_checks import Violation, dq_score, table_violations
from tests.ingestion.contracts.sample_contract import ORDERS

SCHEMA = "order_id bigint, customer_id bigint, amount decimal(18,2), currency string"


def test_split_rows_names_every_failed_check_and_loses_no_row(spark):
    rows = spark.createDataFrame(
        [
            (1, 10, Decimal("10.00"), "USD"),
            (2, 10, Decimal("-1.00"), "GBP"),
            (None, 10, Decimal("5.00"), "EUR"),
            (4, 10, None, None),
            (5, None, Decimal("1000000.00"), "EUR"),
            (6, 10, Decimal("1000000.01"), "EUR"),
        ],
        SCHEMA,
    )

    accepted, quarantined = split_rows(rows, ORDERS)

    assertDataFrameEqual(
        accepted, spark.createDataFrame([(1, 10, Decimal("10.00"), "USD"), (5, None, Decimal("1000000.00"), "EUR")], SCHEMA)
    )
    assertDataFrameEqual(
        quarantined,
        spark.createDataFrame(
            [
                (2, 10, Decimal("-1.00"), "GBP", "amount out of range [0, 1000000]; currency not in accepted values"),
                (None, 10, Decimal("5.00"), "EUR", "order_id is null"),
                (4, 10, None, None, "currency is null"),
                (6, 10, Decimal("1000000.01"), "EUR", "amount out of range [0, 1000000]"),
            ],
            f"{SCHEMA}, _quarantine_reason string",
        ),
    )
    assert (rows.count(), accepted.count(), quarantined.count()) == (6, 2, 4)


def test_split_rows_refuses_data_missing_a_contract_column(spark):
    rows = spark.createDataFrame([(1, 10, Decimal("1.00"))], "order_id bigint, customer_id bigint, amount decimal(18,2)")

    with pytest.raises(SchemaMismatchError, match="orders lacks contract column\\(s\\) currency"):
        split_rows(rows, ORDERS)


def test_table_violations_count_duplicates_orphans_and_the_score(spark):
    customers = spark.createDataFrame([(10,), (11,)], "customer_id bigint")
    rows = spark.createDataFrame(
        [
            (1, 10, Decimal("1.00"), "USD"),
            (1, 10, Decimal("2.00"), "USD"),
            (2, 11, Decimal("1.00"), "USD"),
            (2, 99, Decimal("1.00"), "USD"),
            (2, 98, Decimal("-1.00"), "USD"),
            (3, None, Decimal("1.00"), "XXX"),
        ],
        SCHEMA,
    )

    violations = table_violations(rows, ORDERS, {"customers": customers})

    assert violations == [
        Violation("orders", "primary_key_duplicates", 3, "error", "3 rows repeat a (order_id) already seen"),
        Violation(
            "orders", "foreign_key_orphans", 2, "error", "2 rows have no match: (customer_id) -> customers(customer_id)"
        ),
        Violation("orders", "dq_score", 2, "warn", "score 0.6667 is below 0.9 (4 of 6 rows pass the row checks)"),
    ]
    assert dq_score(rows, ORDERS) == pytest.approx(4 / 6)


def test_a_clean_table_has_no_violations(spark):
    customers = spark.createDataFrame([(10,)], "customer_id bigint")
    rows = spark.createDataFrame([(1, 10, Decimal("1.00"), "USD"), (2, None, Decimal("3.00"), "EUR")], SCHEMA)

    assert table_violations(rows, ORDERS, {"customers": customers}) == []
    assert dq_score(rows.limit(0), ORDERS) == 1.0


def test_a_foreign_key_without_its_referenced_frame_is_an_error_not_a_pass(spark):
    rows = spark.createDataFrame([(1, 10, Decimal("1.00"), "USD")], SCHEMA)

    with pytest.raises(ValueError, match="no customers frame was given"):
        table_violations(rows, ORDERS, {})
