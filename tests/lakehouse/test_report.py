"""`lakehouse report`: rendered from real Iceberg tables, parsed back, and screenshotted in headless Chromium.

The unit tier writes small ops, quarantine and Bronze tables with PyIceberg into a
SQLite-backed catalog (the same table schemas the pipeline creates) and renders from
them. The integration test renders from the 10-day scenario's records.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from ingestion.operations import TABLES as OPS_TABLES
from lakehouse.report import CHARTS, latest_records, quarantine_reasons, write_report

D = lambda day: dt.date(2026, 3, day)  # noqa: E731
T = lambda day, hour=0: dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)  # noqa: E731
CHART_IDS = [chart.div_id for chart in CHARTS]


def _write(catalog: SqlCatalog, identifier: str, schema: pa.Schema, rows: list[tuple]) -> None:
    namespace = identifier.split(".")[0]
    catalog.create_namespace_if_not_exists(namespace)
    table = catalog.create_table(identifier, schema=schema)
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    table.append(pa.Table.from_arrays([pa.array(list(values), type=field.type) for values, field in zip(columns, schema, strict=True)], schema=schema))


def _catalog(tmp_path: Path) -> SqlCatalog:
    return SqlCatalog("report", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=(tmp_path / "warehouse").as_uri())


@pytest.fixture
def ops_catalog(tmp_path: Path) -> SqlCatalog:
    return _with_records(_catalog(tmp_path))


def _with_records(catalog: SqlCatalog) -> SqlCatalog:
    """Three days of records, a skipped day 3, a replay of day 1, one failed run, quarantine and Bronze orders."""
    orders = "silver.orders"
    metrics = []
    for day, run in ((1, "r1"), (2, "r1"), (4, "r2")):
        metrics += [
            (run, D(day), "bronze", "bronze.warehouse_orders", 100 + day, 99 + day, 1, 100 + day, 0, 5.0, None, 0.99, T(day, 1), None),
            (run, D(day), "silver", orders, 100 + day, 90 + day, 10, 80 + day, day, 20.0, 7, (90 + day) / (100 + day), T(day, 1), None),
        ]
    # A replay of day 1: Bronze found nothing new (must not hide the first batch), Silver re-merged.
    metrics += [
        ("r3", D(1), "bronze", "bronze.warehouse_orders", 0, 0, 0, 0, 0, 1.0, None, 1.0, T(5, 2), None),
        ("r3", D(1), "silver", orders, 101, 95, 6, 81, 0, 10.0, 8, 95 / 101, T(5, 2), None),
    ]
    _write(catalog, "ops.stage_metrics", OPS_TABLES["stage_metrics"], metrics)
    _write(catalog, "ops.runs", OPS_TABLES["runs"], [
        ("r1", "backfill", D(1), D(2), 2, T(2, 1), T(2, 2), "succeeded", None),
        ("r2", "run", D(4), D(4), 1, T(4, 1), T(4, 1) + dt.timedelta(minutes=3), "succeeded", None),
        ("r3", "run", D(1), D(1), 1, T(5, 2), T(5, 2) + dt.timedelta(minutes=1), "succeeded", None),
        ("r4", "run", D(5), D(5), 0, T(5, 3), T(5, 3) + dt.timedelta(seconds=30), "failed", "ContractViolation: orders failed"),
    ])
    _write(catalog, "ops.schema_changes", OPS_TABLES["schema_changes"], [
        ("r2", D(4), orders, "coupon_code", None, "string", T(4, 1)),
        ("r2", D(4), orders, "quantity", "int", "bigint", T(4, 1)),
    ])
    # Two maintenance runs over two Silver tables; a dropped table's folder and a dry run are not table health.
    counts = lambda before, after: [v for pair in zip(before, after, strict=True) for v in pair]  # noqa: E731
    _write(catalog, "ops.maintenance", OPS_TABLES["maintenance"], [
        ("m1", orders, False, True, "compacted", 2.0, *counts((30, 40, 0, 9, 12, 90, 900), (8, 4, 0, 9, 1, 60, 800)), T(4, 2)),
        ("m1", "silver.customers", False, True, "expired", 1.0, *counts((10, 5, 0, 9, 3, 20, 200), (6, 5, 0, 9, 3, 18, 190)), T(4, 2)),
        ("m1", "gold/x__dbt_tmp-1", False, True, "removed", 0.0, *counts((0, 0, 0, 0, 0, 3, 30), (0,) * 7), T(4, 2)),
        ("m2", orders, True, True, "would compact", 1.0, *counts((99,) * 7, (99,) * 7), T(5, 1)),
        ("m3", orders, False, False, "expired", 1.0, *counts((20, 6, 0, 9, 2, 70, 850), (9, 6, 0, 9, 2, 65, 820)), T(5, 4)),
    ])
    quarantine = pa.schema([("table_name", pa.string()), ("run_date", pa.date32()), ("reason", pa.string())])
    _write(catalog, "silver.quarantine", quarantine, [
        ("orders", D(1), "unparseable: truncated line at column 3"),
        ("orders", D(2), "unparseable: invalid UTF-8"),
        ("orders", D(2), "orphan: customer_id has no match in customers"),
        ("sessions", D(2), "pages is not a valid int"),
    ])
    bronze = pa.schema([(name, pa.string()) for name in ("order_id", "ordered_at", "updated_at")] + [("_ingest_date", pa.date32()), ("_parse_error", pa.string())])
    _write(catalog, "bronze.warehouse_orders", bronze, [
        ("1", "2026-03-01 10:00:00", "2026-03-01 10:00:00", D(1), None),
        ("1", "2026-03-01 10:00:00", "2026-03-05 10:00:00", D(5), None),  # 4 days late: outside a 3-day window
        ("2", "2026-03-01 11:00:00", "2026-03-02 10:00:00", D(2), None),  # 1 day late
        ("2", "2026-03-01 11:00:00", "2026-03-02 10:00:00", D(4), None),  # a redelivery: not a new version
    ])
    return catalog


class _Report(HTMLParser):
    """Chart divs, "no data yet" placeholders, and the traces/layout each Plotly.newPlot call draws."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.chart_divs: set[str] = set()
        self.no_data: set[str] = set()
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div" and "plotly-graph-div" in classes:
            self.chart_divs.add(attributes["id"] or "")
        if tag == "p" and "no-data" in classes:
            self.no_data.add(attributes["id"] or "")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def plot(self, div_id: str) -> tuple[list[dict], dict]:
        decoder = json.JSONDecoder()
        for script in self.scripts:
            match = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', script)
            if match:
                traces, end = decoder.raw_decode(script, match.end())
                layout, _ = decoder.raw_decode(script, re.match(r",\s*", script[end:]).end() + end)  # type: ignore[union-attr]
                return traces, layout
        raise AssertionError(f"no Plotly.newPlot for {div_id}")


def _trace(traces: list[dict], name_start: str) -> dict:
    [trace] = [t for t in traces if t.get("name", "").startswith(name_start)]
    return trace


def test_report_from_real_iceberg_tables_draws_every_chart_with_its_data(ops_catalog, test_settings, tmp_path) -> None:
    out = tmp_path / "report.html"
    write_report(test_settings, out, catalog=ops_catalog)
    text = out.read_text(encoding="utf-8")
    report = _Report(text)
    assert report.chart_divs == set(CHART_IDS)
    assert report.no_data == set()
    # Offline: plotly.js is inlined once, nothing is fetched.
    assert text.count("plotly.js v") >= 1 and 'src="http' not in text

    traces, layout = report.plot("rows-per-layer")
    assert layout["title"]["text"] == "Rows per layer per day"
    assert _trace(traces, "Bronze") == {**_trace(traces, "Bronze"), "x": ["2026-03-01", "2026-03-02", "2026-03-04"], "y": [101, 102, 104]}
    # Day 1's Silver figures are the replay's (latest), not the sum of both records.
    assert _trace(traces, "Silver: rows merged")["y"] == [81, 82, 84]
    assert _trace(traces, "Silver: rows quarantined")["y"] == [6, 10, 10]

    traces, _ = report.plot("dq-score")
    silver = _trace(traces, "silver.orders")
    assert silver["y"] == pytest.approx([95 / 101, 92 / 102, 94 / 104])
    assert _trace(traces, "bronze.warehouse_orders")["visible"] == "legendonly"

    traces, _ = report.plot("lateness")
    orders = _trace(traces, "orders")
    assert (orders["x"], orders["y"]) == ([1, 4], [1, 1])

    traces, _ = report.plot("quarantine-reasons")
    by_table = {t["name"]: dict(zip(t["y"], t["x"], strict=True)) for t in traces}
    assert by_table == {
        "orders": {"unparseable": 2, "orphan: customer_id has no match in customers": 1},
        "sessions": {"pages is not a valid int": 1},
    }

    [table], _ = report.plot("schema-changes")
    columns = table["cells"]["values"]
    assert columns[2] == ["coupon_code", "quantity"] and columns[3] == ["added string", "int -> bigint"]

    traces, _ = report.plot("run-durations")
    assert _trace(traces, "failed")["y"] == pytest.approx([0.5])
    assert sorted(_trace(traces, "succeeded")["y"]) == pytest.approx([1.0, 3.0, 60.0])

    traces, _ = report.plot("stage-seconds")
    assert _trace(traces, "silver")["y"] == [10.0, 20.0, 20.0]

    # Per maintenance run, the layer's sums before then after; the dry run and the dropped table's folder are left out.
    traces, _ = report.plot("table-health")
    snapshots, data_files = [t for t in traces if t["name"] == "silver"]
    assert snapshots["y"] == [40, 14, 20, 9]
    assert data_files["y"] == [45, 9, 6, 6]

    # The summary names the skipped day with the command that fills it, and the lateness warning.
    assert "lakehouse backfill --from 2026-03-03 --to 2026-03-03" in text
    assert "lakehouse backfill --from 2026-03-05 --to 2026-03-05" in text
    assert "orders: 1 of 2 late versions (50%) arrived outside its 3-day window" in text


def test_empty_catalog_renders_no_data_yet_for_every_chart(test_settings, tmp_path) -> None:
    out = tmp_path / "empty.html"
    write_report(test_settings, out, catalog=_catalog(tmp_path))
    report = _Report(out.read_text(encoding="utf-8"))
    assert report.chart_divs == set()
    assert report.no_data == set(CHART_IDS)
    assert "no data yet" in out.read_text(encoding="utf-8")


def test_latest_record_per_day_ignores_replays_that_read_nothing() -> None:
    import polars as pl

    metrics = pl.DataFrame(
        {
            "day": [D(1), D(1), D(1)],
            "stage": ["bronze"] * 3,
            "table_name": ["bronze.fx_rates"] * 3,
            "rows_read": [6, 7, 0],
            "recorded_at": [dt.datetime(2026, 3, 1, h) for h in (1, 2, 3)],
        }
    )
    latest = latest_records(metrics)
    assert latest.select("rows_read", "label").rows() == [(7, "bronze.fx_rates")]


def test_quarantine_reasons_drop_row_specific_detail() -> None:
    import polars as pl

    quarantine = pl.DataFrame(
        {
            "table_name": ["orders", "orders", "orders", "fx_rates", "orders", "orders"],
            "reason": [
                "unparseable: Unexpected character at 17", "unparseable: truncated", "no FX rate: EUR on 2026-03-01",
                "no FX rate: JPY on 2026-03-02", "amount is not a valid decimal(18,2)", "x" * 200,
            ],
        }
    )
    assert quarantine_reasons(quarantine).rows() == [
        ("orders", "unparseable", 2),
        ("fx_rates", "no FX rate", 1),
        ("orders", "amount is not a valid decimal(18,2)", 1),
        ("orders", "no FX rate", 1),
        ("orders", "x" * 69 + "…", 1),
    ]


def _png_rows(path: Path, rows: int) -> tuple[int, int, list[bytes], int]:
    """(width, height, the first `rows` pixel rows un-filtered, bytes per pixel) of an 8-bit RGB/RGBA PNG.

    Pure Python, so only the rows needed: a full 1400x2400 decode takes half a minute.
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, [], None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    assert header is not None
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour in (2, 6), header
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompressobj().decompress(b"".join(chunks), rows * (stride + 1))
    previous, decoded = bytearray(stride), []
    for row in range(rows):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                to_left, to_up, to_corner = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if to_left <= to_up and to_left <= to_corner else up if to_up <= to_corner else corner)) & 0xFF
        decoded.append(bytes(line))
        previous = line
    return width, height, decoded, bpp


class _DrawnCharts(HTMLParser):
    """Per chart div of a rendered DOM, the classes of everything plotly drew inside it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.classes: dict[str, set[str]] = {}
        self._chart, self._depth = "", 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self._chart:
            self.classes[self._chart].update((attributes.get("class") or "").split())
            self._depth += tag == "div"
        elif tag == "div" and attributes.get("id") in CHART_IDS:
            self._chart, self._depth = attributes["id"] or "", 1
            self.classes[self._chart] = set()

    def handle_endtag(self, tag: str) -> None:
        if self._chart and tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self._chart = ""


def _chromium(*arguments: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    assert browser, "chromium is not installed: it is in the README test command's apt-get line"
    # The virtual time budget lets every Plotly.newPlot promise settle before the capture.
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000", *arguments]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)


def test_headless_chromium_draws_the_charts(ops_catalog, test_settings, tmp_path) -> None:
    report = tmp_path / "report.html"
    write_report(test_settings, report, catalog=ops_catalog)

    # The browser ran plotly.js offline: every chart div holds an SVG with its traces drawn.
    drawn = _DrawnCharts(_chromium("--dump-dom", report.as_uri()).stdout).classes
    assert set(drawn) == set(CHART_IDS)
    for div_id, classes in drawn.items():
        assert "main-svg" in classes, div_id
        assert classes & {"bars", "scatter", "table"}, (div_id, sorted(classes)[:20])

    screenshot = tmp_path / "report.png"
    _chromium(f"--screenshot={screenshot}", "--window-size=1400,2400", report.as_uri())
    assert screenshot.stat().st_size > 50_000
    width, height, rows, bpp = _png_rows(screenshot, 600)
    assert (width, height) == (1400, 2400)
    colours = {row[i : i + 3] for row in rows for i in range(0, len(row), bpp)}
    assert len(colours) > 50, "a blank or text-only page"
    # plotly's first trace colour (#636efa): the first chart's bars are on screen.
    assert bytes((0x63, 0x6E, 0xFA)) in colours


def test_cli_commands_fail_with_one_line_when_the_catalog_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from lakehouse.cli import app

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_CATALOG__PORT", "1")  # nothing listens there
    for args in (["report", "--out", str(tmp_path / "r.html")], ["lateness"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "the REST catalog at http://127.0.0.1:1 is not reachable" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


@pytest.mark.integration
def test_report_from_the_ten_day_scenario(silver_scenario, stack, tmp_path) -> None:
    from tests.scenario import DAYS, START

    out = tmp_path / "scenario.html"
    data = write_report(stack, out)
    report = _Report(out.read_text(encoding="utf-8"))
    # Schema changes are recorded only by the run that evolved the table, which may be an
    # earlier test of this session sharing the catalog; every other chart has the scenario's data.
    assert report.chart_divs | {"schema-changes"} == set(CHART_IDS)
    assert report.chart_divs | report.no_data == set(CHART_IDS)
    scenario_days = [(START + dt.timedelta(days=offset)).isoformat() for offset in range(DAYS)]
    traces, _ = report.plot("rows-per-layer")
    assert set(scenario_days) <= set(_trace(traces, "Silver: rows merged")["x"])
    traces, _ = report.plot("dq-score")
    orders = _trace(traces, "silver.orders")
    assert set(scenario_days) <= set(orders["x"]) and all(0 < score <= 1 for score in orders["y"])
    traces, _ = report.plot("quarantine-reasons")
    assert sum(sum(t["x"]) for t in traces) >= sum(c.rows_quarantined for r in silver_scenario.results for c in r.silver)
    # No scenario day is reported as skipped.
    assert not [gap for gap in data.lateness.gaps if START <= gap.last and gap.first <= START + dt.timedelta(days=DAYS - 1)]


@pytest.mark.integration
def test_lateness_from_bronze_matches_what_the_generator_delivered_late(silver_scenario, stack) -> None:
    from collections import Counter

    from ingestion.lateness import lateness_report
    from tests.scenario import DAYS, START

    report = lateness_report(stack, since=START, until=START + dt.timedelta(days=DAYS - 1))
    profiles = {p.source: p for p in report.profiles}
    for source in ("warehouse_orders", "fx_rates"):
        delivered = Counter(
            late.lateness_days for entry in silver_scenario.report.entries_for(source) for late in entry.late_arrivals
        )
        assert profiles[source].histogram == dict(sorted(delivered.items())), source
    # Refunds and status changes come 1-6 days late: a 3-day window misses about half of them.
    orders = profiles["warehouse_orders"]
    assert orders.window_days == stack.pipeline.window_for("orders")
    assert [w.table for w in report.warnings if w.table == "orders"] == ["orders"]
