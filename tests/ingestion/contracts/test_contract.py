from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.errors import ConfigError
from ingestion.contracts.contract import SILVER_CONTRACTS, RowCheck, RunDates, TableContract, load_contracts

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
        RowCheck("amount", "decimal_scale", "amount has more than 2 decimal places", limit=2),
        RowCheck("currency", "accepted_values", "currency not in accepted values", accepted_values=("USD", "EUR")),
    ]


def _table(*columns: dict) -> TableContract:
    return TableContract.model_validate(
        {
            "name": "t",
            "primary_key": ["id"],
            "columns": [{"name": "id", "type": "bigint", "nullable": False}, *columns],
            "quality": {"min_score": 1.0, "severity": "error"},
        }
    )


def test_run_date_bounds_exist_only_with_run_dates_and_span_whole_utc_days():
    table = _table(
        {"name": "day", "type": "date", "max_days_before_run": 10, "max_days_after_run": 1},
        {"name": "at", "type": "timestamp", "max_days_before_run": 10, "max_days_after_run": 1},
        {"name": "late_only", "type": "date", "max_days_after_run": 0},
    )
    # A catch-up: the lower bound counts from its first day, the upper from its last.
    run = RunDates(dt.date(2026, 1, 1), dt.date(2026, 1, 5))
    utc = dt.timezone.utc

    assert [c.kind for c in table.row_checks()] == ["not_null"]
    day, at, late_only = table.row_checks(run)[1:]
    assert day == RowCheck(
        "day", "run_date_range", "day is out of range for run date 2026-01-01..2026-01-05: allowed from 2025-12-22 to 2026-01-06",
        min=dt.date(2025, 12, 22), max=dt.date(2026, 1, 6),
    )
    assert (at.min, at.max) == (dt.datetime(2025, 12, 22, tzinfo=utc), dt.datetime(2026, 1, 6, 23, 59, 59, 999999, tzinfo=utc))
    assert at.description == "at is out of range for run date 2026-01-01..2026-01-05: allowed from 2025-12-22 to 2026-01-06"
    assert (late_only.min, late_only.max) == (None, dt.date(2026, 1, 5))
    [one_day] = table.row_checks(RunDates.of(dt.date(2026, 1, 5)))[3:]
    assert one_day.description == "late_only is out of range for run date 2026-01-05: allowed up to 2026-01-05"
    with pytest.raises(ValueError, match="the first is after the last"):
        RunDates(dt.date(2026, 1, 5), dt.date(2026, 1, 1))


def test_string_columns_get_a_length_limit_and_a_control_character_check():
    table = _table(
        {"name": "city", "type": "string"},
        {"name": "note", "type": "string", "max_length": 20},
        {"name": "code", "type": "string", "accepted_values": ["A"]},  # implies both
    )

    assert table.row_checks()[1:] == [
        RowCheck("city", "max_length", "city is longer than 1000 characters", limit=1000),
        RowCheck("city", "control_characters", "city holds control characters"),
        RowCheck("note", "max_length", "note is longer than 20 characters", limit=20),
        RowCheck("note", "control_characters", "note holds control characters"),
        RowCheck("code", "accepted_values", "code not in accepted values", accepted_values=("A",)),
    ]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"name": "n", "type": "bigint", "max_days_before_run": 1}, "applies to date or timestamp columns, not bigint"),
        ({"name": "n", "type": "date", "max_length": 5}, "applies to string columns, not date"),
        ({"name": "n", "type": "date", "max_days_after_run": -1}, "greater than or equal to 0"),
    ],
)
def test_new_column_options_must_fit_the_type(column, message):
    with pytest.raises(ValueError, match=message):
        _table(column)


def test_not_deleted_before_needs_a_dated_column_and_an_scd2_parent(tmp_path):
    dated = VALID.replace(
        "{columns: [customer_id], references: {table: customers, columns: [customer_id]}}",
        "{columns: [customer_id], references: {table: customers, columns: [customer_id]}, not_deleted_before: order_date}",
    )
    with pytest.raises(ConfigError, match="needs an SCD2 table, but customers has no valid_to and is_current"):
        load_contracts(write(tmp_path, dated))
    with pytest.raises(ConfigError, match="'amount' is not a declared date or timestamp column"):
        load_contracts(write(tmp_path, dated.replace("not_deleted_before: order_date", "not_deleted_before: amount")))
    scd2 = dated.replace(
        "      - {name: customer_id, type: bigint, nullable: false}\n",
        "      - {name: customer_id, type: bigint, nullable: false}\n"
        "      - {name: valid_to, type: timestamp}\n      - {name: is_current, type: boolean}\n",
        1,
    )
    assert load_contracts(write(tmp_path, scd2)).table("orders").foreign_keys[0].not_deleted_before == "order_date"


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
