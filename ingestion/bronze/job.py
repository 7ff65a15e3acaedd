"""`ingest_landing_day`: one source's landing files for one day (or a catch-up range of days) -> one Bronze batch.

Extract (`landing.py`): list the days' files, hash them, leave out those already
ingested (`ingested_files.py`), read the rest as bytes with Spark.
Transform (`transform.py`, pure): split into lines, parse into string columns, add metadata.
Load (`tables.py`): write Parquet into the batch's directory, evolve the Iceberg table,
add_files, then record the files as ingested.

Replays: every file already recorded -> nothing is written. A crash is repaired by the
rerun: the batch id depends only on the files, so the rerun finds the batch's folder; if
the crash came after add_files, it finds an attempt registered and only records the files,
otherwise it writes a fresh attempt (never over the dead one, whose files a live writer
could be registering). One pipeline run at a time (`catalog.run_lock`), whose crash
recovery removes dead attempts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
from pyspark.sql import DataFrame, SparkSession

from catalog import storage
from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings
from ingestion.bronze import ingested_files, landing, tables, transform
from ingestion.bronze.columns import METADATA_COLUMNS
from ingestion.bronze.contract_checks import check_batch
from ingestion.bronze.errors import BronzeError
from ingestion.bronze.landing import LandingFile, RefusedFile
from ingestion.bronze.source_formats import LandingFormat, source_delivery
from ingestion.contracts.contract import TableContract, contracts_path, load_contracts


@dataclass(frozen=True)
class BronzeBatch:
    source: str
    day: dt.date
    batch_id: str | None  # None when every file had been ingested before
    files_ingested: tuple[str, ...]  # absolute paths
    files_skipped: tuple[str, ...]  # already ingested with the same content
    rows_read: int  # lines of the ingested files, CSV headers excluded
    rows_written: int  # == rows_read: Bronze keeps every line
    rows_unparseable: int  # rows with a _parse_error
    table: str  # e.g. iceberg.bronze.warehouse_orders
    # From the Bronze contract (ingestion/contracts/bronze.yml): reported, never enforced.
    dq_score: float = 1.0
    warnings: tuple[str, ...] = ()
    first_day: dt.date | None = None  # set for a catch-up batch: the landing days first_day..day
    # Entries of the day directories that are not deliveries (symlinks, subfolders, FIFOs,
    # names not matching the source's pattern): never read, each one also a warning.
    files_refused: tuple[RefusedFile, ...] = ()


def ingest_landing_day(
    spark: SparkSession,
    settings: LakehouseSettings,
    source: str,
    day: dt.date,
    *,
    since: dt.date | None = None,
    landing_dir: Path | str | None = None,
    contract: TableContract | None = None,
) -> BronzeBatch:
    """Ingest the files of `<landing_dir>/<source>/<YYYY-MM-DD>/` not yet in Bronze (default: settings.landing_location).

    With `since`, every landing day from `since` to `day` goes into one batch (a catch-up):
    one Spark job instead of one per day, each row still dated by its own file's day.
    """
    delivery = source_delivery(settings, source)
    file_format = delivery.format
    contract = contract or load_contracts(contracts_path(settings, BRONZE)).table(source)
    days = landing.landing_days(since or day, day)
    location = landing_dir or settings.landing_location
    filesystem = storage.filesystem(settings, str(location))
    listings = [landing.list_day(location, source, each, delivery.pattern, filesystem=filesystem) for each in days]
    files = [f for listing in listings for f in listing.files]
    refused = tuple(entry for listing in listings for entry in listing.refused)
    refusals = tuple(f"refused {entry.path}: {entry.reason}" for entry in refused)
    done = ingested_files.ingested(spark, settings, source, days[0], days[-1])
    new = [f for f in files if (str(f.path), f.sha256) not in done]
    skipped = tuple(str(f.path) for f in files if f not in new)
    table = TableName(BRONZE, source).qualified(settings)
    first_day = since if since is not None and since != day else None
    if not new:
        return BronzeBatch(
            source, day, None, (), skipped, 0, 0, 0, table, warnings=refusals, first_day=first_day, files_refused=refused
        )

    batch_id = landing.batch_id(source, new)
    ingested_at = dt.datetime.now(dt.UTC)
    rows_read = sum(f.data_lines(file_format) for f in new)
    directory = tables.registered_attempt(spark, settings, source, tables.batch_directory(settings, source, batch_id))
    if directory is not None:
        # A crash after add_files: the rows are in the table, only the record is missing.
        rows_written, rows_unparseable = tables.count_batch(spark, directory)
        columns = spark.read.parquet(str(directory)).columns
    else:
        declared = [c.name for c in contract.columns if c.name not in METADATA_COLUMNS]
        rows = bronze_rows(spark, file_format, new, batch_id=batch_id, ingested_at=ingested_at, declared_columns=declared,
                           filesystem=filesystem)
        columns = rows.columns
        tables.ensure_table(spark, settings, source, rows.schema)
        # A fresh folder per attempt: never one that an earlier attempt (or a live writer) uses.
        directory = tables.new_attempt_directory(tables.batch_directory(settings, source, batch_id))
        rows_written, rows_unparseable = _load(spark, settings, source, rows, directory, rows_read)
    if rows_written != rows_read:
        raise BronzeError(
            f"{source} {landing.days_label(days[0], days[-1])}: the files have {rows_read} data lines but batch {directory} holds "
            f"{rows_written} rows; nothing was recorded as ingested. Bronze must keep every line: "
            "report this with the landing files"
        )
    ingested_files.record(
        spark,
        settings,
        source=source,
        landing_format=file_format,
        batch_id=batch_id,
        files=new,
        ingested_at=ingested_at,
    )
    ingested = tuple(str(f.path) for f in new)
    findings = check_batch(contract, columns, rows_read, rows_unparseable)
    return BronzeBatch(
        source, day, batch_id, ingested, skipped, rows_read, rows_written, rows_unparseable, table,
        dq_score=findings.dq_score, warnings=refusals + findings.warnings, first_day=first_day, files_refused=refused,
    )


def bronze_rows(
    spark: SparkSession,
    file_format: LandingFormat,
    files: list[LandingFile],
    *,
    batch_id: str,
    ingested_at: dt.datetime,
    declared_columns: Sequence[str] = (),
    filesystem: pafs.FileSystem | None = None,
) -> DataFrame:
    """The batch's Bronze rows (lazy, but for the JSON keys it collects first).

    `declared_columns`: the source columns of its Bronze contract, which a CSV header must hold.
    `filesystem`: the one the files are on, when that is S3 (catalog.storage).
    """
    lines = transform.split_lines(landing.read_contents(spark, files))
    if file_format is LandingFormat.CSV:
        headers = {
            str(f.path): transform.parse_csv_header(landing.read_first_line(f.path, filesystem), declared_columns) for f in files
        }
        parsed = transform.parse_lines(lines, file_format, csv_headers=headers)
    else:
        parsed = transform.parse_lines(lines, file_format, json_keys=transform.json_columns(lines))
    days = {str(f.path): f.day for f in files}
    return transform.with_batch_metadata(parsed, batch_id=batch_id, landing_days=days, ingested_at=ingested_at)


def _load(
    spark: SparkSession, settings: LakehouseSettings, source: str, rows: DataFrame, directory: str, rows_read: int
) -> tuple[int, int]:
    """Write and register the batch, unless it has no rows; (rows written, unparseable)."""
    if rows_read == 0:
        return 0, 0
    tables.write_batch(rows, directory)
    rows_written, rows_unparseable = tables.count_batch(spark, directory)
    if rows_written == rows_read:
        tables.register_batch(spark, settings, source, directory)
    return rows_written, rows_unparseable
