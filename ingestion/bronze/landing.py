"""Extract: a source's landing files for one or more days, described (hash, lines) and read as bytes.

Layout: `<landing dir>/<source>/<YYYY-MM-DD>/<file>`. Names starting with `.` or `_` are
not deliveries (partial writes, markers), as in Hadoop and Spark.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ingestion.bronze.columns import SOURCE_FILE
from ingestion.bronze.errors import BronzeError
from ingestion.bronze.source_formats import LandingFormat
from ingestion.bronze.transform import CONTENT

_CHUNK_BYTES = 1 << 20
# Spark expands these in a path as a glob, so a file name holding one would not be read as itself.
_GLOB_CHARACTERS = set("{}[]*?\\")


@dataclass(frozen=True)
class LandingFile:
    path: Path  # absolute
    sha256: str  # of the content
    size: int  # bytes
    lines: int  # physical lines; a last line without '\n' counts
    day: dt.date  # the landing day: the name of the file's day directory

    def data_lines(self, landing_format: LandingFormat) -> int:
        """Lines that become rows: all but a CSV file's header."""
        has_header = landing_format is LandingFormat.CSV and self.lines > 0
        return self.lines - 1 if has_header else self.lines


def landing_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the last day {last} is before the first day {first}")
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def days_label(first: dt.date, last: dt.date) -> str:
    """`2026-01-01`, or `2026-01-01..2026-01-27` for a range."""
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


def day_directory(landing_dir: Path, source: str, day: dt.date) -> Path:
    return landing_dir.resolve() / source / day.isoformat()


def list_day_files(landing_dir: Path, source: str, day: dt.date) -> list[LandingFile]:
    """The day's landing files, sorted by name. A missing day directory means "not delivered"."""
    directory = day_directory(landing_dir, source, day)
    if not directory.is_dir():
        raise BronzeError(
            f"no delivery of {source} for {day.isoformat()}: {directory} does not exist "
            "(a day without records still has an empty file); check the landing_dir you passed "
            "or LAKEHOUSE_HOME (the landing dir is <home>/landing)"
        )
    paths = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
    return [_describe(path, day) for path in paths]


def batch_id(source: str, files: Sequence[LandingFile]) -> str:
    """The same files with the same content and landing days give the same id, in any order."""
    identity = [source, sorted([str(f.path), f.sha256, f.day.isoformat()] for f in files)]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def read_first_line(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.readline()


def read_contents(spark: SparkSession, files: Sequence[LandingFile]) -> DataFrame:
    """One row per file: `_source_file` (the absolute path), `content` (bytes).

    The files may span several day directories of one source (a catch-up batch).
    """
    source_directories = {f.path.parent.parent for f in files}
    if len(source_directories) != 1:
        raise ValueError(f"read_contents reads one source directory at a time, got {sorted(map(str, source_directories))}")
    (source_directory,) = source_directories
    for landing_file in files:
        if _GLOB_CHARACTERS & set(str(landing_file.path)):
            raise BronzeError(
                f"{landing_file.path}: Spark would read a path holding any of {''.join(sorted(_GLOB_CHARACTERS))} "
                "as a pattern; rename the file or move the landing dir"
            )
    read = spark.read.format("binaryFile").load([str(f.path) for f in files])
    # Spark names files by URI ("file:/..."); within one source directory the day
    # directory and the file name are enough.
    parts = F.split(F.col("path"), "/")
    relative = F.concat(F.element_at(parts, -2), F.lit("/"), F.element_at(parts, -1))
    return read.select(F.concat(F.lit(f"{source_directory}/"), relative).alias(SOURCE_FILE), F.col(CONTENT))


def _describe(path: Path, day: dt.date) -> LandingFile:
    digest = hashlib.sha256()
    size = line_ends = 0
    last_byte = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            line_ends += chunk.count(b"\n")
            last_byte = chunk[-1:]
    unterminated_last_line = size > 0 and last_byte != b"\n"
    return LandingFile(path, digest.hexdigest(), size, line_ends + unterminated_last_line, day)
