"""The sources file: what it declares, the one-line errors, and the override through the settings (no Spark)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.errors import ConfigError
from catalog.settings import LakehouseSettings, load_settings
from ingestion.bronze.errors import BronzeError
from ingestion.bronze.source_formats import LandingFormat, source_delivery
from ingestion.contracts.contract import SILVER_CONTRACTS, contracts_path
from ingestion.silver.entities import load_entities
from ingestion.sources.declarations import (
    PACKAGED_SOURCES,
    Cursor,
    FileSource,
    HttpSource,
    JdbcSource,
    KafkaSource,
    load_sources,
    read_sources,
)

PACKAGED: dict[str, Any] = yaml.safe_load(PACKAGED_SOURCES.read_text())


def _sources() -> list[dict[str, Any]]:
    return copy.deepcopy(PACKAGED["sources"])


def _write(path: Path, sources: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"sources": sources}, sort_keys=False))
    return path


def _named(sources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(source for source in sources if source["name"] == name)


def _error(tmp_path: Path, sources: list[dict[str, Any]]) -> str:
    path = _write(tmp_path / "sources.yml", sources)
    with pytest.raises(ConfigError) as raised:
        read_sources(path)
    message = str(raised.value)
    assert "\n" not in message, "one line"
    assert message.startswith(f"{path}: "), "names the file"
    return message.removeprefix(f"{path}: ")


def test_the_packaged_file_declares_the_seven_demo_sources_with_their_real_kinds() -> None:
    sources = load_sources(LakehouseSettings())
    assert {name: source.kind for name, source in sources.items()} == {
        "fx_rates": "file",
        "warehouse_customers": "jdbc",
        "crm_contacts": "http",
        "crm_deals": "http",
        "warehouse_orders": "jdbc",
        "web_sessions": "jdbc",
        "events": "kafka",
    }
    orders, customers, sessions = sources["warehouse_orders"], sources["warehouse_customers"], sources["web_sessions"]
    assert isinstance(orders, JdbcSource) and isinstance(customers, JdbcSource) and isinstance(sessions, JdbcSource)
    assert (orders.database, orders.table, orders.key, orders.cursor.column) == ("warehouse", "public.orders", ("order_id",), "updated_at")
    assert orders.cursor.lookback_seconds > 0 and orders.partitions > 1 and orders.partition_column == "order_id"
    assert (customers.database, customers.table) == ("warehouse", "public.customer_changes")
    assert (sessions.database, sessions.table, sessions.cursor.column) == ("behaviour", "public.sessions", "started_at")
    events = sources["events"]
    assert isinstance(events, KafkaSource) and (events.topic, events.key, events.value_format) == ("events", ("event_id",), "json")
    for name, object_type, modified in (("crm_contacts", "contacts", "lastmodifieddate"), ("crm_deals", "deals", "hs_lastmodifieddate")):
        crm = sources[name]
        assert isinstance(crm, HttpSource) and (crm.object_type, crm.cursor_property) == (object_type, modified)
    assert isinstance(sources["fx_rates"], FileSource)


def test_every_source_declares_its_landing_files_and_the_registry_reads_them() -> None:
    settings = LakehouseSettings()
    formats = {name: (source.format, source.pattern) for name, source in load_sources(settings).items()}
    jsonl, csv = (LandingFormat.JSON_LINES, "*.jsonl"), (LandingFormat.CSV, "*.csv")
    assert formats == {
        "fx_rates": csv, "warehouse_customers": csv, "crm_contacts": jsonl, "crm_deals": jsonl,
        "warehouse_orders": csv, "web_sessions": csv, "events": jsonl,
    }
    assert {name: (d.format, d.pattern) for name in formats for d in [source_delivery(settings, name)]} == formats


def test_connectors_can_build_a_bare_source_with_the_shared_field_names() -> None:
    """The connectors' tests build sources in code: no landing files, no Silver block needed."""
    jdbc = JdbcSource(
        name="orders_probe", database="warehouse", table="public.orders", key=("order_id",),
        cursor=Cursor(column="updated_at", lookback_seconds=60), partitions=2, partition_column="order_id",
    )
    kafka = KafkaSource(name="events_probe", topic="events", key=("event_id",))
    http = HttpSource(name="contacts_probe", object_type="contacts", key=("contact_id",), cursor_property="lastmodifieddate", page_size=50)
    file = FileSource(name="rates_probe", format="csv", pattern="*.csv")
    assert (jdbc.kind, kafka.kind, http.kind, file.kind) == ("jdbc", "kafka", "http", "file")
    assert (kafka.value_format, file.format) == ("json", LandingFormat.CSV)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: _named(s, "events").update(kind="ftp"), "source 'events', field 'kind': 'ftp' is not a source kind: use one of jdbc, kafka, http, file"),
        (lambda s: _named(s, "events").pop("kind"), "source 'events', field 'kind': is missing: add it (jdbc, kafka, http, file)"),
        (lambda s: _named(s, "events").update(partitions=2), "source 'events', field 'partitions': is not a field of a kafka source: remove it or fix its spelling"),
        (lambda s: _named(s, "warehouse_orders").pop("key"), "source 'warehouse_orders', field 'key': is missing: add it"),
        (lambda s: _named(s, "warehouse_orders").update(key=[]), "source 'warehouse_orders', field 'key': "),
        (lambda s: _named(s, "warehouse_orders")["silver"].update(colums=["x"]), "source 'warehouse_orders', field 'silver.colums': is not a field"),
        (lambda s: _named(s, "warehouse_orders").update(partition_column=None), "source 'warehouse_orders', field 'partition_column': is empty but partitions is 2"),
        (lambda s: _named(s, "crm_deals").update(name="CRM deals"), "source 'CRM deals', field 'name': 'CRM deals' is not a usable source name (lowercase letters"),
        (lambda s: _named(s, "crm_deals").update(name="../deals"), "source '../deals', field 'name': '../deals' is not a usable source name"),
        (lambda s: _named(s, "crm_deals")["silver"].update(table="Deals"), "source 'crm_deals', field 'silver.table': 'Deals' is not a usable table name"),
        (lambda s: _named(s, "crm_deals").pop("silver"), "source 'crm_deals', field 'silver': is missing: declare the Silver entity"),
        (lambda s: _named(s, "crm_deals").pop("pattern"), "source 'crm_deals', field 'pattern': is missing: format and pattern go together"),
        (lambda s: [_named(s, "crm_deals").pop(k) for k in ("format", "pattern")], "source 'crm_deals', field 'format': is missing: every source declares its landing files"),
        (lambda s: _named(s, "crm_deals").update(format="parquet"), "source 'crm_deals', field 'format': "),
        (lambda s: _named(s, "crm_deals").update(name="crm_contacts"), "source 'crm_contacts', field 'name': 'crm_contacts' is declared twice"),
        (lambda s: _named(s, "crm_deals")["silver"].update(date_column="deal_date"), "source 'crm_deals', field 'silver.date_column': names deal_date, not a Silver column"),
        (lambda s: _named(s, "crm_deals")["silver"].update(business_time_column="fx_date"), "source 'crm_deals', field 'silver.business_time_column': names fx_date, not a column read from Bronze"),
        (lambda s: _named(s, "crm_deals")["silver"].update(derived={"fx_date": "to_date(updated_at"}), "source 'crm_deals', field 'silver.derived': fx_date: 'to_date(updated_at' is not a Spark SQL expression"),
        (lambda s: _named(s, "warehouse_orders").update(password="hunter2"), "source 'warehouse_orders', field 'password': secrets never go in the sources file: remove it and set it in the environment (LAKEHOUSE_POSTGRES__...) or under <home>/secrets"),
        (lambda s: _named(s, "warehouse_orders").update(host="db.internal"), "source 'warehouse_orders', field 'host': connections come from the settings, not the sources file: remove it and set it there (LAKEHOUSE_POSTGRES__HOST)"),
        (lambda s: _named(s, "crm_deals").update(connection={"api_token": "x"}), "source 'crm_deals', field 'connection.api_token': secrets never go in the sources file"),
    ],
    ids=[
        "bad kind", "no kind", "field of another kind", "missing key", "empty key", "unknown silver field",
        "partitions without column", "name with a space", "name with a path", "bad silver table", "no silver block",
        "pattern without format", "no landing files", "unknown format", "duplicate name", "unknown date column", "derived business time",
        "bad expression", "password", "host", "nested token",
    ],
)
def test_a_bad_declaration_is_one_line_naming_the_file_the_source_and_the_field(tmp_path, change, expected) -> None:
    sources = _sources()
    change(sources)
    assert _error(tmp_path, sources).startswith(expected)


def test_a_file_that_is_not_yaml_or_not_there_is_one_line(tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("sources:\n  - name: [\n")
    with pytest.raises(ConfigError, match=rf"^{broken}: not valid YAML at line \d+"):
        read_sources(broken)
    with pytest.raises(ConfigError, match=r"cannot read the sources file .*: fix LAKEHOUSE_SOURCES_FILE or unset it"):
        read_sources(tmp_path / "missing.yml")
    flat = _write(tmp_path / "flat.yml", [])
    flat.write_text("- name: x\n")
    with pytest.raises(ConfigError, match=r"expected a mapping with a 'sources' list"):
        read_sources(flat)


def test_the_sources_file_and_the_contracts_are_overridden_through_the_settings(tmp_path, monkeypatch) -> None:
    sources = _sources()
    _named(sources, "fx_rates").update(pattern="rates-*.csv")
    path = _write(tmp_path / "sources.yml", sources)
    monkeypatch.setenv("LAKEHOUSE_SOURCES_FILE", str(path))
    monkeypatch.setenv("LAKEHOUSE_CONTRACTS_DIR", str(tmp_path / "contracts"))
    settings = load_settings()
    assert settings.sources_file == path
    assert source_delivery(settings, "fx_rates").pattern == "rates-*.csv"
    assert contracts_path(settings, "silver") == tmp_path / "contracts" / "silver.yml"
    monkeypatch.delenv("LAKEHOUSE_SOURCES_FILE")
    monkeypatch.delenv("LAKEHOUSE_CONTRACTS_DIR")
    assert source_delivery(load_settings(), "fx_rates").pattern == "*.csv", "the default is the packaged file"
    assert contracts_path(load_settings(), "silver") == SILVER_CONTRACTS


def test_an_undeclared_source_is_refused_naming_the_sources_file(tmp_path) -> None:
    settings = LakehouseSettings(sources_file=_write(tmp_path / "sources.yml", _sources()))
    with pytest.raises(BronzeError, match=rf"unknown source 'payments': use one of .*, or declare it in {tmp_path}/sources.yml"):
        source_delivery(settings, "payments")


def test_processing_order_is_derived_from_the_contracts_not_from_the_file_order(tmp_path) -> None:
    backwards = list(reversed(_sources()))
    settings = LakehouseSettings(sources_file=_write(tmp_path / "sources.yml", backwards))
    order = [entity.table for entity in load_entities(settings)]
    for parent, child in [("fx_rates", "orders"), ("customers", "orders"), ("sessions", "events"), ("crm_contacts", "crm_deals")]:
        assert order.index(parent) < order.index(child), order
    assert order[0] == "events" or order.index("events") > order.index("sessions")


def test_an_entity_reading_a_table_no_source_feeds_is_refused(tmp_path) -> None:
    without_customers = [source for source in _sources() if source["name"] != "warehouse_customers"]
    path = _write(tmp_path / "sources.yml", without_customers)
    with pytest.raises(ConfigError, match=rf"^{path}: Silver table '(orders|sessions)' reads 'customers', which no source feeds"):
        load_entities(LakehouseSettings(sources_file=path))


def test_lakehouse_run_refuses_a_broken_sources_file_in_one_line_before_starting_anything(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from lakehouse.cli import app

    sources = _sources()
    _named(sources, "events").update(kind="ftp")
    path = _write(tmp_path / "sources.yml", sources)
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKEHOUSE_SOURCES_FILE", str(path))
    result = CliRunner().invoke(app, ["run", "--date", "2026-01-01"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"error: {path}: source 'events', field 'kind': 'ftp' is not a source kind")
    assert not (tmp_path / "home" / "run").exists(), "no lock taken, nothing started"
