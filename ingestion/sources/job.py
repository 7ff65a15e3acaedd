"""`ingest_source`: one positioned source (jdbc, kafka, http) from its committed position to now -> one Bronze batch.

Extract (the kind's `extract`, in `jdbc.py`, `kafka.py`, `http_api.py`): read from the
position committed with Bronze to the source's current end, as Bronze rows.
Load (`commit.py`): append them with the new position in one Iceberg commit.

Replays: the position moves only with the rows, so a rerun after a commit reads from
after them (nothing new, nothing written), and a rerun after a crash before the commit
reads the same range again. The rows are dated with the run's day (`_ingest_date`),
which is what the day's Silver job reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
from collections.abc import Iterable
from typing import Any, Protocol

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import PARSE_ERROR
from ingestion.bronze.contract_checks import check_batch
from ingestion.bronze.errors import BronzeError
from ingestion.bronze.job import BronzeBatch
from ingestion.contracts.contract import TableContract, contracts_path, load_contracts
from ingestion.sources.commit import Extract, commit_rows, committed_position, position_json

# Each kind's extractor, imported on first use: a file-only run needs none of their clients.
EXTRACTORS = {"jdbc": "ingestion.sources.jdbc", "kafka": "ingestion.sources.kafka", "http": "ingestion.sources.http_api"}


class PositionedSource(Protocol):
    name: str
    kind: str


def ingest_source(
    spark: SparkSession,
    settings: LakehouseSettings,
    source: PositionedSource,
    day: dt.date,
    *,
    contract: TableContract | None = None,
) -> BronzeBatch:
    position = committed_position(settings, source.name)
    batch_id = batch_id_for(source.name, position)
    extract: Extract = _extractor(source.kind)(
        spark, settings, source, position, batch_id=batch_id, ingested_at=dt.datetime.now(dt.UTC), day=day
    )
    written = commit_rows(spark, settings, source.name, extract.rows, extract.position)
    table = TableName(BRONZE, source.name).qualified(settings)
    if written != extract.rows_read:
        raise BronzeError(
            f"{source.name} {day}: {extract.unit} gave {extract.rows_read} records but Bronze appended {written}: "
            "report this with the run's log"
        )
    if not written:
        return BronzeBatch(source.name, day, None, (), (), 0, 0, 0, table)
    unparseable = extract.rows.where(F.col(PARSE_ERROR).isNotNull()).count()
    contract = contract or load_contracts(contracts_path(settings, BRONZE)).table(source.name)
    findings = check_batch(contract, extract.rows.columns, written, unparseable)
    return BronzeBatch(
        source.name, day, batch_id, (extract.unit,), (), written, written, unparseable, table,
        dq_score=findings.dq_score, warnings=findings.warnings,
    )


def reads_landing_files(settings: LakehouseSettings, source: PositionedSource) -> bool:
    """True when Bronze reads `source` from landing files: a file source, or every source with `pipeline.sources: files`."""
    return settings.pipeline.sources == "files" or source.kind == "file"


# The service each positioned kind reads from (catalog/services.py).
SERVICE_OF_KIND = {"jdbc": "postgres", "kafka": "kafka", "http": "crm-api"}


def services_needed(settings: LakehouseSettings, sources: Iterable[PositionedSource]) -> list[str]:
    """The source servers a run reads from (none with `pipeline.sources: files`), in a stable order."""
    kinds = {source.kind for source in sources if not reads_landing_files(settings, source)}
    return [service for kind, service in SERVICE_OF_KIND.items() if kind in kinds]


def lineage_origin(settings: LakehouseSettings, source: Any) -> tuple[str, str]:
    """The source as an OpenLineage dataset (namespace, name), named as the OpenLineage naming spec names them."""
    if source.kind == "jdbc":
        return f"postgres://{settings.postgres.host}:{settings.postgres.port}", f"{source.database}.{source.table}"
    if source.kind == "kafka":
        return f"kafka://{settings.kafka.host}:{settings.kafka.port}", source.topic
    if source.kind == "http":
        return f"http://{settings.crm_api.host}:{settings.crm_api.port}", f"/crm/v3/objects/{source.object_type}"
    raise BronzeError(f"{source.name}: a {source.kind} source has no server")


def batch_id_for(source: str, position: dict[str, Any] | None) -> str:
    """The batch that starts at `position`: a rerun of the same range gets the same id."""
    start = "start" if position is None else position_json(position)
    return hashlib.sha256(f"{source}\n{start}".encode()).hexdigest()


def _extractor(kind: str):  # noqa: ANN202 - each module's `extract`
    try:
        return importlib.import_module(EXTRACTORS[kind]).extract
    except KeyError:
        raise BronzeError(f"no extractor for source kind {kind!r}: use one of {', '.join(EXTRACTORS)} or file") from None
