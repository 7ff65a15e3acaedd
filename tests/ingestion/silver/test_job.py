"""The Silver job's own logic, without a catalog: the window of a catch-up batch and the
keys a batch's foreign keys are checked against (the job itself runs in the scenario tests)."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.contracts.contract import load_contracts
from ingestion.silver.job import catch_up_window, referenced_keys

DAY = dt.date(2026, 3, 10)


def test_one_day_keeps_its_window() -> None:
    assert catch_up_window(3, DAY, DAY) == 3


def test_a_catch_up_widens_the_window_by_its_span() -> None:
    # Ten landing days: a row is late only if dated 3 days before the first of them.
    assert catch_up_window(3, DAY - dt.timedelta(days=9), DAY) == 12


@pytest.fixture(scope="module")
def contracts():
    return load_contracts()


def test_a_key_not_deleted_before_a_date_is_checked_with_its_validity(spark, contracts) -> None:
    customers = spark.createDataFrame(
        [(10, "Ada", None, True)], "customer_id bigint, name string, valid_to timestamp, is_current boolean"
    )
    keys = referenced_keys(contracts.table("orders"), {"customers": customers})
    assert list(keys) == ["customer_id"]
    assert keys["customer_id"].columns == ["customer_id", "valid_to", "is_current"]


def test_a_plain_key_is_checked_against_the_referenced_column_alone(spark, contracts) -> None:
    contacts = spark.createDataFrame([("c1", "Ada")], "contact_id string, first_name string")
    keys = referenced_keys(contracts.table("crm_deals"), {"crm_contacts": contacts})
    assert list(keys) == ["contact_id"]
    assert keys["contact_id"].collect() == [("c1",)]


def test_a_table_without_foreign_keys_checks_none(contracts) -> None:
    assert referenced_keys(contracts.table("fx_rates"), {}) == {}
