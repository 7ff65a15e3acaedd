"""Onboarding a new source with no Python: an entry in a sources file and its contracts, both
named through the settings, then the pipeline takes it through Bronze to Silver.

The kind is a parameter: each kind brings the declaration of its object and a way to deliver
the records to its medium (a landing file for `file`; a table, topic or API for the others).
The new source converts amounts to USD, so the run also proves that the processing order
(FX rates first) and the derived business date come from the declarations.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import json

import psycopg
import pytest
import yaml
from pyspark.sql import functions as F

from catalog import postgres, services
from catalog.naming import BRONZE, QUARANTINE, SILVER, TableName
from catalog.settings import LakehouseSettings
from ingestion.contracts.contract import BRONZE_CONTRACTS, SILVER_CONTRACTS
from ingestion.pipeline import run_day
from ingestion.silver.entities import load_entities
from ingestion.sources.declarations import PACKAGED_SOURCES
from tests.conftest import TEST_CATALOG_PORT, own_rest_catalog

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 4, 1)
SOURCE = "supplier_invoices"
TABLE = "supplier_invoices"
COLUMNS = ("invoice_id", "supplier", "issued_at", "currency", "amount", "updated_at")
# What the source delivers, in delivery order: a correction of invoice 1, an exact
# redelivery of invoice 2, and a row whose id is not a number.
RECORDS: list[dict[str, str]] = [
    {"invoice_id": "1", "supplier": "acme", "issued_at": "2026-04-01 08:00:00", "currency": "EUR", "amount": "100.00", "updated_at": "2026-04-01 08:00:00"},
    {"invoice_id": "2", "supplier": "globex", "issued_at": "2026-04-01 09:30:00", "currency": "GBP", "amount": "20.50", "updated_at": "2026-04-01 09:30:00"},
    {"invoice_id": "3", "supplier": "initech", "issued_at": "2026-04-01 10:00:00", "currency": "USD", "amount": "7.25", "updated_at": "2026-04-01 10:00:00"},
    {"invoice_id": "1", "supplier": "acme", "issued_at": "2026-04-01 08:00:00", "currency": "EUR", "amount": "120.00", "updated_at": "2026-04-01 12:00:00"},
    {"invoice_id": "2", "supplier": "globex", "issued_at": "2026-04-01 09:30:00", "currency": "GBP", "amount": "20.50", "updated_at": "2026-04-01 09:30:00"},
    {"invoice_id": "x7", "supplier": "hooli", "issued_at": "2026-04-01 11:00:00", "currency": "EUR", "amount": "5.00", "updated_at": "2026-04-01 11:00:00"},
    {"invoice_id": "4", "supplier": "umbrella", "issued_at": "2026-04-01 23:59:59", "currency": "EUR", "amount": "0.10", "updated_at": "2026-04-01 23:59:59"},
]
MALFORMED_ID = "x7"
RATES = {"EUR": Decimal("1.1"), "GBP": Decimal("1.25")}

# The new source's entry, beyond what its kind declares.
SILVER_BLOCK = {
    "table": TABLE,
    "columns": list(COLUMNS),
    "derived": {"issue_date": "to_date(issued_at)"},
    "date_column": "issue_date",
    "fx_date_column": "issue_date",
}
# Bronze: every source column a string, then the metadata columns every Bronze table declares
# (copied from the packaged FX entry, as one onboarding a source by hand would).
_FX_BRONZE = next(table for table in yaml.safe_load(BRONZE_CONTRACTS.read_text())["tables"] if table["name"] == "fx_rates")
BRONZE_CONTRACT = {
    "name": SOURCE,
    "primary_key": ["_source_file", "_line_number"],
    "columns": [
        *({"name": name, "type": "string"} for name in COLUMNS),
        *(column for column in _FX_BRONZE["columns"] if column["name"].startswith("_")),
    ],
    "quality": {"min_score": 0.5, "severity": "warn"},
}
SILVER_CONTRACT = {
    "name": TABLE,
    "primary_key": ["invoice_id"],
    "columns": [
        {"name": "invoice_id", "type": "bigint", "nullable": False, "min": 1},
        {"name": "supplier", "type": "string", "nullable": False},
        {"name": "issue_date", "type": "date", "nullable": False, "max_days_before_run": 30, "max_days_after_run": 1},
        {"name": "issued_at", "type": "timestamp", "nullable": False, "max_days_before_run": 30, "max_days_after_run": 1},
        {"name": "currency", "type": "string", "nullable": False, "accepted_values": ["USD", "EUR", "GBP"]},
        {"name": "amount", "type": "decimal(18,2)", "nullable": False, "min": 0},
        {"name": "amount_usd", "type": "decimal(18,2)", "nullable": False, "min": 0},
        {"name": "updated_at", "type": "timestamp", "nullable": False, "max_days_before_run": 30, "max_days_after_run": 1},
    ],
    "quality": {"min_score": 0.5, "severity": "warn"},
}


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _land_file(settings: LakehouseSettings, records: list[dict[str, str]]) -> None:
    _write_csv(settings.landing_dir / SOURCE / DAY.isoformat() / "invoices.csv", COLUMNS, records)


def _insert_rows(settings: LakehouseSettings, records: list[dict[str, str]]) -> None:
    """A new table in a new database of the warehouse, as its owner would create and fill it (the id is text: a
    staging table, where the malformed id can live)."""
    with psycopg.connect(**postgres.connection_kwargs(settings, postgres.ADMIN_DATABASE), autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute("CREATE DATABASE onboarding")
    with psycopg.connect(**postgres.connection_kwargs(settings, "onboarding")) as connection:  # type: ignore[arg-type]
        connection.execute(
            "CREATE TABLE public.supplier_invoices (invoice_id text, supplier text, issued_at timestamp, currency text, "
            "amount numeric, updated_at timestamp)"
        )
        with connection.cursor().copy(f"COPY public.supplier_invoices ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for record in records:
                copy.write_row([record[column] for column in COLUMNS])


# Kind -> (what the entry declares for its object, how the records reach the medium, the raw
# text of a delivered record as Bronze keeps it).
KINDS: dict[str, tuple[dict[str, Any], Callable[[LakehouseSettings, list[dict[str, str]]], None], Callable[[dict[str, str]], str]]] = {
    "file": ({"kind": "file", "key": ["invoice_id"]}, _land_file, lambda record: ",".join(record[c] for c in COLUMNS)),
    "jdbc": (
        {
            "kind": "jdbc", "database": "onboarding", "table": "public.supplier_invoices", "key": ["invoice_id"],
            "cursor": {"column": "updated_at", "lookback_seconds": 3600},
        },
        _insert_rows,
        lambda record: json.dumps({c: record[c] for c in COLUMNS}, separators=(",", ":")),
    ),
}
# Settings of each kind's run: the real sources, and a PostgreSQL server of the test's own.
KIND_SETTINGS: dict[str, dict[str, Any]] = {
    "file": {},
    "jdbc": {"pipeline": {"sources": "real"}, "postgres": {"port": TEST_CATALOG_PORT + 85}},
}
KIND_SERVICES = {"file": [], "jdbc": ["postgres"]}


def _sources_file(path: Path, kind: str) -> Path:
    """The packaged FX source (the only one this test lands) and the new source."""
    packaged = yaml.safe_load(PACKAGED_SOURCES.read_text())["sources"]
    fx = next(source for source in packaged if source["name"] == "fx_rates")
    declared, _, _ = KINDS[kind]
    new = {"name": SOURCE, **declared, "format": "csv", "pattern": "*.csv", "silver": SILVER_BLOCK}
    path.write_text(yaml.safe_dump({"sources": [new, fx]}, sort_keys=False))  # FX listed last on purpose
    return path


def _contracts_dir(folder: Path) -> Path:
    """The packaged contract files, each with the new table added."""
    folder.mkdir()
    for packaged, table in ((BRONZE_CONTRACTS, BRONZE_CONTRACT), (SILVER_CONTRACTS, SILVER_CONTRACT)):
        contracts = yaml.safe_load(packaged.read_text())
        contracts["tables"].append(copy.deepcopy(table))
        (folder / packaged.name).write_text(yaml.safe_dump(contracts, sort_keys=False))
    return folder


def _expected_silver() -> dict[int, tuple]:
    """Latest version per invoice of the well-formed records, with its USD amount (rounded half up)."""
    latest: dict[int, dict[str, str]] = {}
    for record in RECORDS:
        if record["invoice_id"].isdigit():
            key = int(record["invoice_id"])
            if key not in latest or record["updated_at"] > latest[key]["updated_at"]:
                latest[key] = record
    expected = {}
    for key, record in latest.items():
        amount = Decimal(record["amount"])
        usd = (amount * RATES.get(record["currency"], Decimal(1))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        issued_at = dt.datetime.fromisoformat(record["issued_at"])
        expected[key] = (record["supplier"], issued_at, issued_at.date(), record["currency"], amount, usd)
    return expected


@pytest.fixture(scope="module", params=sorted(KINDS))
def onboarded(
    request, stack: LakehouseSettings, spark, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LakehouseSettings, Any, Any, str]]:
    # `stack`: Bronze's add_files names its Parquet source in the session's default catalog.
    kind = request.param
    root = tmp_path_factory.mktemp(f"onboard-{kind}")
    overrides = {
        "sources_file": _sources_file(root / "sources.yml", kind), "contracts_dir": _contracts_dir(root / "contracts"),
        **KIND_SETTINGS[kind],
    }
    with own_rest_catalog(spark, root / "home", f"onboard_{kind}", TEST_CATALOG_PORT + 80, **overrides) as settings:
        if KIND_SERVICES[kind]:
            services.up(settings, only=KIND_SERVICES[kind])
        rates = [
            {"rate_date": DAY.isoformat(), "currency": currency, "rate_to_usd": str(rate), "published_at": f"{DAY} 06:00:00"}
            for currency, rate in RATES.items()
        ]
        _write_csv(settings.landing_dir / "fx_rates" / DAY.isoformat() / "rates.csv", ("rate_date", "currency", "rate_to_usd", "published_at"), rates)
        _, deliver, _ = KINDS[kind]
        deliver(settings, RECORDS)
        first = run_day(spark, settings, DAY)
        replay = run_day(spark, settings, DAY)
        yield settings, first, replay, kind


def test_the_new_source_is_processed_after_the_fx_rates_it_converts_with(onboarded) -> None:
    settings, first, _, _ = onboarded
    assert [entity.table for entity in load_entities(settings)] == ["fx_rates", TABLE]
    assert [batch.source for batch in first.bronze] == ["fx_rates", SOURCE]


def test_bronze_keeps_every_delivered_record(onboarded, spark) -> None:
    settings, first, _, _ = onboarded
    (batch,) = [batch for batch in first.bronze if batch.source == SOURCE]
    assert batch.rows_written == len(RECORDS)
    bronze = spark.table(TableName(BRONZE, SOURCE).sql(settings)).select(*COLUMNS).collect()
    assert sorted(tuple(row) for row in bronze) == sorted(tuple(record[c] for c in COLUMNS) for record in RECORDS)


def test_silver_holds_the_latest_version_of_each_record_converted_to_usd(onboarded, spark) -> None:
    settings, _, _, _ = onboarded
    silver = spark.table(TableName(SILVER, TABLE).sql(settings))
    rows = silver.select("invoice_id", "supplier", "issued_at", "issue_date", "currency", "amount", "amount_usd").collect()
    assert {row["invoice_id"]: tuple(row)[1:] for row in rows} == _expected_silver()


def test_the_malformed_record_is_quarantined_with_its_reason(onboarded, spark) -> None:
    settings, _, _, kind = onboarded
    quarantined = spark.table(QUARANTINE.sql(settings)).where(F.col("table_name") == TABLE).collect()
    assert len(quarantined) == 1
    (row,) = quarantined
    assert f'"{MALFORMED_ID}"' not in row["reason"] and "invoice_id is not a valid bigint" in row["reason"]
    (malformed,) = [record for record in RECORDS if record["invoice_id"] == MALFORMED_ID]
    assert row["_raw_line"] == KINDS[kind][2](malformed)


def test_a_replay_adds_nothing(onboarded, spark) -> None:
    settings, first, replay, _ = onboarded
    assert [batch.rows_written for batch in replay.bronze] == [0, 0]
    assert spark.table(TableName(SILVER, TABLE).sql(settings)).count() == len(_expected_silver())
    (commit,) = [commit for commit in first.silver if TABLE in commit.table]
    assert commit.rows_quarantined == 1
