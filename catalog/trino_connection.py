"""Connections to the local Trino: DB-API for scripts, SQLAlchemy for tools.

With `trino.password_auth` on, every connection goes over HTTPS to `trino.https_port`,
verifies the server against the generated certificate and sends the user's generated
password (`catalog/trino_auth.py`).
"""

from __future__ import annotations

import json

import requests
import sqlalchemy
import trino.dbapi
from sqlalchemy.engine import URL
from trino.auth import BasicAuthentication

from catalog.settings import LakehouseSettings
from catalog.trino_auth import read_password, secret_files


def trino_connection(settings: LakehouseSettings, *, user: str | None = None, schema: str | None = None) -> trino.dbapi.Connection:
    user = user or settings.trino.user
    common = {"host": settings.trino.host, "user": user, "catalog": settings.catalog.name, "schema": schema}
    if not settings.trino.password_auth:
        return trino.dbapi.connect(**common, port=settings.trino.port, http_scheme="http")
    return trino.dbapi.connect(
        **common,
        port=settings.trino.https_port,
        http_scheme="https",
        auth=BasicAuthentication(user, read_password(settings, user)),
        http_session=_verifying_session(settings),
    )


def _verifying_session(settings: LakehouseSettings) -> requests.Session:
    """A session that trusts the generated certificate and nothing else.

    `trust_env` is off because requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE
    override a session's own `verify` (psf/requests#3829, kept until requests 3), so on a
    machine that sets either, `verify=` alone would check our certificate against the
    system store and fail. It also ignores proxy variables, which a loopback Trino never needs.
    """
    session = requests.Session()
    session.verify = str(secret_files(settings).ca_cert)
    session.trust_env = False
    return session


def trino_url(settings: LakehouseSettings, *, user: str | None = None, schema: str | None = None) -> URL:
    user = user or settings.trino.user
    database = settings.catalog.name if schema is None else f"{settings.catalog.name}/{schema}"
    if not settings.trino.password_auth:
        return URL.create("trino", username=user, host=settings.trino.host, port=settings.trino.port, database=database)
    return URL.create(
        "trino",
        username=user,
        password=read_password(settings, user),
        host=settings.trino.host,
        port=settings.trino.https_port,
        database=database,
        # The dialect JSON-decodes `verify`: a quoted string is the CA file to trust.
        query={"verify": json.dumps(str(secret_files(settings).ca_cert))},
    )


def trino_engine(settings: LakehouseSettings, *, user: str | None = None, schema: str | None = None) -> sqlalchemy.Engine:
    # Connections come from `trino_connection`, so the engine authenticates and verifies
    # exactly as scripts do; the URL only tells SQLAlchemy the dialect.
    return sqlalchemy.create_engine(
        trino_url(settings, user=user, schema=schema), creator=lambda: trino_connection(settings, user=user, schema=schema)
    )


def jdbc_url(settings: LakehouseSettings, *, user: str | None = None) -> str:
    """What a GUI client needs; with password auth, the password is in `<home>/secrets/trino/<user>.password`."""
    user = user or settings.trino.user
    trino_settings, catalog = settings.trino, settings.catalog.name
    if not trino_settings.password_auth:
        return f"jdbc:trino://{trino_settings.host}:{trino_settings.port}/{catalog}?user={user}"
    ca_cert = secret_files(settings).ca_cert
    return f"jdbc:trino://{trino_settings.host}:{trino_settings.https_port}/{catalog}?user={user}&SSL=true&SSLTrustStorePath={ca_cert}"
