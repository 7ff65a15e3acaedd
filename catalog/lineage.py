"""OpenLineage events for every job: START, then COMPLETE or FAIL, with what it read and wrote.

`Lineage.from_settings` builds an `openlineage-python` client on the configured
transport (`lineage.transport`): a JSON-lines file (`<home>/lineage/events.jsonl`)
or HTTP to an OpenLineage backend such as Marquez. `Lineage.job` wraps one job run;
`child` links the runs of one command to its parent run with the `parent` facet.
`dbt_events` turns a dbt invocation's artifacts into one run per Gold model.

Dataset names follow https://openlineage.io/docs/spec/naming, and are the same in
every event so that the jobs join into one graph:

- Iceberg tables: namespace = the REST catalog's URI, name = `<schema>.<table>`
  (`silver.orders`). This is the `TABLE` symlink the OpenLineage Spark listener
  writes for the same tables, so its events and ours meet. A `symlinks` facet adds
  the name SQL users and dbt see: `trino://host:port` / `iceberg.silver.orders`.
- Files and folders: namespace `file`, name = the absolute path.

Emitting is best effort: a lineage backend that is down must not stop the data
pipeline, so a failed emit is logged once and the job carries on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import traceback
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse
from typing import Any, ClassVar

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    JobFacet,
    OutputDatasetFacet,
    RunFacet,
    data_quality_assertions_dataset,
    error_message_run,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
    symlinks_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from openlineage.client.transport.transport import Transport
from openlineage.client.uuid import generate_new_uuid

from catalog.naming import GOLD, TableName
from catalog.settings import LakehouseSettings

log = logging.getLogger(__name__)

PRODUCER = f"urn:lakehouse:{metadata.version('lakehouse')}"
FILE_NAMESPACE = "file"


# --- Transport ---------------------------------------------------------------


def transport(settings: LakehouseSettings) -> Transport:
    """The transport `lineage.transport` names, built from the library's own config classes."""
    lineage = settings.lineage
    if lineage.transport == "http":
        assert lineage.url is not None  # LineageSettings checks it
        api_key = lineage.api_key.get_secret_value()
        if api_key:
            return HttpTransport(HttpConfig(url=lineage.url, auth=ApiKeyTokenProvider({"apiKey": api_key})))
        return HttpTransport(HttpConfig(url=lineage.url))
    assert lineage.file is not None  # resolved by LakehouseSettings
    lineage.file.parent.mkdir(parents=True, exist_ok=True)
    # append: one file of JSON lines, rather than one file per event.
    return FileTransport(FileConfig(log_file_path=str(lineage.file), append=True))


# --- Datasets ----------------------------------------------------------------


def table_dataset(settings: LakehouseSettings, table: TableName) -> tuple[str, str]:
    """(namespace, name) of an Iceberg table in the shared catalog."""
    return settings.catalog.uri, str(table)


def table_facets(settings: LakehouseSettings, table: TableName, columns: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """The Trino name of a table, and its columns when known."""
    trino = settings.trino
    facets: dict[str, Any] = {
        "symlinks": symlinks_dataset.SymlinksDatasetFacet(
            identifiers=[
                symlinks_dataset.Identifier(
                    namespace=f"trino://{trino.host}:{trino.port}",
                    name=table.qualified(settings),
                    type="TABLE",
                )
            ]
        )
    }
    fields = [schema_dataset.SchemaDatasetFacetFields(name=name, type=kind) for name, kind in columns]
    if fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=fields)
    return facets


def input_table(settings: LakehouseSettings, table: TableName, **input_facets: Any) -> InputDataset:
    namespace, name = table_dataset(settings, table)
    return InputDataset(namespace, name, facets=table_facets(settings, table), inputFacets=input_facets)


def output_table(
    settings: LakehouseSettings, table: TableName, *, columns: Iterable[tuple[str, str]] = (), **output_facets: Any
) -> OutputDataset:
    namespace, name = table_dataset(settings, table)
    return OutputDataset(namespace, name, facets=table_facets(settings, table, columns), outputFacets=output_facets)


def input_path(path: Path | str, **input_facets: Any) -> InputDataset:
    """A folder read as input: `file` and its absolute path, or, per OpenLineage's naming, `s3://<bucket>` and the key."""
    parsed = urlparse(str(path))
    if parsed.scheme in ("s3", "s3a"):
        return InputDataset(f"s3://{parsed.netloc}", parsed.path.lstrip("/"), inputFacets=input_facets)
    return InputDataset(FILE_NAMESPACE, str(Path(path).resolve()), inputFacets=input_facets)


def output_statistics(rows: int, files: int | None = None) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows, fileCount=files)


@attr.define
class BatchQualityOutputDatasetFacet(OutputDatasetFacet):
    """What one batch did to its output table, as the run records in `ops.stage_metrics` it.

    Key `lakehouse_batchQuality` (custom facets carry a prefix of their producer).
    """

    rowsRead: int  # noqa: N815
    rowsAccepted: int  # noqa: N815
    rowsQuarantined: int  # noqa: N815
    dqScore: float  # noqa: N815
    lateRows: int | None = attr.field(default=None)  # noqa: N815
    snapshotId: int | None = attr.field(default=None)  # noqa: N815
    warnings: list[str] = attr.field(factory=list)

    KEY: ClassVar[str] = "lakehouse_batchQuality"

    @staticmethod
    def _get_schema() -> str:
        # Described here and in the README; no JSON schema is published for it.
        return "urn:lakehouse:facets:BatchQualityOutputDatasetFacet"


# --- Runs --------------------------------------------------------------------


@dataclass
class JobRun:
    """One run of one job: the caller adds what it learned (outputs, input facets) before it ends."""

    job_name: str
    run_id: str
    inputs: list[InputDataset] = field(default_factory=list)
    outputs: list[OutputDataset] = field(default_factory=list)
    facets: dict[str, RunFacet] = field(default_factory=dict)
    job_facets: dict[str, JobFacet] = field(default_factory=dict)


class _Emitter:
    """The client, shared by a command's Lineage objects; warns about a failing transport once."""

    def __init__(self, client: OpenLineageClient | None) -> None:
        self.client = client
        self.warned = False
        # A day's jobs run in threads; one event at a time keeps file lines whole.
        self.lock = threading.Lock()

    def emit(self, event: RunEvent) -> None:
        if self.client is None:
            return
        try:
            with self.lock:
                self.client.emit(event)
        except Exception as exc:  # noqa: BLE001 - lineage must never stop the pipeline
            if not self.warned:
                log.warning("OpenLineage events are not delivered (%s); the run continues without them", exc)
                self.warned = True


class Lineage:
    """Emits the runs of one command; `child` gives the emitter for the jobs under a parent run."""

    def __init__(self, emitter: _Emitter, namespace: str, parent: parent_run.ParentRunFacet | None = None) -> None:
        self._emitter = emitter
        self.namespace = namespace
        self.parent = parent

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> Lineage:
        client = OpenLineageClient(transport=transport(settings)) if settings.lineage.enabled else None
        return cls(_Emitter(client), settings.lineage.namespace)

    @classmethod
    def disabled(cls) -> Lineage:
        return cls(_Emitter(None), "lakehouse")

    @property
    def enabled(self) -> bool:
        return self._emitter.client is not None

    def child(self, run: JobRun) -> Lineage:
        """The emitter for the jobs `run` starts: their events carry `run` as their parent."""
        root = self.parent.root if self.parent and self.parent.root else None
        if self.parent is not None and root is None:
            root = parent_run.Root(
                run=parent_run.RootRun(runId=self.parent.run.runId),
                job=parent_run.RootJob(namespace=self.parent.job.namespace, name=self.parent.job.name),
            )
        facet = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run.run_id),
            job=parent_run.Job(namespace=self.namespace, name=run.job_name),
            root=root,
        )
        return Lineage(self._emitter, self.namespace, facet)

    @contextmanager
    def job(
        self,
        name: str,
        *,
        inputs: Iterable[InputDataset] = (),
        run_id: str | None = None,
        day: dt.date | None = None,
        integration: str = "SPARK",
        job_type: str = "JOB",
    ) -> Iterator[JobRun]:
        """START now; COMPLETE when the block ends, or FAIL with the error if it raises."""
        run = JobRun(name, run_id or str(generate_new_uuid()), list(inputs))
        run.job_facets["jobType"] = job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration=integration, jobType=job_type
        )
        if day is not None:
            run.facets["nominalTime"] = nominal_time(day)
        self.emit(RunState.START, run)
        try:
            yield run
        except BaseException as exc:
            run.facets["errorMessage"] = error_message(exc)
            self.emit(RunState.FAIL, run)
            raise
        self.emit(RunState.COMPLETE, run)

    def emit(self, state: RunState, run: JobRun, at: dt.datetime | None = None) -> None:
        self.send([self.event(state, run, at)])

    def send(self, events: Iterable[RunEvent]) -> None:
        for event in events:
            self._emitter.emit(event)

    def event(self, state: RunState, run: JobRun, at: dt.datetime | None = None) -> RunEvent:
        facets = dict(run.facets)
        if self.parent is not None:
            facets["parent"] = self.parent
        return RunEvent(
            eventType=state,
            eventTime=(at or dt.datetime.now(dt.UTC)).isoformat(),
            run=Run(runId=run.run_id, facets=facets),
            job=Job(namespace=self.namespace, name=run.job_name, facets=dict(run.job_facets)),
            inputs=list(run.inputs),
            outputs=list(run.outputs) if state != RunState.START else [],
            producer=PRODUCER,
        )


def run_uuid(hex_id: str) -> str:
    """OpenLineage run ids are UUIDs in their dashed form; ours (ops.runs) are hex."""
    return str(uuid.UUID(hex=hex_id))


def nominal_time(day: dt.date) -> nominal_time_run.NominalTimeRunFacet:
    """The business day a pipeline job ran for, as the [day, next day) interval."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return nominal_time_run.NominalTimeRunFacet(
        nominalStartTime=start.isoformat(), nominalEndTime=(start + dt.timedelta(days=1)).isoformat()
    )


def error_message(exc: BaseException) -> error_message_run.ErrorMessageRunFacet:
    return error_message_run.ErrorMessageRunFacet(
        message=f"{type(exc).__name__}: {exc}",
        programmingLanguage="python",
        stackTrace="".join(traceback.format_exception(exc)),
    )


# --- dbt (Gold) --------------------------------------------------------------

_DBT_FAILED = frozenset({"error", "fail", "runtime error"})


def dbt_events(
    settings: LakehouseSettings, lineage: Lineage, manifest: Mapping[str, Any], run_results: Mapping[str, Any]
) -> list[RunEvent]:
    """One START and one COMPLETE (or FAIL) per model dbt ran, from its artifacts.

    Inputs are the model's `depends_on` sources and models, the output its relation with
    the columns the manifest declares; the model's tests become a data-quality assertions
    facet on it. Event times are dbt's own execution timings. Models dbt skipped did not run
    and have no events. `lineage` is usually the child of the dbt invocation's run.
    """
    nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    tests = _test_results(manifest, run_results)
    events = []
    for result in run_results.get("results", []):
        node = nodes.get(result["unique_id"])
        if node is None or node["resource_type"] != "model" or result["status"] == "skipped":
            continue
        started, completed = _execution_window(result)
        schema, table = node["schema"], node.get("alias") or node["name"]
        columns = [(c["name"], c["data_type"]) for c in node.get("columns", {}).values() if c.get("data_type")]
        run = JobRun(
            f"{GOLD}.{node['name']}",
            str(generate_new_uuid()),
            inputs=[_dbt_input(settings, nodes[parent]) for parent in node["depends_on"]["nodes"] if parent in nodes],
        )
        run.job_facets["jobType"] = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="DBT", jobType="MODEL")
        events.append(lineage.event(RunState.START, run, started))
        facets: dict[str, Any] = {}
        if result.get("adapter_response", {}).get("rows_affected", -1) >= 0:
            facets["outputStatistics"] = output_statistics(result["adapter_response"]["rows_affected"])
        run.outputs = [output_table(settings, TableName(schema, table), columns=columns, **facets)]
        if tests.get(node["unique_id"]):
            run.outputs[0].facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=tests[node["unique_id"]]
            )
        failed = result["status"] in _DBT_FAILED
        if failed:
            run.facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=result.get("message") or result["status"], programmingLanguage="sql"
            )
        events.append(lineage.event(RunState.FAIL if failed else RunState.COMPLETE, run, completed))
    return events


def dbt_artifacts(target_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """manifest.json and run_results.json, if both come from the same (last) invocation.

    Commands that run nothing (`parse`, `docs generate`) rewrite the manifest only; the
    run results left by an earlier invocation then describe another run, and are ignored.
    """
    try:
        manifest = json.loads((target_dir / "manifest.json").read_text())
        run_results = json.loads((target_dir / "run_results.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    invocation = manifest.get("metadata", {}).get("invocation_id")
    if invocation is None or run_results.get("metadata", {}).get("invocation_id") != invocation:
        return None
    return manifest, run_results


def _dbt_input(settings: LakehouseSettings, node: Mapping[str, Any]) -> InputDataset:
    table = node.get("identifier") if node["resource_type"] == "source" else node.get("alias")
    return input_table(settings, TableName(node["schema"], table or node["name"]))


def _test_results(manifest: Mapping[str, Any], run_results: Mapping[str, Any]) -> dict[str, list]:
    """Per model: its dbt data tests that ran, as OpenLineage assertions."""
    by_model: dict[str, list] = {}
    nodes = manifest.get("nodes", {})
    for result in run_results.get("results", []):
        test = nodes.get(result["unique_id"])
        if test is None or test["resource_type"] != "test" or not test.get("attached_node"):
            continue
        if result["status"] == "skipped":
            continue
        kind = (test.get("test_metadata") or {}).get("name") or test["name"]
        by_model.setdefault(test["attached_node"], []).append(
            data_quality_assertions_dataset.Assertion(
                assertion=kind,
                success=result["status"] == "pass",
                column=test.get("column_name"),
                severity=str(test.get("config", {}).get("severity", "")).lower() or None,
                name=test["name"],
            )
        )
    return by_model


def _execution_window(result: Mapping[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    for timing in result.get("timing", []):
        if timing.get("name") == "execute" and timing.get("started_at") and timing.get("completed_at"):
            return _parse_time(timing["started_at"]), _parse_time(timing["completed_at"])
    return None, None


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
