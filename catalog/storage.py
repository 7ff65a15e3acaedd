"""Where the warehouse and Bronze live, as one pyarrow file system: a local folder or an S3 bucket.

Engines spell the same file differently: Spark and the REST server write `file:/a/b` or
`file:///a/b`, Hadoop's S3A `s3a://bucket/key`, Iceberg's S3FileIO `s3://bucket/key`.
`fs_path` turns each into the path its pyarrow file system uses (`/a/b`, `bucket/key`), so
that locations compare equal whoever wrote them. `filesystem` opens the settings' store:
the local file system, or the object store with the settings' credentials (a bare
`FileSystem.from_uri("s3://…")` would go to AWS with whatever credentials the machine has).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from catalog import object_store
from catalog.settings import LakehouseSettings

S3_SCHEMES = ("s3", "s3a")


def fs_path(uri: str) -> str:
    """`file:/a`, `file:///a`, `/a` -> `/a`; `s3://b/k`, `s3a://b/k` -> `b/k`."""
    parsed = urlparse(uri)
    if parsed.scheme in S3_SCHEMES:
        return f"{parsed.netloc}{parsed.path}"
    if parsed.scheme in ("", "file"):
        return parsed.path
    raise ValueError(f"{uri}: only local (file:) and S3 (s3:, s3a:) locations are supported")


def is_s3(uri: str) -> bool:
    return urlparse(uri).scheme in S3_SCHEMES


def filesystem(settings: LakehouseSettings, uri: str | None = None) -> pafs.FileSystem:
    """The file system holding `uri` (default: the warehouse)."""
    if not is_s3(uri or settings.warehouse_uri):
        return pafs.LocalFileSystem()
    return object_store.pyarrow_filesystem(settings)


def stored(settings: LakehouseSettings, uri: str) -> tuple[int, int]:
    """(files, bytes) under a location, whatever wrote them."""
    return count_files(filesystem(settings, uri), fs_path(uri))


def count_files(file_system: pafs.FileSystem, path: str) -> tuple[int, int]:
    """(files, bytes) under a path of `file_system`."""
    found = _files(file_system, path)
    return len(found), sum(info.size or 0 for info in found)


def _files(file_system: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    infos = file_system.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    return [info for info in infos if info.type == pafs.FileType.File]


def files_under(settings: LakehouseSettings, location: str) -> list[str]:
    """The file system paths of the files under a folder, recursively. On a local disk no
    symbolic link is listed or followed: a link could lead out of the warehouse, and a
    caller may delete what is listed."""
    path = fs_path(location)
    if not is_s3(location):
        return [str(each) for each in Path(path).rglob("*") if each.is_file() and not each.is_symlink()]
    return [info.path for info in _files(filesystem(settings, location), path)]


def deliver_landing(settings: LakehouseSettings, *, skip: Collection[str] = ()) -> list[str]:
    """The deliveries generated into `landing_dir`, copied to the landing location when that is
    an S3 prefix (the cluster deployment), except those in `skip`; the relative paths copied.
    On a local landing folder the files are already where the pipeline reads them."""
    if not is_s3(settings.landing_location):
        return []
    return deliver(settings, settings.landing_dir, settings.landing_location, skip=skip)


def deliver(settings: LakehouseSettings, local_folder: Path, location: str, *, skip: Collection[str] = ()) -> list[str]:
    """Copy a local folder's files (landing deliveries made on this machine) to `location`, an
    S3 prefix, except those in `skip`; the relative paths copied. Links are not followed (what
    `files_under` lists)."""
    target = filesystem(settings, location)
    root = fs_path(location).rstrip("/")
    copied = []
    for path in files_under(settings, str(local_folder)):
        relative = Path(path).relative_to(local_folder).as_posix()
        if relative not in skip:
            pafs.copy_files(path, f"{root}/{relative}", source_filesystem=pafs.LocalFileSystem(), destination_filesystem=target)
            copied.append(relative)
    return copied
