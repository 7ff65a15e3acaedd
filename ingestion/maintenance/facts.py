"""Extract: what maintenance needs to know of a table, read with PyIceberg (no Spark job).

The current snapshot's files and manifests, every snapshot with its parent and time, the
branches and tags, and what the table's folder holds in storage. Listing the folder goes
through `pyarrow.fs`, which reads a local folder and object storage alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table

from catalog.naming import TableName
from catalog.storage import count_files
from ingestion.operations import MAINTENANCE_COUNTS
from ingestion.sources.commit import POSITION_PROPERTY

DATA, POSITION_DELETES, EQUALITY_DELETES = 0, 1, 2  # Iceberg's `content` of a file entry


@dataclass(frozen=True)
class FileFacts:
    path: str
    partition: str  # the partition tuple as text: files group by it
    size: int
    content: int


@dataclass(frozen=True)
class SnapshotFacts:
    snapshot_id: int
    parent_id: int | None
    timestamp_ms: int
    has_position: bool  # carries a source position (ingestion/sources/commit.py)


@dataclass(frozen=True)
class RefFacts:
    name: str
    snapshot_id: int
    is_branch: bool


@dataclass(frozen=True)
class TableStats:
    """The counts maintenance reports before and after, as `ops.maintenance` names them."""

    snapshots: int
    data_files: int  # in the current snapshot
    delete_files: int  # position and equality delete files in the current snapshot
    data_bytes: int  # data and delete files of the current snapshot
    manifests: int  # of the current snapshot
    stored_files: int  # everything under the table's location: data, deletes, manifests, metadata JSON
    stored_bytes: int

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in MAINTENANCE_COUNTS)


@dataclass(frozen=True)
class TableFacts:
    name: TableName
    location: str
    files: tuple[FileFacts, ...]
    manifests: int
    snapshots: tuple[SnapshotFacts, ...]
    refs: tuple[RefFacts, ...]
    sorted: bool  # the table declares a sort order
    properties: dict[str, str]
    stored_files: int
    stored_bytes: int

    @property
    def stats(self) -> TableStats:
        data = [f for f in self.files if f.content == DATA]
        return TableStats(
            snapshots=len(self.snapshots),
            data_files=len(data),
            delete_files=len(self.files) - len(data),
            data_bytes=sum(f.size for f in self.files),
            manifests=self.manifests,
            stored_files=self.stored_files,
            stored_bytes=self.stored_bytes,
        )

    def ancestors(self, snapshot_id: int | None) -> list[SnapshotFacts]:
        """`snapshot_id` and its ancestors that still exist, newest first."""
        by_id = {s.snapshot_id: s for s in self.snapshots}
        chain = []
        while snapshot_id is not None and snapshot_id in by_id:
            chain.append(by_id[snapshot_id])
            snapshot_id = by_id[snapshot_id].parent_id
        return chain


def table_facts(table: Table, name: TableName) -> TableFacts:
    metadata = table.metadata
    files = table.inspect.files() if metadata.current_snapshot_id is not None else None
    file_facts: tuple[FileFacts, ...] = ()
    if files is not None and files.num_rows:
        columns = files.select(["file_path", "partition", "file_size_in_bytes", "content"]).to_pylist()
        file_facts = tuple(
            FileFacts(row["file_path"], json.dumps(row["partition"], sort_keys=True, default=str), row["file_size_in_bytes"], row["content"])
            for row in columns
        )
    manifests = table.inspect.manifests().num_rows if metadata.current_snapshot_id is not None else 0
    snapshots = tuple(
        SnapshotFacts(
            s.snapshot_id, s.parent_snapshot_id, s.timestamp_ms,
            bool(s.summary is not None and s.summary.get(POSITION_PROPERTY) is not None),
        )
        for s in metadata.snapshots
    )
    refs = tuple(RefFacts(ref_name, ref.snapshot_id, ref.snapshot_ref_type == "branch") for ref_name, ref in metadata.refs.items())
    stored_files, stored_bytes = stored(table.io, metadata.location)
    return TableFacts(
        name, metadata.location, file_facts, manifests, snapshots, refs,
        sorted=not table.sort_order().is_unsorted, properties=dict(metadata.properties),
        stored_files=stored_files, stored_bytes=stored_bytes,
    )


def stored(io: FileIO, location: str) -> tuple[int, int]:
    """(files, bytes) under a location, whatever wrote them, through the table's own file system
    (PyIceberg's, configured for the warehouse: a local folder or the S3 endpoint)."""
    if not isinstance(io, PyArrowFileIO):
        raise TypeError(f"maintenance lists files with PyIceberg's PyArrowFileIO, not {type(io).__name__}")
    scheme, netloc, path = PyArrowFileIO.parse_location(location)
    return count_files(io.fs_by_scheme(scheme, netloc), path)
