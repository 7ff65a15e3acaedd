"""Infrastructure failures as one line: which service did not answer, and how to bring it back.

A service that is down surfaces differently in every client: Spark's Iceberg REST client
as a `Py4JJavaError` whose Java causes hold `Connect to http://... failed: Connection
refused`; PyIceberg and Trino's client as requests' `ConnectionError` around urllib3's
(Trino's wrapped once more in `TrinoConnectionError`); a raw socket as
`ConnectionRefusedError`. `translate` turns each of them into a `ServiceUnreachable`
naming the service and its address from the settings. Anything else is not ours to
explain: it returns None, and the error keeps its traceback.

Only the exception that reached the CLI decides whether it is a connection failure;
its causes only supply the address and the reason. A bug raised while handling a
connection error is still a bug.
"""

from __future__ import annotations

import builtins
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from catalog.errors import LakehouseError, ServiceUnreachable
from catalog.settings import LakehouseSettings, load_settings

START_STACK = "start it with `lakehouse up`"
# Java exceptions (anywhere in the cause chain) that mean Spark could not talk to a server.
_JAVA_CONNECT_FAILURES = {
    "java.net.ConnectException": "connection refused",
    "java.net.NoRouteToHostException": "no route to host",
    "java.net.UnknownHostException": "host not found",
    "java.net.SocketTimeoutException": "timed out",
    "HttpHostConnectException": "connection refused",  # Apache HttpClient 5, shaded by Iceberg
    "ConnectTimeoutException": "timed out",
    "NoHttpResponseException": "it stopped responding",  # killed during a request
}
_CONNECT_TO_FAILED = ("Connect to ", " failed")


@dataclass(frozen=True)
class Service:
    name: str  # as the message names it: "the REST catalog", "Trino"
    url: str
    ports: frozenset[int]
    fix: str


def catalog_unreachable(settings: LakehouseSettings, reason: str) -> ServiceUnreachable:
    """The one message for a REST catalog that does not answer."""
    return _message(_catalog(settings), reason)


def translate(exc: BaseException, settings: LakehouseSettings | None = None) -> LakehouseError | None:
    """A known infrastructure failure as one actionable line; None for anything else.

    `settings` are the command's (loaded from the environment when not given): they
    name the service behind the address the client failed to reach.
    """
    if isinstance(exc, LakehouseError):
        return exc
    java = _java_exception(exc)
    if java is not None:
        reason = _java_connect_failure(java)
        if reason is None:
            return None
        # Spark's only remote peer is the REST catalog: the warehouse is a local folder.
        settings = settings or _settings()
        if settings is None:
            return ServiceUnreachable(f"the REST catalog is not reachable ({reason}): {START_STACK}")
        return catalog_unreachable(settings, reason)
    if not _is_connection_error(exc):
        return None
    chain = list(_python_chain(exc))
    reason = _python_reason(chain)
    endpoint = next((found for e in chain if (found := _endpoint(e)) is not None), None)
    settings = settings or _settings()
    services = _services(settings) if settings is not None else []
    if _is_trino_error(exc) and settings is not None and endpoint is None:
        return _message(services[1], reason)
    if endpoint is not None:
        scheme, host, port = endpoint
        for service in services:
            if port in service.ports:
                return _message(service, reason)
        return ServiceUnreachable(f"{scheme}://{host}:{port} is not reachable ({reason}): check that the service there is running")
    if type(exc) is builtins.TimeoutError:
        return None  # no address, and not necessarily a network wait: keep the traceback
    return ServiceUnreachable(f"a service is not reachable ({reason}): check `lakehouse status`, then {START_STACK}")


# --- Which service --------------------------------------------------------------------


def _catalog(settings: LakehouseSettings) -> Service:
    return Service("the REST catalog", settings.catalog.uri, frozenset({settings.catalog.port}), START_STACK)


def _services(settings: LakehouseSettings) -> list[Service]:
    trino = settings.trino
    url = f"https://{trino.host}:{trino.https_port}" if trino.password_auth else f"http://{trino.host}:{trino.port}"
    services = [_catalog(settings), Service("Trino", url, frozenset({trino.port, trino.https_port}), START_STACK)]
    lineage = settings.lineage
    if lineage.transport == "http" and lineage.url:
        parts = urlsplit(lineage.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        fix = "start it, or set lineage.transport: file (LAKEHOUSE_LINEAGE__TRANSPORT=file)"
        services.append(Service("the OpenLineage backend", lineage.url, frozenset({port}), fix))
    return services


def _message(service: Service, reason: str) -> ServiceUnreachable:
    return ServiceUnreachable(f"{service.name} at {service.url} is not reachable ({reason}): {service.fix}")


def _settings() -> LakehouseSettings | None:
    try:
        return load_settings()
    except LakehouseError:  # invalid settings: the message names the address instead
        return None


# --- Spark: the Java cause chain --------------------------------------------------------


def _java_exception(exc: BaseException) -> Any | None:
    """The Java throwable behind a py4j error, or behind an exception pyspark converted."""
    try:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors.exceptions.captured import CapturedException
    except ImportError:  # pragma: no cover - pyspark is a dependency
        return None
    if isinstance(exc, Py4JJavaError):
        return exc.java_exception
    if isinstance(exc, CapturedException):
        return getattr(exc, "_origin", None)
    return None


def _java_connect_failure(throwable: Any) -> str | None:
    """The reason a Java cause chain says a connection failed, or None if it does not."""
    seen = 0
    while throwable is not None and seen < 20:  # causes can loop; 20 is far deeper than any real chain
        seen += 1
        name = str(throwable.getClass().getName())
        message = str(throwable.getMessage() or "")
        for known, reason in _JAVA_CONNECT_FAILURES.items():
            if name == known or name.endswith(f".{known}"):
                return "connection refused" if "Connection refused" in message else reason
        if "Connection refused" in message:
            return "connection refused"
        if message.startswith(_CONNECT_TO_FAILED[0]) and _CONNECT_TO_FAILED[1] in message:
            return "connection failed"
        throwable = throwable.getCause()
    return None


# --- Python clients: requests, urllib3, httpx, trino, sockets ------------------------------


def _is_connection_error(exc: BaseException) -> bool:
    import requests
    import urllib3.exceptions

    if isinstance(exc, builtins.ConnectionError | builtins.TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(exc, urllib3.exceptions.MaxRetryError | urllib3.exceptions.NewConnectionError | urllib3.exceptions.ProtocolError):
        return True
    if _is_trino_error(exc):
        # trino raises it for any failed request; only a connection failure underneath counts.
        return any(_is_connection_error(cause) for cause in list(_python_chain(exc))[1:])
    return _is_httpx_connect_error(exc)


def _is_trino_error(exc: BaseException) -> bool:
    try:
        from trino.exceptions import TrinoConnectionError
    except ImportError:  # pragma: no cover - trino is a dependency
        return False
    return isinstance(exc, TrinoConnectionError)


def _is_httpx_connect_error(exc: BaseException) -> bool:
    # httpx is not a dependency: recognised by name, never imported.
    module = type(exc).__module__ or ""
    return module.split(".")[0] == "httpx" and type(exc).__name__ in {"ConnectError", "ConnectTimeout", "RemoteProtocolError"}


def _python_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then everything it wraps: causes, contexts, urllib3's `reason`, exceptions in `args`."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending += [e for e in wrapped if isinstance(e, BaseException)]


def _python_reason(chain: list[BaseException]) -> str:
    import urllib3.exceptions

    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
    for e in chain:
        if isinstance(e, socket.gaierror | urllib3.exceptions.NameResolutionError):
            return "host not found"
        if isinstance(e, builtins.TimeoutError | socket.timeout | urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            e, urllib3.exceptions.NewConnectionError
        ):
            return "timed out"
        if isinstance(e, ConnectionResetError | urllib3.exceptions.ProtocolError):
            return "it stopped responding"
    return "connection failed"


def _endpoint(exc: BaseException) -> tuple[str, str, int] | None:
    """(scheme, host, port) the client was connecting to, if the exception says."""
    request = _httpx_request(exc) if _is_httpx_connect_error(exc) else getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url:
        parts = urlsplit(str(url))
        if parts.hostname:
            return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    for holder in (getattr(exc, "pool", None) if not hasattr(exc, "conn") else None, getattr(exc, "conn", None)):
        host, port = getattr(holder, "host", None), getattr(holder, "port", None)
        if host and port:
            return getattr(holder, "scheme", "http") or "http", str(host), int(port)
    return None


def _httpx_request(exc: BaseException) -> Any | None:
    try:
        return exc.request  # type: ignore[attr-defined]
    except RuntimeError:  # httpx raises when the error carries no request
        return None
