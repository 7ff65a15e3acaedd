"""The Bronze contract: the YAML matches what Bronze writes and Silver reads; findings per batch."""

from __future__ import annotations

import pytest

from catalog.settings import load_settings
from ingestion.bronze.columns import METADATA_SCHEMA
from ingestion.bronze.contract_checks import check_batch
from ingestion.contracts.contract import BRONZE_CONTRACTS, load_contracts
from ingestion.silver.entities import load_entities

ENTITIES = load_entities(load_settings())

BRONZE = load_contracts(BRONZE_CONTRACTS)
ORDERS = BRONZE.table("warehouse_orders")
ORDER_COLUMNS = [c.name for c in ORDERS.columns if not c.name.startswith("_")]


def test_every_source_silver_reads_is_declared_with_the_columns_it_reads() -> None:
    assert BRONZE.layer == "bronze"
    for entity in ENTITIES:
        declared = {c.name for c in BRONZE.table(entity.source).columns}
        assert set(entity.renamed.values()) <= declared, entity.source


@pytest.mark.parametrize("source", [entity.source for entity in ENTITIES])
def test_metadata_columns_match_what_bronze_writes(source: str) -> None:
    declared = {c.name: c.type for c in BRONZE.table(source).columns if c.name.startswith("_")}
    written = {f.name: f.dataType.simpleString() for f in METADATA_SCHEMA.fields}
    assert declared == written


def test_a_clean_batch_has_no_findings() -> None:
    findings = check_batch(ORDERS, [*ORDER_COLUMNS, "_batch_id", "_parse_error"], rows_read=100, rows_unparseable=2)
    assert findings.warnings == ()
    assert findings.dq_score == pytest.approx(0.98)


def test_drift_and_missing_columns_are_reported_not_enforced() -> None:
    columns = [c for c in ORDER_COLUMNS if c != "ship_city"] + ["coupon_code"]
    findings = check_batch(ORDERS, columns, rows_read=10, rows_unparseable=0)
    assert findings.new_columns == ("coupon_code",)
    assert [w.split(":")[0] for w in findings.warnings] == ["missing_columns", "new_columns"]
    assert "ship_city" in findings.warnings[0]


def test_a_batch_below_the_parse_threshold_is_flagged_with_its_counts() -> None:
    findings = check_batch(ORDERS, ORDER_COLUMNS, rows_read=10, rows_unparseable=3)
    assert findings.dq_score == pytest.approx(0.7)
    assert findings.warnings == ("dq_score: 3 of 10 lines unparseable, score 0.7000 below 0.9",)


def test_an_empty_batch_scores_one() -> None:
    findings = check_batch(ORDERS, [], rows_read=0, rows_unparseable=0)
    assert findings.dq_score == 1.0
    assert findings.warnings == ()
