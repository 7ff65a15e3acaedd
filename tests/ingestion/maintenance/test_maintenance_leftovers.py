"""Folders that dropped tables leave in the warehouse: found only when they are Iceberg's, old and unreferenced."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
from pyiceberg.catalog.sql import SqlCatalog

from ingestion.maintenance.leftovers import find_leftovers, remove

NOW = dt.datetime.now(dt.UTC)
SAFETY = NOW - dt.timedelta(hours=72)


def age(path: Path, days: float) -> None:
    """Date a folder and everything in it `days` back."""
    moment = (NOW - dt.timedelta(days=days)).timestamp()
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(os.path.join(folder, name), (moment, moment), follow_symlinks=False)
    os.utime(path, (moment, moment))


def table_folder(root: Path, *, data: bool = True) -> Path:
    (root / "metadata").mkdir(parents=True)
    (root / "metadata" / "00000-abc.metadata.json").write_text("{}")
    if data:
        (root / "data").mkdir()
        (root / "data" / "part-0.parquet").write_bytes(b"x" * 100)
    return root


class CatalogWithoutViews(SqlCatalog):
    """PyIceberg's SQL catalog cannot list views (it has none): it says so, the REST catalog answers."""

    def list_views(self, namespace):  # type: ignore[no-untyped-def]
        return []


def test_only_old_unreferenced_iceberg_folders_are_leftovers(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    catalog = CatalogWithoutViews("t", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=warehouse.as_uri())
    catalog.create_namespace("gold")
    live = catalog.create_table(("gold", "fct_orders"), schema=pa.schema([("id", pa.int64())]))
    live.append(pa.table({"id": [1, 2]}))
    live_folder = Path(live.metadata.location.removeprefix("file://"))
    age(live_folder, 10)  # a live table is kept whatever its age

    dropped = table_folder(warehouse / "gold" / "fct_orders__dbt_tmp-1a2b")
    empty_tmp = table_folder(warehouse / "gold" / "unit_test__dbt_tmp-3c4d", data=False)
    (empty_tmp / "metadata" / "00000-abc.metadata.json").unlink()  # what dbt's unit tests leave: an empty metadata/
    young = table_folder(warehouse / "gold" / "being_created-5e6f")
    foreign = warehouse / "gold" / "notes"  # not Iceberg's: never touched
    foreign.mkdir()
    (foreign / "readme.txt").write_text("mine")
    linked = table_folder(warehouse / "gold" / "linked-7a8b")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (linked / "data" / "link.parquet").symlink_to(outside)
    dropped_namespace = warehouse / "scratch"
    table_folder(dropped_namespace / "t1-1")
    table_folder(dropped_namespace / "t2-2", data=False)
    for folder in (dropped, empty_tmp, foreign, linked, dropped_namespace, outside):
        age(folder, 10)

    found = {Path(leftover.path): leftover for leftover in find_leftovers(catalog, pafs.LocalFileSystem(), warehouse.as_uri(), SAFETY)}
    assert set(found) == {dropped, empty_tmp, dropped_namespace}
    assert (found[dropped].files, found[dropped].bytes) == (2, 102)
    assert found[dropped_namespace].files == 3

    remove(pafs.LocalFileSystem(), list(found.values()))
    assert not dropped.exists() and not empty_tmp.exists() and not dropped_namespace.exists()
    for kept in (live_folder, young, foreign / "readme.txt", linked / "data" / "link.parquet", outside):
        assert kept.exists() or kept.is_symlink()
    assert catalog.load_table(("gold", "fct_orders")).scan().to_arrow().num_rows == 2
    # Nothing is left to find.
    assert find_leftovers(catalog, pafs.LocalFileSystem(), warehouse.as_uri(), SAFETY) == []


def test_a_catalog_that_cannot_list_views_finds_no_leftovers(tmp_path: Path) -> None:
    """A view's folder would look like a dropped table's: when views cannot be listed, nothing is removed."""
    warehouse = tmp_path / "warehouse"
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=warehouse.as_uri())
    catalog.create_namespace("gold_staging")
    view_like = table_folder(warehouse / "gold_staging" / "stg_orders-1a2b", data=False)
    age(view_like, 10)
    assert find_leftovers(catalog, pafs.LocalFileSystem(), warehouse.as_uri(), SAFETY) == []
