"""Extract: a source's landing files for one or more days, described (hash, lines) and read as bytes.

Layout: `<landing dir>/<source>/<YYYY-MM-DD>/<file>`. Names starting with `.` or `_` are
not deliveries (partial writes, markers), as in Hadoop and Spark, and are passed over
silently. Every other entry of a day directory is a delivery only if it is a regular
file whose name matches the source's pattern (`source_formats.py`); the rest is refused,
with the reason, and never read: symlinks (never followed, not even to a file inside the
landing dir), subfolders (never descended into), FIFOs, sockets and devices (opening a
FIFO would block). A source or day directory that is a symlink is an error.

The landing dir may be an S3 prefix too (`s3://bucket/landing`, the cluster deployment):
there, objects are listed through the warehouse's pyarrow file system; a key one level
deeper is a subfolder, refused like a local one, and objects have no links or devices.
"""

from __future__ import annotations

import datetime as dt
import errno
import fnmatch
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow.fs as pafs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog.storage import fs_path, is_s3

from ingestion.bronze.columns import SOURCE_FILE
from ingestion.bronze.errors import BronzeError
from ingestion.bronze.source_formats import LandingFormat
from ingestion.bronze.transform import CONTENT

_CHUNK_BYTES = 1 << 20
# Spark expands these in a path as a glob, so a file name holding one would not be read as itself.
_GLOB_CHARACTERS = set("{}[]*?\\")
# Opening never follows a symlink at the last component (one swapped in after the listing
# fails with ELOOP) and never blocks (a FIFO swapped in opens at once, then fails the
# regular-file check).
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
SYMLINK_REFUSED = "symlink refused"
NOT_A_REGULAR_FILE = "not a regular file"
SUBFOLDER = "subfolder"
_REMOVED = "removed while the day was listed"


@dataclass(frozen=True)
class LandingFile:
    path: Path | str  # absolute: a local Path, or `s3://bucket/key`
    sha256: str  # of the content
    size: int  # bytes
    lines: int  # physical lines; a last line without '\n' counts
    day: dt.date  # the landing day: the name of the file's day directory

    def data_lines(self, landing_format: LandingFormat) -> int:
        """Lines that become rows: all but a CSV file's header."""
        has_header = landing_format is LandingFormat.CSV and self.lines > 0
        return self.lines - 1 if has_header else self.lines


@dataclass(frozen=True)
class RefusedFile:
    """An entry of a day directory that is not a delivery: not read, not recorded as ingested."""

    path: Path | str  # absolute, as listed (not resolved); or `s3://bucket/key`
    reason: str  # e.g. "symlink refused (-> /etc/passwd)", "does not match the delivery pattern *.csv"


@dataclass(frozen=True)
class DayListing:
    files: tuple[LandingFile, ...]  # sorted by name
    refused: tuple[RefusedFile, ...]  # sorted by name


class _NotADelivery(Exception):
    """A file that stopped being a regular file between the listing and the opening."""


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


def list_day(
    landing_dir: Path | str, source: str, day: dt.date, pattern: str, *, filesystem: pafs.FileSystem | None = None
) -> DayListing:
    """The day's deliveries (names matching the source's `pattern`), described, and the entries
    refused. A missing day directory means "not delivered". An S3 landing dir needs its `filesystem`."""
    if is_s3(str(landing_dir)):
        assert filesystem is not None, "an S3 landing dir is listed through the settings' file system"
        return _list_s3_day(filesystem, str(landing_dir), source, day, pattern)
    directory = day_directory(Path(landing_dir), source, day)
    _check_day_directory(source, day, directory)
    files, refused = [], []
    for name in sorted(os.listdir(directory)):
        if name.startswith((".", "_")):
            continue
        path = directory / name
        reason = _refusal(path, pattern)
        if reason is None:
            try:
                files.append(_describe(path, day))
            except _NotADelivery as swapped:
                reason = str(swapped)
        if reason is not None:
            refused.append(RefusedFile(path, reason))
    return DayListing(tuple(files), tuple(refused))


def batch_id(source: str, files: Sequence[LandingFile]) -> str:
    """The same files with the same content and landing days give the same id, in any order."""
    identity = [source, sorted([str(f.path), f.sha256, f.day.isoformat()] for f in files)]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def read_first_line(path: Path | str, filesystem: pafs.FileSystem | None = None) -> bytes:
    if is_s3(str(path)):
        assert filesystem is not None, "an S3 delivery is read through the settings' file system"
        with filesystem.open_input_stream(fs_path(str(path))) as stream:
            first = b""
            while chunk := stream.read(_CHUNK_BYTES):
                head, newline, _ = chunk.partition(b"\n")
                first += head + newline
                if newline:
                    break
            return first
    try:
        with _open_regular_file(path) as handle:
            return handle.readline()
    except _NotADelivery as swapped:
        raise BronzeError(f"{path}: {swapped}; nothing was ingested: run the day again") from None


def read_contents(spark: SparkSession, files: Sequence[LandingFile]) -> DataFrame:
    """One row per file: `_source_file` (the absolute path), `content` (bytes).

    The files may span several day directories of one source (a catch-up batch).
    """
    source_directories = {str(f.path).rsplit("/", 2)[0] for f in files}
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


def _list_s3_day(filesystem: pafs.FileSystem, landing: str, source: str, day: dt.date, pattern: str) -> DayListing:
    directory = f"{landing.rstrip('/')}/{source}/{day.isoformat()}"
    entries = filesystem.get_file_info(pafs.FileSelector(fs_path(directory), allow_not_found=True))
    if not entries:  # an object store has no empty folders: a day without records still has an empty file
        raise BronzeError(
            f"no delivery of {source} for {day.isoformat()}: nothing under {directory}/ "
            "(a day without records still has an empty file); check the landing prefix (settings: deployment, object_store)"
        )
    files, refused = [], []
    for entry in sorted(entries, key=lambda each: each.base_name):
        name = entry.base_name
        if name.startswith((".", "_")):
            continue
        uri = f"{directory}/{name}"
        if entry.type == pafs.FileType.Directory:
            reason: str | None = f"{SUBFOLDER}: day directories are not searched recursively"
        elif not fnmatch.fnmatchcase(name, pattern):
            reason = f"does not match the delivery pattern {pattern}"
        elif _GLOB_CHARACTERS & set(name):
            reason = f"its name holds one of {''.join(sorted(_GLOB_CHARACTERS))}, which Spark would read as a pattern: rename it"
        else:
            reason = None
            with filesystem.open_input_stream(entry.path) as stream:
                files.append(_described(iter(lambda: stream.read(_CHUNK_BYTES), b""), uri, day))
        if reason is not None:
            refused.append(RefusedFile(uri, reason))
    return DayListing(tuple(files), tuple(refused))


def _check_day_directory(source: str, day: dt.date, directory: Path) -> None:
    """The source and day directories must be real directories: a symlink is never followed."""
    for each in (directory.parent, directory):
        if each.is_symlink():
            raise BronzeError(
                f"{each} is a symlink (-> {os.readlink(each)}): directories of the landing dir are never "
                "followed; move the files into a real directory"
            )
    if not directory.is_dir():
        raise BronzeError(
            f"no delivery of {source} for {day.isoformat()}: {directory} does not exist "
            "(a day without records still has an empty file); check the landing_dir you passed "
            "or LAKEHOUSE_HOME (the landing dir is <home>/landing)"
        )


def _refusal(path: Path, pattern: str) -> str | None:
    """Why the entry of a day directory is not a delivery, or None. Looks at the entry, not at what a symlink points to."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return _REMOVED
    if stat.S_ISLNK(mode):
        return f"{SYMLINK_REFUSED} (-> {os.readlink(path)})"
    if stat.S_ISDIR(mode):
        return f"{SUBFOLDER}: day directories are not searched recursively"
    if not stat.S_ISREG(mode):
        return f"{NOT_A_REGULAR_FILE} ({_file_kind(mode)})"
    if not fnmatch.fnmatchcase(path.name, pattern):
        return f"does not match the delivery pattern {pattern}"
    if _GLOB_CHARACTERS & set(path.name):
        return f"its name holds one of {''.join(sorted(_GLOB_CHARACTERS))}, which Spark would read as a pattern: rename it"
    return None


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "FIFO", stat.S_ISSOCK: "socket", stat.S_ISCHR: "character device", stat.S_ISBLK: "block device"}
    return next((kind for test, kind in kinds.items() if test(mode)), "unknown type")


@contextmanager
def _open_regular_file(path: Path) -> Iterator[BinaryIO]:
    """`path` opened for reading if it is a regular file, and not a symlink, at the moment it is opened."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _NotADelivery(f"{SYMLINK_REFUSED} (swapped in after the listing)") from None
        if error.errno == errno.ENOENT:
            raise _NotADelivery(_REMOVED) from None
        raise BronzeError(f"cannot read the delivery {path}: {error.strerror}; fix its permissions and run the day again") from None
    handle = os.fdopen(descriptor, "rb")
    with handle:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise _NotADelivery(f"{NOT_A_REGULAR_FILE} ({_file_kind(mode)}, swapped in after the listing)")
        yield handle


def _describe(path: Path, day: dt.date) -> LandingFile:
    with _open_regular_file(path) as handle:
        return _described(iter(lambda: handle.read(_CHUNK_BYTES), b""), path, day)


def _described(chunks: Iterator[bytes], path: Path | str, day: dt.date) -> LandingFile:
    digest = hashlib.sha256()
    size = line_ends = 0
    last_byte = b""
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        line_ends += chunk.count(b"\n")
        last_byte = chunk[-1:]
    unterminated_last_line = size > 0 and last_byte != b"\n"
    return LandingFile(path, digest.hexdigest(), size, line_ends + unterminated_last_line, day)
