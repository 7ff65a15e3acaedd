from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.errors import ConfigError
from ingestion.contracts.contract import SILVER_CONTRACTS, RowCheck, load_contracts

VALID = """\
layer: silver
tables:
  - name: customers
    primary_key: [customer_id]
    columns:
      - {name: customer_id, type: bigint, nullable: false}
    quality: {min_score: 1.0, severity: error}
  - name: orders
    primary_key: [order_id]
    columns:
      - {name: order_id, type: bigint, nullable: false}
      - {name: customer_id, type: bigint}
      - {name: order_date, type: date, min: 2020-01-01}
      - {name: amount, type: "decimal(18, 2)", nullable: false, min: 0, max: 1000000}
      - {name: currency, type: string, accepted_values: [USD, EUR]}
    foreign_keys:
      - {columns: [customer_id], references: {table: customers, columns: [customer_id]}}
    quality: {min_score: 0.99, severity: warn}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "silver.yml"
    path.write_text(text)
    return path


def test_the_silver_contracts_parse():
    contracts = load_contracts(SILVER_CONTRACTS)

    assert [table.name for table in contracts.tables] == [
        "customers",
        "orders",
        "crm_contacts",
        "crm_deals",
        "sessions",
        "events",
        "fx_rates",
    ]
    assert contracts.table("customers").primary_key == ["customer_id", "valid_from"]
    assert contracts.table("orders").column("amount").type == "decimal(18,2)"
    assert contracts.table("fx_rates").column("rate_to_usd").min == Decimal("0.00000001")


def test_a_valid_file_parses_into_engine_neutral_checks(tmp_path):
    orders = load_contracts(write(tmp_path, VALID)).table("orders")

    assert orders.quality.severity == "warn"
    assert orders.foreign_keys[0].references.table == "customers"
    assert orders.row_checks() == [
        RowCheck("order_id", "not_null", "order_id is null"),
        RowCheck("order_date", "range", "order_date below minimum 2020-01-01", min=dt.date(2020, 1, 1)),
        RowCheck("amount", "not_null", "amount is null"),
        RowCheck("amount", "range", "amount out of range [0, 1000000]", min=Decimal(0), max=Decimal(1000000)),
        RowCheck("currency", "accepted_values", "currency not in accepted values", accepted_values=("USD", "EUR")),
    ]


@pytest.mark.parametrize(
    ("broken", "fixed", "message"),
    [
        (
            'type: "decimal(18, 2)"',
            'type: "decimal(40, 2)"',
            "table 'orders', field 'columns[amount].type': 'decimal(40, 2)' is not a valid decimal: "
            "use decimal(p,s) with 1 <= p <= 38 and s <= p",
        ),
        (
            "type: string, accepted",
            "type: varchar, accepted",
            "table 'orders', field 'columns[currency].type': 'varchar' is not a supported type: use one of "
            "boolean, int, bigint, float, double, string, date, timestamp, decimal(p,s) with p <= 38",
        ),
        (
            "min: 0, max: 1000000",
            "min: 10, max: 1",
            "table 'orders', field 'columns[amount].min': 10 is greater than max 1: swap them",
        ),
        (
            "[USD, EUR]",
            "[USD, no]",
            "table 'orders', field 'columns[currency].accepted_values': False is not a string or an integer: "
            "quote it (YAML reads yes/no/on/off as booleans)",
        ),
        (
            "{table: customers,",
            "{table: clients,",
            "table 'orders', field 'foreign_keys[0].references.table': 'clients' is not a table of this file: "
            "use one of customers, orders",
        ),
        (
            "primary_key: [order_id]",
            "primary_key: [customer_id]",
            "table 'orders', field 'primary_key': 'customer_id' is nullable: set nullable: false on it, "
            "a primary key cannot be null",
        ),
        (
            "severity: warn",
            "severity: fatal",
            "table 'orders', field 'quality.severity': Input should be 'error' or 'warn' (got 'fatal'): fix the value",
        ),
        (
            "    quality: {min_score: 0.99, severity: warn}\n",
            "",
            "table 'orders', field 'quality': is missing: add it",
        ),
        (
            "nullable: false, min: 0",
            "nullable: false, minimum: 0",
            "table 'orders', field 'columns[amount].minimum': is not a contract field: remove it or fix its spelling",
        ),
    ],
)
def test_a_bad_file_raises_one_line_naming_file_table_and_field(tmp_path, broken, fixed, message):
    assert broken in VALID
    path = write(tmp_path, VALID.replace(broken, fixed))

    with pytest.raises(ConfigError) as raised:
        load_contracts(path)

    assert str(raised.value) == f"{path}: {message}"
    assert "\n" not in str(raised.value)


def test_broken_yaml_syntax_names_the_line(tmp_path):
    path = write(tmp_path, VALID.replace("primary_key: [order_id]", "primary_key: [order_id"))

    with pytest.raises(ConfigError, match=r"silver\.yml: not valid YAML at line \d+ .*: fix the syntax$"):
        load_contracts(path)


def test_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere\.yml: cannot read the contract file"):
        load_contracts(tmp_path / "nowhere.yml")
