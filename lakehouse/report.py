"""`lakehouse report`: one self-contained HTML file with charts of what the pipeline did.

Read with PyIceberg + Polars only (no Spark, no Trino): the `ops` run and maintenance records, the
Silver quarantine table and the Bronze tables (for lateness, see `ingestion.lateness`).
Charts are plotly figures; plotly.js is inlined once, so the file opens offline.

A day can be recorded several times (a replay, a backfill over done days). Per day,
stage and table the charts use the latest record that read rows, so a replay that
found nothing new does not hide the batch that did.

Every chart with nothing to show renders as "no data yet" instead.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots
import polars as pl
from pyiceberg.catalog import Catalog

from catalog.naming import OPS, QUARANTINE, TableName
from catalog.settings import LakehouseSettings
from ingestion.lateness import LatenessProfile, LatenessReport, lateness_report, scan_table
from ingestion.operations import TABLES as OPS_TABLES


def _polars_schema(table: str) -> dict[str, pl.DataType]:
    """An ops table's columns as Polars types, from its one declaration (`ingestion.operations.TABLES`)."""
    return dict(pl.from_arrow(OPS_TABLES[table].empty_table()).schema)  # type: ignore[union-attr]


# Columns read from each table, with their types for the empty frame of a table not created yet.
STAGE_METRICS = _polars_schema("stage_metrics")
RUNS = _polars_schema("runs")
SCHEMA_CHANGES = _polars_schema("schema_changes")
MAINTENANCE = _polars_schema("maintenance")
QUARANTINED = {"table_name": pl.String, "reason": pl.String}
# Quarantine reasons whose text after the first ':' is row-specific (a parse error, a rate date).
_REASON_PREFIXES = ("unparseable", "no FX rate")
_REASON_WIDTH = 70
_DAY_MS = 86_400_000
_STATUS_COLOURS = {"succeeded": "#2ca02c", "failed": "#d62728", "killed": "#7f7f7f"}


@dataclass(frozen=True)
class ReportData:
    stage_metrics: pl.DataFrame
    runs: pl.DataFrame
    schema_changes: pl.DataFrame
    quarantine: pl.DataFrame  # table_name, reason, rows
    lateness: LatenessReport
    window_days: int  # the default window, drawn on the lateness chart
    generated_at: dt.datetime
    catalog_uri: str = ""
    maintenance: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MAINTENANCE))


@dataclass(frozen=True)
class Chart:
    div_id: str
    title: str
    build: Callable[[ReportData], go.Figure | None]
    empty_hint: str


# --- Reading -----------------------------------------------------------------------


def load_report_data(settings: LakehouseSettings, catalog: Catalog | None = None) -> ReportData:
    if catalog is None:
        from catalog.iceberg_catalog import iceberg_catalog

        catalog = iceberg_catalog(settings)  # one that does not answer: one line from the CLI (catalog/faults.py)
    return ReportData(
        stage_metrics=_read(catalog, TableName(OPS, "stage_metrics"), STAGE_METRICS),
        runs=_read(catalog, TableName(OPS, "runs"), RUNS),
        schema_changes=_read(catalog, TableName(OPS, "schema_changes"), SCHEMA_CHANGES),
        quarantine=quarantine_reasons(_read(catalog, QUARANTINE, QUARANTINED)),
        lateness=lateness_report(settings, catalog),
        window_days=settings.pipeline.window_days,
        generated_at=dt.datetime.now(dt.UTC),
        catalog_uri=settings.catalog.uri,
        maintenance=_read(catalog, TableName(OPS, "maintenance"), MAINTENANCE),
    )


def write_report(settings: LakehouseSettings, out: Path, catalog: Catalog | None = None) -> ReportData:
    data = load_report_data(settings, catalog)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(data), encoding="utf-8")
    return data


def _read(catalog: Catalog, name: TableName, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The table's `schema` columns; one it does not have yet (an ops table from before it was added) reads as null."""
    frame = scan_table(catalog, name)
    if frame is None:
        return pl.DataFrame(schema=schema)
    present = set(frame.collect_schema().names())
    columns = [pl.col(name) if name in present else pl.lit(None, dtype=kind).alias(name) for name, kind in schema.items()]
    return frame.select(columns).collect().cast(schema)  # type: ignore[arg-type]


# --- Shaping (pure) ------------------------------------------------------------------


def latest_records(metrics: pl.DataFrame) -> pl.DataFrame:
    """Per (day, stage, table): the latest record that read rows, else the latest one; labelled by its table."""
    return (
        metrics.with_columns((pl.col("rows_read") > 0).alias("_read_rows"))
        .sort(["_read_rows", "recorded_at"])
        .group_by(["day", "stage", "table_name"])
        .last()
        .drop("_read_rows")
        .with_columns(pl.col("table_name").alias("label"))
        .sort(["day", "stage", "table_name"])
    )


def reason_category(reason: pl.Expr) -> pl.Expr:
    """A quarantine reason without its row-specific detail, short enough for an axis."""
    category = pl.when(reason.str.len_chars() > _REASON_WIDTH).then(reason.str.slice(0, _REASON_WIDTH - 1) + "…").otherwise(reason)
    for prefix in _REASON_PREFIXES:
        category = pl.when(reason.str.starts_with(prefix)).then(pl.lit(prefix)).otherwise(category)
    return category


def quarantine_reasons(quarantine: pl.DataFrame) -> pl.DataFrame:
    """table_name, reason (categorised), rows; most frequent first."""
    return (
        quarantine.with_columns(reason_category(pl.col("reason").fill_null("(none)")).alias("reason"))
        .group_by(["table_name", "reason"])
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .sort(["rows", "table_name", "reason"], descending=[True, False, False])
    )


# --- Charts (pure: data in, figure or None out) ------------------------------------


def rows_per_layer(data: ReportData) -> go.Figure | None:
    latest = latest_records(data.stage_metrics)
    if latest.is_empty():
        return None
    per_day = latest.group_by(["day", "stage"]).agg(
        pl.col("rows_written").sum(), pl.col("rows_quarantined").sum()
    ).sort("day")
    figure = go.Figure()
    series = (
        ("bronze", "rows_written", "Bronze: rows landed"),
        ("silver", "rows_written", "Silver: rows merged"),
        ("silver", "rows_quarantined", "Silver: rows quarantined"),
    )
    for stage, column, name in series:
        rows = per_day.filter(pl.col("stage") == stage)
        if rows.height:
            figure.add_bar(x=_days(rows["day"]), y=rows[column].to_list(), name=name)
    figure.update_layout(barmode="group", xaxis_title="day", yaxis_title="rows")
    return _daily_axis(figure)


def dq_trend(data: ReportData) -> go.Figure | None:
    latest = latest_records(data.stage_metrics).filter(pl.col("dq_score").is_not_null())
    if latest.is_empty():
        return None
    figure = go.Figure()
    for label in sorted(latest["label"].unique().to_list(), key=lambda name: (not name.startswith("silver"), name)):
        rows = latest.filter(pl.col("label") == label)
        figure.add_scatter(
            x=_days(rows["day"]), y=rows["dq_score"].to_list(), name=label, mode="lines+markers",
            # Silver's score gates publication; Bronze's (share of lines parsed) is one click away.
            visible=True if label.startswith("silver") else "legendonly",
        )
    figure.update_layout(xaxis_title="day", yaxis_title="DQ score (accepted / read)", yaxis_range=[0, 1.02])
    return _daily_axis(figure)


def lateness_histograms(data: ReportData) -> go.Figure | None:
    late = [p for p in data.lateness.profiles if p.late]
    if not late:
        return None
    figure = go.Figure()
    for p in late:
        days = sorted(p.histogram)
        figure.add_bar(x=days, y=[p.histogram[d] for d in days], name=_lateness_label(p))
    figure.add_vline(
        x=data.window_days - 0.5, line_dash="dash",
        annotation_text=f"default window: {data.window_days} days (later = outside)", annotation_position="top right",
    )
    figure.update_layout(barmode="group", xaxis_title="days late (arrival day - business date)", yaxis_title="versions", xaxis_dtick=1)
    return figure


def quarantine_chart(data: ReportData) -> go.Figure | None:
    if data.quarantine.is_empty():
        return None
    reasons = data.quarantine.group_by("reason").agg(pl.col("rows").sum()).sort("rows")["reason"].to_list()
    figure = go.Figure()
    for table in sorted(data.quarantine["table_name"].unique().to_list()):
        rows = data.quarantine.filter(pl.col("table_name") == table)
        figure.add_bar(y=rows["reason"].to_list(), x=rows["rows"].to_list(), name=table, orientation="h")
    figure.update_layout(
        barmode="stack", xaxis_title="rows quarantined", yaxis={"categoryorder": "array", "categoryarray": reasons},
        height=max(360, 40 * len(reasons) + 120), margin={"l": 20},
    )
    figure.update_yaxes(automargin=True)
    return figure


def schema_change_table(data: ReportData) -> go.Figure | None:
    changes = data.schema_changes.sort(["day", "table_name", "column_name"])
    if changes.is_empty():
        return None
    tables = changes["table_name"].to_list()
    kinds = [f"added {new}" if old is None else f"{old} -> {new}" for old, new in changes.select("old_type", "new_type").iter_rows()]
    figure = go.Figure(
        go.Table(
            header={"values": ["day", "table", "column", "change", "run"], "align": "left"},
            cells={"values": [_days(changes["day"]), tables, changes["column_name"].to_list(), kinds,
                              changes["run_id"].str.slice(0, 8).to_list()], "align": "left"},
        )
    )
    figure.update_layout(height=min(120 + 28 * changes.height, 700))
    return figure


def run_durations(data: ReportData) -> go.Figure | None:
    runs = data.runs.filter(pl.col("started_at").is_not_null() & pl.col("finished_at").is_not_null()).sort("started_at")
    if runs.is_empty():
        return None
    runs = runs.with_columns(
        ((pl.col("finished_at") - pl.col("started_at")).dt.total_milliseconds() / 60_000).alias("minutes"),
        pl.format("{} {} ({}, {} d)", pl.col("started_at").dt.strftime("%Y-%m-%d %H:%M:%S"), pl.col("command"),
                  pl.col("run_id").str.slice(0, 6), pl.col("days_done")).alias("run"),
    )
    figure = go.Figure()
    for status in sorted(runs["status"].unique().to_list()):
        rows = runs.filter(pl.col("status") == status)
        figure.add_bar(x=rows["run"].to_list(), y=rows["minutes"].to_list(), name=status,
                       marker_color=_STATUS_COLOURS.get(status), hovertext=rows["error"].fill_null("").to_list())
    figure.update_layout(xaxis_title="run (started, command, days done)", yaxis_title="minutes",
                         xaxis={"categoryorder": "array", "categoryarray": runs["run"].to_list()})
    return figure


def stage_seconds(data: ReportData) -> go.Figure | None:
    latest = latest_records(data.stage_metrics).filter(pl.col("seconds").is_not_null())
    if latest.is_empty():
        return None
    per_day = latest.group_by(["day", "stage"]).agg(pl.col("seconds").sum()).sort("day")
    figure = go.Figure()
    for stage in sorted(per_day["stage"].unique().to_list()):
        rows = per_day.filter(pl.col("stage") == stage)
        figure.add_bar(x=_days(rows["day"]), y=rows["seconds"].to_list(), name=stage)
    figure.update_layout(barmode="stack", xaxis_title="day", yaxis_title="seconds")
    return _daily_axis(figure)


def table_health(data: ReportData) -> go.Figure | None:
    """Snapshots and data files per layer, before and after each maintenance: a saw-tooth that stays flat when it works."""
    points = (
        data.maintenance.filter(~pl.col("dry_run") & ~pl.col("table_name").str.contains("/", literal=True))
        .with_columns(pl.col("table_name").str.split(".").list.first().alias("layer"))
        .group_by(["run_id", "layer"])
        .agg(pl.col("recorded_at").max(), *(pl.col(f"{count}_{when}").sum() for count in ("snapshots", "data_files")
                                             for when in ("before", "after")))
        .sort("recorded_at")
    )
    if points.is_empty():
        return None
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("snapshots", "data files"))
    for layer in sorted(points["layer"].unique().to_list()):
        rows = points.filter(pl.col("layer") == layer)
        moments = [moment for moment in rows["recorded_at"].to_list() for _ in range(2)]
        for row, count in enumerate(("snapshots", "data_files"), start=1):
            values = [v for pair in zip(rows[f"{count}_before"].to_list(), rows[f"{count}_after"].to_list(), strict=True) for v in pair]
            figure.add_scatter(x=moments, y=values, mode="lines+markers", name=layer, legendgroup=layer,
                               showlegend=row == 1, row=row, col=1)
    figure.update_layout(height=600, xaxis2_title="maintenance (before, then after)")
    return figure


_RUN_HINT = "run the pipeline first (`lakehouse run --date D` or `lakehouse backfill --from D1 --to D2`)"
CHARTS: tuple[Chart, ...] = (
    Chart("rows-per-layer", "Rows per layer per day", rows_per_layer, _RUN_HINT),
    Chart("dq-score", "DQ score per table per day", dq_trend, _RUN_HINT),
    Chart("lateness", "Lateness of arriving versions, per table", lateness_histograms, "no version has arrived late yet"),
    Chart("quarantine-reasons", "Quarantine reasons", quarantine_chart, "no row has been quarantined"),
    Chart("schema-changes", "Schema changes", schema_change_table, "no column has been added or widened"),
    Chart("run-durations", "Run durations", run_durations, _RUN_HINT),
    Chart("stage-seconds", "Seconds per day and stage", stage_seconds, _RUN_HINT),
    Chart("table-health", "Snapshots and data files per layer, at each maintenance", table_health,
          "no table maintenance recorded yet (`lakehouse maintain`, or maintenance.after_run)"),
)


# --- HTML ----------------------------------------------------------------------------


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1280px; color: #222; }
section { margin-bottom: 2.5rem; }
.no-data { color: #777; font-style: italic; padding: 2rem; border: 1px dashed #bbb; }
.warning { color: #8a5300; }
code { background: #f3f3f3; padding: 0 0.3em; }
"""


def render_html(data: ReportData) -> str:
    """The whole report: summary, then one section per chart."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Lakehouse run report</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Lakehouse run report</h1>",
        f"<p>Generated {data.generated_at:%Y-%m-%d %H:%M:%S} UTC"
        + (f" from the catalog at <code>{html.escape(data.catalog_uri)}</code>" if data.catalog_uri else "")
        + ".</p>",
        _summary_html(data),
    ]
    plotly_js_included = False
    for chart in CHARTS:
        figure = chart.build(data)
        parts.append(f'<section id="section-{chart.div_id}">')
        if figure is None:
            parts.append(f"<h2>{html.escape(chart.title)}</h2>")
            parts.append(f'<p class="no-data" id="{chart.div_id}">no data yet: {html.escape(chart.empty_hint)}</p>')
        else:
            # One trace still gets its legend: it names the table.
            figure.update_layout(title_text=chart.title, title_font_size=20, template="plotly_white", showlegend=True)
            parts.append(figure.to_html(full_html=False, include_plotlyjs=not plotly_js_included, div_id=chart.div_id))
            plotly_js_included = True
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary_html(data: ReportData) -> str:
    runs, lateness = data.runs, data.lateness
    lines = ['<section id="summary"><h2>Summary</h2><ul>']
    if runs.is_empty():
        lines.append("<li>no data yet: no run recorded in ops.runs</li>")
    else:
        failed = runs.filter(pl.col("status") == "failed").height
        killed = runs.filter(pl.col("status") == "killed").height
        lines.append(f"<li>{runs.height} runs recorded, {failed} failed" + (f", {killed} killed" if killed else "") + "</li>")
    # A catch-up batch's rows did every day from first_day to day.
    days = (
        data.stage_metrics.filter(pl.col("day").is_not_null())
        .select(pl.date_ranges(pl.col("first_day").fill_null(pl.col("day")), pl.col("day")).explode().alias("day"))["day"]
    )
    if days.len():
        lines.append(f"<li>days processed: {days.n_unique()} ({days.min()} to {days.max()})</li>")
    if lateness.gaps:
        for gap in lateness.gaps:
            lines.append(
                f'<li class="warning">skipped: {gap.first} to {gap.last} ({gap.days} days); fill with '
                f"<code>{html.escape(gap.command)}</code></li>"
            )
    elif days.len():
        lines.append("<li>no skipped days</li>")
    for warning in lateness.warnings:
        lines.append(f'<li class="warning">late data: {html.escape(str(warning))}</li>')
    lines.append("</ul></section>")
    return "\n".join(lines)


def _lateness_label(p: LatenessProfile) -> str:
    window = f"{p.window_days}-day window" if p.window_days is not None else "no window"
    return f"{p.table} ({window}; {p.late:,} late of {p.versions:,})"


def _daily_axis(figure: go.Figure) -> go.Figure:
    """Days as days: one tick each, no hours."""
    return figure.update_xaxes(type="date", tickformat="%Y-%m-%d", dtick=_DAY_MS)


def _days(column: pl.Series) -> list[str]:
    return [day.isoformat() for day in column.to_list()]
