"""What each pipeline job reads and writes, as OpenLineage datasets.

`run_day` wraps every Bronze and Silver job in `Lineage.job` (catalog/lineage.py);
the functions here name the job's inputs before it starts, and fill in its outputs,
row counts and quality figures from the BronzeBatch or SilverCommit it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import data_quality_metrics_input_dataset

from catalog.lineage import (
    BatchQualityOutputDatasetFacet,
    JobRun,
    input_path,
    input_table,
    output_statistics,
    output_table,
)
from catalog.naming import BRONZE, QUARANTINE, SILVER, TableName
from catalog.settings import LakehouseSettings
from ingestion.bronze import BronzeBatch
from ingestion.contracts.contract import TableContract
from ingestion.silver.entities import SilverEntity, referenced_tables
from ingestion.silver.publish import SilverCommit

Columns = Iterable[tuple[str, str]]


def bronze_job(source: str) -> str:
    """Named after the table it writes, as its lineage dataset is."""
    return str(TableName(BRONZE, source))


def silver_job(table: str) -> str:
    return str(TableName(SILVER, table))


def bronze_inputs(settings: LakehouseSettings, source: str, origin: tuple[str, str] | None = None, **facets: Any) -> list[InputDataset]:
    """The source's landing folder (one dataset per source, whatever the day), or the server
    object it is extracted from (`origin`: namespace and name, `ingestion.sources.job.lineage_origin`)."""
    if origin is not None:
        return [InputDataset(*origin, inputFacets=facets)]
    return [input_path(f"{settings.landing_location}/{source}", **facets)]


def finish_bronze(
    run: JobRun, settings: LakehouseSettings, batch: BronzeBatch, columns: Columns, origin: tuple[str, str] | None = None
) -> None:
    metrics = _read(batch.rows_read, files=len(batch.files_ingested))
    run.inputs = bronze_inputs(settings, batch.source, origin, dataQualityMetrics=metrics)
    quality = BatchQualityOutputDatasetFacet(
        rowsRead=batch.rows_read,
        rowsAccepted=batch.rows_written - batch.rows_unparseable,
        # Bronze keeps every line: unparseable ones are counted, not quarantined.
        rowsQuarantined=batch.rows_unparseable,
        dqScore=batch.dq_score,
        warnings=list(batch.warnings),
    )
    run.outputs = [_table_with_quality(settings, TableName(BRONZE, batch.source), columns, batch.rows_written, quality)]


def silver_inputs(settings: LakehouseSettings, entity: SilverEntity, contract: TableContract) -> list[InputDataset]:
    """Bronze rows of the entity's source, and every Silver table the batch is checked or converted against."""
    parents = list(referenced_tables(entity, contract))
    if entity.scd2_tracked:
        parents.append(entity.table)  # the current versions the batch is compared with
    inputs = [input_table(settings, TableName(BRONZE, entity.source))]
    inputs += [input_table(settings, TableName(SILVER, table)) for table in dict.fromkeys(parents)]
    return inputs


def finish_silver(run: JobRun, settings: LakehouseSettings, entity: SilverEntity, commit: SilverCommit, columns: Columns) -> None:
    bronze = input_table(settings, TableName(BRONZE, entity.source), dataQualityMetrics=_read(commit.rows_read))
    run.inputs = [bronze, *run.inputs[1:]]
    quality = BatchQualityOutputDatasetFacet(
        rowsRead=commit.rows_read,
        rowsAccepted=commit.rows_accepted,
        rowsQuarantined=commit.rows_quarantined,
        dqScore=commit.dq_score,
        lateRows=commit.late_rows,
        snapshotId=commit.snapshot_id,
        warnings=list(commit.warnings),
    )
    run.outputs = [
        _table_with_quality(settings, TableName(SILVER, entity.table), columns, commit.rows_merged, quality),
        output_table(settings, QUARANTINE, outputStatistics=output_statistics(commit.rows_quarantined)),
    ]


def _table_with_quality(
    settings: LakehouseSettings, table: TableName, columns: Columns, rows_written: int, quality: BatchQualityOutputDatasetFacet
) -> OutputDataset:
    """The table a job wrote: its schema, the rows written and the batch's quality facet."""
    return output_table(
        settings, table, columns=columns,
        outputStatistics=output_statistics(rows_written), **{BatchQualityOutputDatasetFacet.KEY: quality},
    )


def _read(rows: int, files: int | None = None) -> data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet:
    return data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
        columnMetrics={}, rowCount=rows, fileCount=files
    )
