"""Table names in every form the engines, PyIceberg and the records take, from `catalog.naming`."""

from __future__ import annotations

import pytest

from catalog.naming import BRONZE, OPS, QUARANTINE, SILVER, TableName, namespace_qualified, namespace_sql, procedure_sql
from catalog.settings import load_settings

ORDERS = TableName(SILVER, "orders")


@pytest.fixture
def lake(tmp_path):
    return load_settings(home=tmp_path, catalog={"name": "lake"})


def test_each_engine_gets_the_catalog_qualified_quoted_name(lake) -> None:
    assert ORDERS.sql(lake) == "`lake`.`silver`.`orders`"
    assert ORDERS.sql(lake, "trino") == '"lake"."silver"."orders"'
    assert ORDERS.expression(lake).sql("spark") == ORDERS.sql(lake)
    assert ORDERS.metadata_sql(lake, "refs") == "`lake`.`silver`.`orders`.`refs`"
    assert TableName(SILVER, "orders$files").sql(lake, "trino") == '"lake"."silver"."orders$files"'


def test_pyiceberg_users_and_records_get_the_plain_forms(lake) -> None:
    assert ORDERS.identifier == ("silver", "orders")
    assert ORDERS.qualified(lake) == "lake.silver.orders"
    assert str(TableName(BRONZE, "warehouse_orders")) == "bronze.warehouse_orders"
    assert str(QUARANTINE) == "silver.quarantine"


def test_namespaces_and_procedures(lake) -> None:
    assert namespace_sql(lake, OPS) == "`lake`.`ops`"
    assert namespace_sql(lake, OPS, "trino") == '"lake"."ops"'
    assert namespace_qualified(lake, BRONZE) == "lake.bronze"
    assert procedure_sql(lake, "add_files") == "`lake`.`system`.`add_files`"


def test_a_name_that_needs_quotes_gets_them_in_every_form(lake) -> None:
    odd = TableName(SILVER, "orders v2")
    assert odd.sql(lake) == "`lake`.`silver`.`orders v2`"
    assert str(odd) == "silver.`orders v2`"
    assert TableName.from_sql(str(odd)) == odd


@pytest.mark.parametrize("name", ["`iceberg`.`silver`.`orders`", "iceberg.silver.orders", "silver.orders", "`silver`.orders"])
def test_every_form_a_stage_reports_reads_back_as_one_table(name: str) -> None:
    assert TableName.from_sql(name) == ORDERS
    assert str(TableName.from_sql(name)) == "silver.orders"


def test_a_bare_name_needs_its_namespace() -> None:
    assert TableName.from_sql("warehouse_orders", BRONZE) == TableName(BRONZE, "warehouse_orders")
    assert TableName.from_sql("silver.orders", BRONZE) == ORDERS  # a name's own namespace wins
    with pytest.raises(ValueError, match="names no namespace"):
        TableName.from_sql("warehouse_orders")
