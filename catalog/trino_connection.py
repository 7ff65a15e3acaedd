"""Connections to the local Trino: DB-API for scripts, SQLAlchemy for tools."""

from __future__ import annotations

import sqlalchemy
import trino.dbapi
from sqlalchemy.engine import URL

from catalog.settings import LakehouseSettings


def trino_connection(settings: LakehouseSettings, *, user: str | None = None, schema: str | None = None) -> trino.dbapi.Connection:
    return trino.dbapi.connect(
        host=settings.trino.host,
        port=settings.trino.port,
        user=user or settings.trino.user,
        catalog=settings.catalog.name,
        schema=schema,
        http_scheme="http",
    )


def trino_url(settings: LakehouseSettings, *, user: str | None = None, schema: str | None = None) -> URL:
    database = settings.catalog.name if schema is None else f"{settings.catalog.name}/{schema}"
    return URL.create(
        "trino", username=user or settings.trino.user, host=settings.trino.host, port=settings.trino.port, database=database
    )


def trino_engine(settings: LakehouseSettings, *, user: str | None = None, schema: str | None = None) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(trino_url(settings, user=user, schema=schema))
