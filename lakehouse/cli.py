"""`lakehouse`: the one console script. Commands unpack options and call the library."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from catalog import aws_config, engine_config, faults, services, storage
from catalog.artifacts import TRINO_VERSION
from catalog.errors import LakehouseError
from catalog.naming import BRONZE, GOLD, QUARANTINE, SILVER, TableName, namespace_qualified
from catalog.settings import LakehouseSettings, load_settings
from lakehouse import round_trip

app = typer.Typer(help="A multi-engine lakehouse: Spark + Iceberg REST catalog + Trino + dbt.", no_args_is_help=True)
config_app = typer.Typer(help="Render the engines' configuration from the settings.", no_args_is_help=True)
app.add_typer(config_app, name="config")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # one error, one line, whatever the width
_state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(command: F) -> F:
    """The one error handler: a known error is one red line, a traceback only with --debug.

    Known: every `LakehouseError`, and the infrastructure failures `faults.translate`
    recognises (a service that does not answer). Anything else keeps its traceback.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as exc:
            known = faults.translate(exc)
            if known is None or _state["debug"]:
                raise
            if known.details:
                err_console.print(known.details, style="dim", markup=False, highlight=False)
            err_console.print(f"error: {known}", style="bold red", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug


class Sources(StrEnum):
    REAL = "real"
    FILES = "files"


SourcesOption = Annotated[
    Sources | None,
    typer.Option(
        "--sources",
        help="real: each source from its server (PostgreSQL, Kafka, the CRM API) as ingestion/sources.yml declares, "
        "FX from vendor files; files: every source from landing files, no source servers. Default: pipeline.sources (real).",
    ),
]


def _settings(sources: Sources | None = None) -> LakehouseSettings:
    settings = load_settings()
    if sources is not None:  # the command line wins over the settings' pipeline.sources
        settings.pipeline.sources = sources.value  # type: ignore[assignment]
    return settings


def _reporter(status: Any) -> Callable[[str], None]:
    def report(message: str) -> None:
        status.update(message)
        console.log(message)

    return report


@app.command()
@handles_errors
def up(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Start only this service and what it needs (repeatable), e.g. --only trino, which brings the REST catalog. Default: all of the deployment's."),
    ] = None,
) -> None:
    """Start the REST catalog, Trino and the source servers (PostgreSQL, Kafka, the CRM API), and with
    deployment=cluster the object store, Trino's worker and the Spark master and workers; idempotent; downloads artifacts on first run."""
    settings = _settings()
    with console.status("starting services") as status:
        started = services.up(settings, _reporter(status), only=only or None)
    _print_status(started)


@app.command()
@handles_errors
def down() -> None:
    """Stop the services that `up` started (by recorded pid)."""
    settings = _settings()
    stopped = services.down(settings, console.log)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command()
@handles_errors
def status() -> None:
    """Show each service, its URL and its health."""
    from catalog.run_lock import current_holder

    settings = _settings()
    statuses = services.status(settings)
    _print_status(statuses)
    holder = current_holder(settings)
    console.print(f"pipeline: {'running, ' + holder.describe() if holder else 'idle (no run holds the lock)'}", soft_wrap=True)
    if any(s.state != "running" for s in statuses):
        raise typer.Exit(3)


@app.command()
@handles_errors
def demo(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First business day.")] = datetime(2026, 1, 1),
    days: Annotated[int, typer.Option(min=1, help="Days of sources to generate and run.")] = 30,
    scale: Annotated[float, typer.Option(min=0.01, help="1 = ~1,000 orders/day.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    daily_days: Annotated[
        int,
        typer.Option(
            min=1,
            help="The last N days run one by one, with their late corrections; the days before them "
            "run first as one catch-up batch per table. Set it to --days to run every day one by one.",
        ),
    ] = 3,
    sources: SourcesOption = None,
) -> None:
    """Start the stack, feed the generated sources, run Bronze and Silver (a catch-up, then day by day), build Gold with dbt."""
    from lakehouse.demo import run_demo

    settings = _settings(sources)
    with console.status("starting services") as status:
        summary = run_demo(
            settings, start=start.date(), days=days, scale=scale, seed=seed, daily_days=daily_days, report=_reporter(status)
        )
    _print_demo_summary(settings, summary)


@app.command()
@handles_errors
def smoke() -> None:
    """`up`, then a Spark -> Trino -> PyIceberg round trip on one small table."""
    settings = _settings()
    with console.status("starting services") as status:
        services.up(settings, _reporter(status))
        status.update("round trip: Spark writes, Trino and PyIceberg read")
        result = round_trip.run(settings, report=_reporter(status))
    console.print(result.summary())


def _print_demo_summary(settings: LakehouseSettings, summary) -> None:
    from catalog.trino_auth import secret_files
    from catalog.trino_connection import jdbc_url

    last = summary.first_day + timedelta(days=summary.days - 1)
    console.print(f"\n[bold]Demo: {summary.days} days, {summary.first_day} to {last}[/]")
    layers = Table("layer", "tables", "rows")
    media = ", ".join((*summary.source_servers, "landing files")) if summary.source_servers else "landing files"
    layers.add_row("sources", media, f"{summary.rows_delivered:,} rows delivered")
    layers.add_row(BRONZE, f"{namespace_qualified(settings, BRONZE)}.*", f"{summary.bronze_rows:,} rows written this run")
    for namespace, counts in ((SILVER, summary.silver_rows), (GOLD, summary.gold_rows)):
        for table, rows in counts.items():
            layers.add_row(namespace, TableName(namespace, table).qualified(settings), f"{rows:,}")
    console.print(layers)
    console.print(
        f"late corrections delivered: {summary.late_corrections_delivered:,}; rows merged beyond the "
        f"late-data window by the targeted MERGE: {summary.late_rows_beyond_window:,}\n"
        f"contracts: {summary.rows_quarantined:,} rows quarantined ({QUARANTINE.qualified(settings)}), "
        f"{len(summary.contract_warnings)} warnings; dbt tests {summary.dbt_tests_passed}/{summary.dbt_tests} passed",
        soft_wrap=True,
    )
    if summary.maintenance is not None:
        done = summary.maintenance.tables
        snapshots = sum(t.before.snapshots for t in done), sum(t.after.snapshots for t in done)
        files = sum(t.before.data_files for t in done), sum(t.after.data_files for t in done)
        console.print(
            f"maintenance: {sum(1 for t in done if t.actions)} of {len(done)} tables had work; snapshots "
            f"{_change(*snapshots)}, data files {_change(*files)} (`lakehouse maintain --dry-run` shows each table)",
            soft_wrap=True, highlight=False,
        )
    console.print("time: " + ", ".join(f"{step} {secs:.0f} s" for step, secs in summary.seconds.items()))
    trino = settings.trino
    if trino.password_auth:
        files = secret_files(settings)
        server = (
            f"--server https://{trino.host}:{trino.https_port} --truststore-path {files.ca_cert} --password "
            f"(the password is in {files.password_file(trino.user)})"
        )
    else:
        server = f"--server http://{trino.host}:{trino.port}"
    console.print(
        "\nQuery it yourself:\n"
        f"  Trino CLI: mvn -q dependency:copy -Dartifact=io.trino:trino-cli:{TRINO_VERSION}:jar:executable -DoutputDirectory=. && "
        f"java -jar trino-cli-{TRINO_VERSION}-executable.jar {server} "
        f"--catalog {settings.catalog.name} --user {trino.user} --execute 'SELECT * FROM gold.fct_daily_revenue LIMIT 10'\n"
        f"  Python   : .venv/bin/python -c \"from catalog.settings import load_settings; "
        "from catalog.trino_connection import trino_connection; "
        "c = trino_connection(load_settings()).cursor(); c.execute('SELECT * FROM gold.fct_daily_revenue LIMIT 10'); print(c.fetchall())\"\n"
        f"  JDBC     : {jdbc_url(settings)}",
        soft_wrap=True,
    )


@app.command()
@handles_errors
def generate(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First business day.")] = datetime(2026, 1, 1),
    days: Annotated[int, typer.Option(min=1, help="Number of days to generate.")] = 30,
    scale: Annotated[float, typer.Option(min=0.01, help="1 = ~1,000 orders/day (see ingestion/synthetic/README.md).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Same arguments + seed = byte-identical files.")] = 42,
    out: Annotated[Path | None, typer.Option(help="Landing folder (default <home>/landing).")] = None,
    sources: SourcesOption = None,
) -> None:
    """Deliver deterministic sources, with duplicates, late data, drift and bad rows: into the source servers
    (`lakehouse up` first) and landing files, or only landing files with --sources files."""
    from ingestion.sources.declarations import load_sources
    from ingestion.sources.job import services_needed
    from ingestion.synthetic import generate_sources
    from ingestion.synthetic.feeds import server_feed

    settings = _settings(sources)
    target = out or settings.landing_dir
    servers = services_needed(settings, load_sources(settings).values())
    if servers:
        _require_services(settings, *servers)
    feed = server_feed(settings, world={"start": f"{start:%Y-%m-%d}", "scale": scale, "seed": seed}) if servers else None
    with console.status(f"generating {days} days into {', '.join((*servers, str(target)))}"):
        report = generate_sources(target, start.date(), days, scale=scale, seed=seed, feed=feed)
    if out is None and storage.is_s3(settings.landing_location):
        # The cluster deployment's landing prefix: the files generated here are delivered there.
        with console.status(f"delivering them to {settings.landing_location}"):
            storage.deliver_landing(settings)
    table = Table("source", "rows", "duplicates", "malformed", "late", "orphans")
    for source in sorted({entry.source for entry in report.entries}):
        entries = report.entries_for(source)
        table.add_row(
            source,
            f"{sum(e.rows_written for e in entries):,}",
            f"{sum(len(e.duplicates) for e in entries):,}",
            f"{sum(len(e.malformed) for e in entries):,}",
            f"{sum(len(e.late_arrivals) for e in entries):,}",
            f"{sum(len(e.orphan_keys) for e in entries):,}",
        )
    console.print(table)
    console.print(f"manifests: {target / '_manifest'}")


def _require_services(settings: LakehouseSettings, *names: str) -> None:
    """Fail in one line unless the named services (all, if none named) are running."""
    down_services = [s.name for s in services.status(settings) if s.state != "running" and (not names or s.name in names)]
    if down_services:
        raise LakehouseError(f"{', '.join(down_services)} not running: start the stack with `lakehouse up`")


def _run_days(
    first: datetime, last: datetime, window_days: int | None, *, catch_up: bool = False, sources: Sources | None = None
) -> None:
    from rich.progress import Progress

    from catalog.run_lock import command_line, pipeline_lock
    from catalog.spark_session import spark_session
    from ingestion.bronze.landing import days_label, landing_days
    from ingestion.day_runner import day_batches, run_batches
    from ingestion.recovery import recover
    from ingestion.silver.entities import load_entities
    from ingestion.sources.declarations import load_sources
    from ingestion.sources.job import services_needed

    settings = _settings(sources)
    if last < first:
        raise LakehouseError(f"--to {last:%Y-%m-%d} is before --from {first:%Y-%m-%d}: swap them")
    # A broken sources or contract file fails here, in one line, before the lock and Spark.
    load_entities(settings)
    days = landing_days(first.date(), last.date())
    # A catch-up is one batch per table for the whole range, so one step.
    batches = day_batches(days, 0 if catch_up else len(days))
    command = "run" if len(days) == 1 else "backfill"
    # Before anything else: a second run is refused at once, naming the one that holds the lock.
    with pipeline_lock(settings, command_line()) as lease:
        # Spark talks to the REST catalog and the source servers; Trino is for readers and dbt.
        _require_services(settings, *services.spark_needs(settings), *services_needed(settings, load_sources(settings).values()))
        spark = spark_session(settings, app_name="lakehouse-run")
        if lease.previous_holder_died:
            console.log(f"the previous run ({lease.previous_holder_died.describe()}) died: repairing what it left")
            recover(spark, settings, console.log)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("pipeline", total=len(batches))
            run = run_batches(
                spark, settings, command, batches, window_days=window_days,
                report=lambda _batch, message: progress.update(task, description=message),
                batch_done=lambda _result: progress.advance(task),
            )
    table = Table("days" if catch_up else "day", "table", "read", "accepted", "quarantined", "merged", "late", "dq score", "schema changes")
    for result in run.results:
        for commit in result.silver:
            table.add_row(
                days_label(result.first_day or result.day, result.day), commit.table, f"{commit.rows_read:,}", f"{commit.rows_accepted:,}",
                f"{commit.rows_quarantined:,}", f"{commit.rows_merged:,}", f"{commit.late_rows:,}",
                f"{commit.dq_score:.3f}", "; ".join(map(str, commit.schema_changes)),
            )
    console.print(table)
    if run.maintenance and run.maintenance.result:
        _print_maintenance(run.maintenance.result)
    # Contract warnings do not stop a run; they must still be seen.
    for warning in run.warnings:
        console.print(f"[yellow]warn[/] {warning}", soft_wrap=True)


@app.command()
@handles_errors
def run(
    date: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Landing day to process.")],
    window_days: Annotated[
        int | None, typer.Option(min=1, help="Late-data window of the Silver MERGE (default: pipeline.window_days).")
    ] = None,
    sources: SourcesOption = None,
) -> None:
    """Bronze and Silver for one landing day (needs `lakehouse up`)."""
    _run_days(date, date, window_days, sources=sources)


@app.command()
@handles_errors
def backfill(
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First landing day.")],
    last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last landing day (inclusive).")],
    window_days: Annotated[
        int | None, typer.Option(min=1, help="Late-data window of the Silver MERGE (default: pipeline.window_days).")
    ] = None,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--catch-up",
            help="One batch per table for the whole range (a first load): far faster than day by day. "
            "Every version still reaches Silver and the SCD2 history, in order.",
        ),
    ] = False,
    sources: SourcesOption = None,
) -> None:
    """Bronze and Silver for a range of days, in one Spark session: day by day, or as one catch-up batch."""
    _run_days(first, last, window_days, catch_up=catch_up, sources=sources)


@app.command()
@handles_errors
def maintain(
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables as <layer>.<table>, or whole layers (bronze, silver, gold, ops); none = all.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")] = False,
) -> None:
    """Compact small files, rewrite deletes, expire snapshots, rewrite manifests, remove orphans (settings.maintenance).

    Runs beside a pipeline run: a table a pipeline job is writing waits for the other.
    """
    from catalog.run_lock import command_line, maintenance_lock
    from catalog.spark_session import spark_session
    from ingestion.maintenance import maintain as maintain_tables

    settings = _settings()
    with maintenance_lock(settings, command_line()):
        _require_services(settings, *services.spark_needs(settings))
        spark = spark_session(settings, app_name="lakehouse-maintain")
        with console.status("maintenance") as status:
            result = maintain_tables(spark, settings, tables or [], dry_run=dry_run, report=_reporter(status))
    _print_maintenance(result)


def _print_maintenance(result) -> None:
    """Before -> after per table, and what was done (or, in a dry run, would be)."""
    table = Table("table", "snapshots", "data files", "delete files", "manifests", "stored", "done" if not result.dry_run else "would do")
    for done in result.tables:
        before, after = done.before, done.after
        table.add_row(
            str(done.table), _change(before.snapshots, after.snapshots), _change(before.data_files, after.data_files),
            _change(before.delete_files, after.delete_files), _change(before.manifests, after.manifests),
            _change(before.stored_bytes, after.stored_bytes, _size), done.summary,
        )
    console.print(table)
    verb = "would remove" if result.dry_run else "removed"
    for gone in result.leftovers:
        console.print(f"{verb} {gone.path}: left by a dropped table ({gone.files} files, {_size(gone.bytes)})", soft_wrap=True, highlight=False)


def _change(before: int, after: int, show: Callable[[int], str] = "{:,}".format) -> str:
    return show(before) if before == after else f"{show(before)} -> {show(after)}"


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    return str(count)


@app.command()
@handles_errors
def validate(
    tables: Annotated[list[str] | None, typer.Argument(help="Tables as <layer>.<table>; none = every Silver table.")] = None,
    snapshot: Annotated[int | None, typer.Option(help="Snapshot id to check (one table).")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch or tag to check.")] = None,
    output: Annotated[Literal["text", "json"], typer.Option("--format", help="text, or json for CI.")] = "text",
    max_age_hours: Annotated[float | None, typer.Option(min=0, help="Fail when the newest row is older than this.")] = None,
) -> None:
    """Check tables against their data contracts with PyIceberg + Polars; exit 1 on a failed error check."""
    from lakehouse import validate as validation

    results = validation.validate_tables(
        _settings(), tables or [], snapshot_id=snapshot, branch=branch, max_age_hours=max_age_hours
    )
    if output == "json":
        typer.echo(validation.as_json(results))
    else:
        validation.print_results(console, results)
    if not all(result.passed for result in results):
        raise typer.Exit(1)


@app.command()
@handles_errors
def lateness(
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First arrival day to count.")] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last arrival day to count.")] = None,
) -> None:
    """How late each source's versions arrive, what falls outside the Silver window, and skipped days."""
    from ingestion.lateness import lateness_report

    result = lateness_report(_settings(), since=since.date() if since else None, until=until.date() if until else None)
    table = Table("table", "window", "versions", "late", "outside window", "days late: versions")
    for p in result.profiles:
        histogram = "  ".join(f"{days}d: {count:,}" for days, count in p.histogram.items()) or "-"
        window = f"{p.window_days} d" if p.window_days is not None else "none"
        table.add_row(p.table, window, f"{p.versions:,}", f"{p.late:,}", f"{p.outside_window:,}", histogram)
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warn[/] {warning}", soft_wrap=True, highlight=False)
    for gap in result.gaps:
        console.print(f"[yellow]skipped[/] {gap.first} to {gap.last} ({gap.days} d): {gap.command}", soft_wrap=True, highlight=False)
    if not result.gaps:
        console.print("no skipped days")


@app.command()
@handles_errors
def report(
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("lakehouse-report.html"),
) -> None:
    """One self-contained HTML file: rows per layer, DQ trend, lateness, quarantine, schema changes, run times."""
    from lakehouse.report import write_report

    write_report(_settings(), out)
    console.print(f"report: {out.resolve()}")


@config_app.command("local")
@handles_errors
def config_local() -> None:
    """Write Spark, Trino, PyIceberg and dbt configuration under <home>/config."""
    for path in engine_config.write_local_config(_settings()):
        console.print(str(path))


@config_app.command("docker")
@handles_errors
def config_docker(
    out: Annotated[Path, typer.Option(help="Folder to write the compose stack into.")] = Path("docker"),
) -> None:
    """Render docker/docker-compose.yml and the configs it mounts."""
    files = engine_config.docker_files(_settings())
    for path in engine_config.write_files({out / name: content for name, content in files.items()}):
        console.print(str(path))


@config_app.command("aws")
@handles_errors
def config_aws(
    out: Annotated[Path | None, typer.Option(help="Folder to write into (default: <home>/aws).")] = None,
    date: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Landing day the EMR job definitions run (default: today, UTC)."),
    ] = None,
) -> None:
    """Render the AWS profile: Spark, Trino, PyIceberg and dbt on Glue's Iceberg REST endpoint, EMR job definitions, the IAM policy (docs/deploy-aws.md)."""
    settings = _settings()
    files = aws_config.aws_files(settings, (date or datetime.now(UTC)).date())
    folder = out or settings.home / "aws"
    for path in engine_config.write_files({folder / name: content for name, content in files.items()}):
        console.print(str(path))


def _print_status(statuses: list[services.ServiceStatus]) -> None:
    table = Table("service", "url", "pid", "health")
    colours = {"running": "green", "unhealthy": "yellow", "stopped": "red"}
    for s in statuses:
        table.add_row(s.name, s.url, str(s.pid or "-"), f"[{colours[s.state]}]{s.state}[/]")
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
