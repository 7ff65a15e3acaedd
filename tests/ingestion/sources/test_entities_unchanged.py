"""The Silver entities loaded from ingestion/sources.yml are the ones the Python literals declared.

Written against the literals before they moved to YAML: the expected values below are
copied from that code, so this test proves the move changed nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from catalog.settings import LakehouseSettings
from ingestion.silver.entities import load_entities

# table: (source, keys, Silver -> Bronze columns, version, date, fx date, SCD2 tracked)
EXPECTED = {
    "fx_rates": (
        "fx_rates", ("rate_date", "currency"),
        {"rate_date": "rate_date", "currency": "currency", "rate_to_usd": "rate_to_usd", "published_at": "published_at"},
        "published_at", None, None, (),
    ),
    "customers": (
        "warehouse_customers", ("customer_id",),
        {name: name for name in ("op", "customer_id", "first_name", "last_name", "email", "country", "segment", "updated_at")},
        "updated_at", None, None, ("first_name", "last_name", "email", "country", "segment"),
    ),
    "crm_contacts": (
        "crm_contacts", ("contact_id",),
        {name: name for name in ("contact_id", "first_name", "last_name", "email", "company", "country", "created_at", "updated_at")},
        "updated_at", None, None, (),
    ),
    "crm_deals": (
        "crm_deals", ("deal_id",),
        {name: name for name in ("deal_id", "contact_id", "deal_name", "stage", "currency", "amount", "created_at", "updated_at", "closed_at")},
        "updated_at", None, "fx_date", (),
    ),
    "orders": (
        "warehouse_orders", ("order_id",),
        {name: name for name in ("order_id", "customer_id", "ordered_at", "status", "currency", "amount", "quantity", "channel", "ship_city", "updated_at")},
        "updated_at", "order_date", "order_date", (),
    ),
    "sessions": (
        "web_sessions", ("session_id",),
        {name: name for name in ("session_id", "customer_id", "started_at", "ended_at", "pages", "device", "channel")},
        "started_at", "session_date", None, (),
    ),
    "events": (
        "events", ("event_id",),
        {
            **{name: name for name in ("event_id", "event_type", "event_time", "session_id", "customer_id", "page")},
            "stream_partition": "partition", "stream_offset": "offset",
        },
        "stream_offset", "event_date", None, (),
    ),
}
# Derived column -> (input column, its value, the derived value): each derivation applied to one row.
EXPECTED_DERIVED = {
    "crm_deals": {"fx_date": ("updated_at", dt.datetime(2026, 1, 3, 23, 59, 59), dt.date(2026, 1, 3))},
    "orders": {"order_date": ("ordered_at", dt.datetime(2026, 1, 1, 0, 53, 31), dt.date(2026, 1, 1))},
    "sessions": {"session_date": ("started_at", dt.datetime(2026, 1, 2, 12, 0), dt.date(2026, 1, 2))},
    "events": {"event_date": ("event_time", dt.datetime(2026, 1, 5, 9, 21, 56), dt.date(2026, 1, 5))},
}
# The column whose day is the business date, as ingestion/lateness.py's BUSINESS_TIME_COLUMNS named it.
EXPECTED_BUSINESS_TIME = {"orders": "ordered_at", "sessions": "started_at", "events": "event_time", "fx_rates": "rate_date"}
# Dependencies first: FX before amounts, customers before orders and sessions, sessions
# before events, contacts before deals.
MUST_PRECEDE = [
    ("fx_rates", "orders"), ("fx_rates", "crm_deals"), ("customers", "orders"), ("customers", "sessions"),
    ("sessions", "events"), ("crm_contacts", "crm_deals"),
]


def loaded():
    # The packaged sources file and contracts: what a default install runs.
    return load_entities(LakehouseSettings())


def test_entities_declare_what_the_literals_did() -> None:
    entities = {entity.table: entity for entity in loaded()}
    assert entities.keys() == EXPECTED.keys()
    for table, (source, keys, renamed, version, date, fx_date, tracked) in EXPECTED.items():
        entity = entities[table]
        assert (entity.source, entity.keys, dict(entity.renamed)) == (source, keys, renamed), table
        assert list(entity.renamed) == list(renamed), f"{table}: column order"
        assert (entity.version_column, entity.date_column, entity.fx_date_column, entity.scd2_tracked) == (
            version, date, fx_date, tracked
        ), table
        assert set(entity.derived) == set(EXPECTED_DERIVED.get(table, {})), table
        assert entity.business_time_column == EXPECTED_BUSINESS_TIME.get(table), table


def test_processing_order_puts_dependencies_first() -> None:
    order = [entity.table for entity in loaded()]
    for parent, child in MUST_PRECEDE:
        assert order.index(parent) < order.index(child), f"{parent} must come before {child}: {order}"


@pytest.mark.parametrize("table", sorted(EXPECTED_DERIVED))
def test_derived_columns_compute_what_they_did(spark, table: str) -> None:
    entity = {entity.table: entity for entity in loaded()}[table]
    for column, (source_column, value, expected) in EXPECTED_DERIVED[table].items():
        row = spark.createDataFrame([(value,)], f"{source_column} timestamp")
        assert row.select(F.expr(entity.derived[column]).alias(column)).first()[0] == expected
