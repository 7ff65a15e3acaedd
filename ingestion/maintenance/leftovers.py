"""What dropped tables, views and namespaces leave in the warehouse.

Dropping a table or a namespace through the REST catalog (Trino's `DROP TABLE`, `DROP
SCHEMA … CASCADE`, dbt's `__dbt_tmp` relations) forgets it in the catalog and leaves its
folder: `<warehouse>/<namespace>/<table>[-<uuid>]/{metadata,data}`. Iceberg's orphan removal
works inside a live table's location and never sees these.

A folder is a leftover when all of this holds:
- it sits one level under a namespace folder of the warehouse (where the catalog puts tables);
- no live table or view is at it or under it;
- it holds nothing but `metadata/` and `data/` (what Iceberg writes), so nothing else that
  shares the warehouse folder is ever touched;
- everything in it is older than the orphan safety age (a table being created is young);
- it holds no symbolic link (a link could lead out of the warehouse).
A namespace folder goes too once every folder in it is a leftover and it names no live namespace.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog

from catalog.storage import fs_path

_ICEBERG_FOLDERS = {"metadata", "data"}


@dataclass(frozen=True)
class Leftover:
    path: str
    files: int
    bytes: int


def find_leftovers(catalog: Catalog, filesystem: pafs.FileSystem, warehouse_uri: str, older_than: dt.datetime) -> list[Leftover]:
    """`filesystem`: the warehouse's (catalog.storage.filesystem)."""
    root = fs_path(warehouse_uri)
    namespaces = [namespace for namespace in catalog.list_namespaces()]
    live_namespaces = {namespace[0] for namespace in namespaces}
    live = set()
    for namespace in namespaces:
        live |= {fs_path(catalog.load_table(ident).metadata.location) for ident in catalog.list_tables(namespace)}
        try:
            views = catalog.list_views(namespace)
        except NotImplementedError:  # a catalog that cannot list views: a view's folder could look dropped
            return []
        live |= {fs_path(catalog.load_view(ident).metadata.location) for ident in views}
    live = {path.rstrip("/") for path in live}

    found = []
    for namespace_dir in _children(filesystem, root.rstrip("/")):
        if namespace_dir.type != pafs.FileType.Directory:
            continue
        entries = _children(filesystem, namespace_dir.path)
        leftovers = [
            entry for entry in entries
            if entry.type == pafs.FileType.Directory and _is_leftover(filesystem, entry.path, live, older_than)
        ]
        if len(leftovers) == len(entries) and namespace_dir.base_name not in live_namespaces and entries:
            found.append(_measure(filesystem, namespace_dir.path))
        else:
            found += [_measure(filesystem, entry.path) for entry in leftovers]
    return found


def remove(filesystem: pafs.FileSystem, leftovers: list[Leftover]) -> None:
    for leftover in leftovers:
        filesystem.delete_dir(leftover.path)


def _is_leftover(filesystem: pafs.FileSystem, path: str, live: set[str], older_than: dt.datetime) -> bool:
    if any(location == path or location.startswith(path + "/") for location in live):
        return False
    if _holds_symlink(filesystem, path):  # never follow a link out of the warehouse, nor delete one
        return False
    children = _children(filesystem, path)
    if any(child.type != pafs.FileType.Directory or child.base_name not in _ICEBERG_FOLDERS for child in children):
        return False
    newest = [info.mtime for info in [filesystem.get_file_info(path), *_descendants(filesystem, path)] if info.mtime is not None]
    return all(moment < older_than for moment in newest)


def _holds_symlink(filesystem: pafs.FileSystem, path: str) -> bool:
    if not isinstance(filesystem, pafs.LocalFileSystem):
        return False  # object stores have no links
    for folder, dirs, files in os.walk(path, followlinks=False):
        if any(os.path.islink(os.path.join(folder, name)) for name in dirs + files):
            return True
    return os.path.islink(path)


def _measure(filesystem: pafs.FileSystem, path: str) -> Leftover:
    files = [info for info in _descendants(filesystem, path) if info.type == pafs.FileType.File]
    return Leftover(path, len(files), sum(info.size or 0 for info in files))


def _children(filesystem: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    return filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))


def _descendants(filesystem: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    return filesystem.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
