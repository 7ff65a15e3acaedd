"""PyIceberg on the shared REST catalog: no Spark, no Trino, only HTTP and files."""

from __future__ import annotations

from pyiceberg.catalog import Catalog, load_catalog

from catalog import engine_config
from catalog.settings import LakehouseSettings


def iceberg_catalog(settings: LakehouseSettings) -> Catalog:
    properties = engine_config.pyiceberg_properties(settings, engine_config.local_endpoints(settings, with_secret=True))
    return load_catalog(settings.catalog.name, **properties)
