from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from pyspark.testing import assertDataFrameEqual
from sqlglot import exp

from ingestion.silver.scd2 import apply_scd2_merge, rejected_changes, scd2_merge_sql, scd2_merge_source

DIMENSION = "customer_id bigint, email string, segment string, valid_from timestamp, valid_to timestamp, is_current boolean"
CHANGES = "customer_id bigint, email string, segment string, updated_at timestamp, op string"
MERGE_SOURCE = f"merge_key bigint, {DIMENSION}"
TRACKED = ["email", "segment"]

JAN_1 = dt.datetime(2024, 1, 1)
FEB_1 = dt.datetime(2024, 2, 1)
MAR_1 = dt.datetime(2024, 3, 1)


@pytest.fixture
def dimension(spark):
    return spark.createDataFrame(
        [
            (1, "ann@example.com", "smb", JAN_1, None, True),
            (2, "bob@example.com", "consumer", JAN_1, None, True),
        ],
        DIMENSION,
    )


def merge(spark, dimension, changes):
    incoming = spark.createDataFrame(changes, CHANGES)
    source = scd2_merge_source(dimension, incoming, key="customer_id", tracked=TRACKED)
    return source, apply_scd2_merge(dimension, source, key="customer_id", tracked=TRACKED)


def test_a_tracked_change_closes_the_old_version_and_opens_a_new_one(spark, dimension):
    source, merged = merge(spark, dimension, [(1, "ann@example.com", "enterprise", FEB_1, "U")])

    assertDataFrameEqual(
        source,
        spark.createDataFrame(
            [
                (1, 1, "ann@example.com", "smb", JAN_1, FEB_1, False),
                (None, 1, "ann@example.com", "enterprise", FEB_1, None, True),
            ],
            MERGE_SOURCE,
        ),
    )
    assertDataFrameEqual(
        merged,
        spark.createDataFrame(
            [
                (1, "ann@example.com", "smb", JAN_1, FEB_1, False),
                (1, "ann@example.com", "enterprise", FEB_1, None, True),
                (2, "bob@example.com", "consumer", JAN_1, None, True),
            ],
            DIMENSION,
        ),
    )


def test_an_unchanged_redelivery_is_a_no_op(spark, dimension):
    source, merged = merge(
        spark,
        dimension,
        [(2, "bob@example.com", "consumer", FEB_1, "U"), (2, "bob@example.com", "consumer", JAN_1, "I")],
    )

    assert source.count() == 0
    assertDataFrameEqual(merged, dimension)


def test_a_delete_closes_the_current_version_and_opens_none(spark, dimension):
    source, merged = merge(spark, dimension, [(2, None, None, FEB_1, "D")])

    assertDataFrameEqual(
        source, spark.createDataFrame([(2, 2, "bob@example.com", "consumer", JAN_1, FEB_1, False)], MERGE_SOURCE)
    )
    assertDataFrameEqual(
        merged,
        spark.createDataFrame(
            [(1, "ann@example.com", "smb", JAN_1, None, True), (2, "bob@example.com", "consumer", JAN_1, FEB_1, False)],
            DIMENSION,
        ),
    )


def test_several_changes_in_one_batch_keep_every_version_and_new_keys_are_inserted(spark, dimension):
    _, merged = merge(
        spark,
        dimension,
        [
            (1, "ann@new.example.com", "smb", MAR_1, "U"),
            (1, "ann@example.com", "enterprise", FEB_1, "U"),
            (3, "cy@example.com", "consumer", FEB_1, "I"),
        ],
    )

    assertDataFrameEqual(
        merged,
        spark.createDataFrame(
            [
                (1, "ann@example.com", "smb", JAN_1, FEB_1, False),
                (1, "ann@example.com", "enterprise", FEB_1, MAR_1, False),
                (1, "ann@new.example.com", "smb", MAR_1, None, True),
                (2, "bob@example.com", "consumer", JAN_1, None, True),
                (3, "cy@example.com", "consumer", FEB_1, None, True),
            ],
            DIMENSION,
        ),
    )


def test_a_deleted_key_can_come_back(spark):
    deleted = spark.createDataFrame([(2, "bob@example.com", "consumer", JAN_1, FEB_1, False)], DIMENSION)

    _, merged = merge(spark, deleted, [(2, "bob@example.com", "consumer", MAR_1, "I")])

    assertDataFrameEqual(
        merged,
        spark.createDataFrame(
            [
                (2, "bob@example.com", "consumer", JAN_1, FEB_1, False),
                (2, "bob@example.com", "consumer", MAR_1, None, True),
            ],
            DIMENSION,
        ),
    )


def test_late_changes_are_rejected_with_a_reason_not_applied(spark, dimension):
    late = [
        (1, "ann@old.example.com", "smb", dt.datetime(2023, 12, 1), "U"),
        (2, "bob@example.com", "enterprise", JAN_1, "U"),
        (2, "bob@example.com", "consumer", FEB_1, "X"),
    ]
    incoming = spark.createDataFrame(late, CHANGES)

    source = scd2_merge_source(dimension, incoming, key="customer_id", tracked=TRACKED)
    rejected = rejected_changes(dimension, incoming, key="customer_id", tracked=TRACKED)

    assert source.count() == 0
    assertDataFrameEqual(
        rejected,
        spark.createDataFrame(
            [
                (1, "ann@old.example.com", "smb", dt.datetime(2023, 12, 1), "U", "late: older than the key's latest version"),
                (2, "bob@example.com", "enterprise", JAN_1, "U", "late: differs from the key's latest version at the same instant"),
                (2, "bob@example.com", "consumer", FEB_1, "X", "op is not I, U or D"),
            ],
            f"{CHANGES}, _rejection_reason string",
        ),
    )


def test_merge_sql_quotes_names_and_parses_back():
    sql = scd2_merge_sql(
        exp.table_("dim customers", db="silver", catalog="iceberg", quoted=True),
        exp.table_("scd2_source", quoted=True),
        key="customer`id",
        tracked=["e-mail"],
    )

    assert sql == (
        "MERGE INTO `iceberg`.`silver`.`dim customers` AS t USING `scd2_source` AS s "
        "ON `t`.`customer``id` = `s`.`merge_key` AND `t`.`is_current` = TRUE "
        "WHEN MATCHED THEN UPDATE SET `t`.`valid_to` = `s`.`valid_to`, `t`.`is_current` = `s`.`is_current` "
        "WHEN NOT MATCHED AND `s`.`merge_key` IS NULL THEN INSERT "
        "(`customer``id`, `e-mail`, `valid_from`, `valid_to`, `is_current`) "
        "VALUES (`s`.`customer``id`, `s`.`e-mail`, `s`.`valid_from`, `s`.`valid_to`, `s`.`is_current`)"
    )
    parsed = sqlglot.parse_one(sql, read="spark")
    assert isinstance(parsed, exp.Merge)
    assert parsed.this.name == "dim customers"
    inserted = [column.name for column in parsed.args["whens"].expressions[1].args["then"].this.expressions]
    assert inserted == ["customer`id", "e-mail", "valid_from", "valid_to", "is_current"]
