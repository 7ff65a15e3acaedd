"""`extract` for an HTTP source: a HubSpot-shaped CRM API's objects modified since the committed position.

Extract: the search endpoint, one page at a time, each asking for the objects after the
last one read in (modified date, id) order: the filter moves forward with every page,
so objects sharing a timestamp across a page boundary are neither lost nor read twice,
and no search ever pages into HubSpot's 10,000-result cap. (Paging with `after` instead
would skip an object whenever an earlier one is modified mid-read and moves to the end.)
Only objects modified before the run began are read (`CrmApiSettings.search_settle_seconds`).
Each page's bytes are kept as a file under `<bronze>/<source>/pages/<batch_id>/` before
the commit: the page is the landing file of the API, and a row's `_source_file` names it.

Transform (pure, `page_rows`): each object -> the file mode's columns and spellings (the
same record gives the same Bronze row either way), `_line_number` its 1-based place in
the page, `_raw_line` its JSON text; an object whose properties are not a JSON object
gets `_parse_error` and null columns.

Position: `{"modified_since": <updatedAt of the last object read>, "id": <its id>}`,
committed with the rows (`commit.py`); a run that fails commits nothing and the next one
starts from the committed position again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import tenacity
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from catalog.errors import LakehouseError
from catalog.services import crm_api_token_file
from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import LINE_NUMBER, PARSE_ERROR, RAW_LINE, SOURCE_FILE
from ingestion.sources.commit import Extract, Position, bronze_frame

if TYPE_CHECKING:
    from ingestion.sources.declarations import HttpSource

# Bronze column -> HubSpot property, per object type, in the file mode's column order.
# HubSpot's `lastmodifieddate` is when the object was last written; the record's own
# change time is the custom property `updated_at`, as the file mode's `updated_at`.
COLUMNS: Mapping[str, Mapping[str, str]] = {
    "contacts": {
        "contact_id": "contact_id", "first_name": "firstname", "last_name": "lastname", "email": "email",
        "company": "company", "country": "country", "created_at": "createdate", "updated_at": "updated_at",
    },
    "deals": {
        "deal_id": "deal_id", "contact_id": "contact_id", "deal_name": "dealname", "stage": "dealstage",
        "amount": "amount", "currency": "deal_currency_code", "created_at": "createdate",
        "updated_at": "updated_at", "closed_at": "closedate",
    },
}
ID_PROPERTY = "hs_object_id"
NOT_AN_OBJECT = "properties is not a JSON object (a truncated or malformed record)"
REQUEST_TIMEOUT_SECONDS = 30.0
# Backoff between retries when the API names no Retry-After.
_BACKOFF = tenacity.wait_exponential_jitter(multiplier=0.5, max=10)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class HttpSourceError(LakehouseError):
    """An HTTP source could not be read to its end; nothing was committed."""


@dataclass(frozen=True, order=True)
class Cursor:
    """Where a read stands: the last object read, in the search's (modified date, id) order."""

    modified_ms: int
    id: int

    @classmethod
    def of(cls, position: Position | None) -> Cursor | None:
        if not position:
            return None
        return cls(_millis(str(position["modified_since"])), int(position["id"]))


@dataclass(frozen=True)
class Page:
    content: bytes  # as the API sent it
    records: list[dict[str, Any]]
    more: bool  # the API has more results for the same search


def extract(
    spark: SparkSession,
    settings: LakehouseSettings,
    source: HttpSource,
    position: Position | None,
    *,
    batch_id: str,
    ingested_at: dt.datetime,
    day: dt.date,
) -> Extract:
    api = settings.crm_api
    columns = _columns(source)
    pages_dir = settings.bronze_dir / source.name / "pages" / batch_id
    until_ms = time.time_ns() // 1_000_000
    time.sleep(api.search_settle_seconds)
    rows: list[tuple[Any, ...]] = []
    last: dict[str, Any] | None = None
    with httpx2.Client(base_url=api.url, headers=_auth(settings, source), timeout=REQUEST_TIMEOUT_SECONDS) as client:
        send = _sender(settings, source, client)
        for number, page in enumerate(fetch_pages(send, source, columns, Cursor.of(position), until_ms), start=1):
            page_file = write_page(pages_dir, number, page.content)
            rows.extend(tuple(row.values()) for row in page_rows(page.records, str(page_file), columns))
            last = page.records[-1]
    schema = T.StructType(
        [
            *(T.StructField(name, T.StringType()) for name in columns),
            T.StructField(SOURCE_FILE, T.StringType()),
            T.StructField(LINE_NUMBER, T.LongType()),
            T.StructField(RAW_LINE, T.StringType()),
            T.StructField(PARSE_ERROR, T.StringType()),
        ]
    )
    frame = bronze_frame(spark.createDataFrame(rows, schema), batch_id=batch_id, ingested_at=ingested_at, ingest_date=day)
    new_position = position_after(last) if last is not None else dict(position or {})
    return Extract(frame, new_position, len(rows), f"{api.url}/crm/v3/objects/{source.object_type}/search")


# --- Extract -------------------------------------------------------------------


def search_body(source: HttpSource, properties: Sequence[str], cursor: Cursor | None, until_ms: int) -> dict[str, Any]:
    """The search for the objects after `cursor` and modified before `until_ms`, in (modified date, id) order."""
    modified = source.cursor_property
    before_run = {"propertyName": modified, "operator": "LT", "value": str(until_ms)}
    if cursor is None:
        groups = [{"filters": [before_run]}]
    else:
        same_moment = {"propertyName": modified, "operator": "EQ", "value": str(cursor.modified_ms)}
        later_id = {"propertyName": ID_PROPERTY, "operator": "GT", "value": str(cursor.id)}
        later = {"propertyName": modified, "operator": "GT", "value": str(cursor.modified_ms)}
        groups = [{"filters": [same_moment, later_id, before_run]}, {"filters": [later, before_run]}]
    return {
        "filterGroups": groups,
        "sorts": [{"propertyName": modified, "direction": "ASCENDING"}, {"propertyName": ID_PROPERTY, "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": source.page_size,
    }


def fetch_pages(
    send: Callable[[dict[str, Any]], httpx2.Response],
    source: HttpSource,
    columns: Mapping[str, str],
    cursor: Cursor | None,
    until_ms: int,
) -> Iterator[Page]:
    """Every page of objects after `cursor`, each search starting after the last object of the page before."""
    while True:
        response = send(search_body(source, list(columns.values()), cursor, until_ms))
        try:
            page = parse_page(response.content, cursor)
        except ValueError as problem:
            raise HttpSourceError(
                f"{source.name}: the CRM API answered a page that is not a search result ({problem}): "
                "nothing was committed; report it to the API's owner"
            ) from None
        if not page.records:
            return
        yield page
        if not page.more:
            return
        cursor = _cursor_of(page.records[-1])


def parse_page(content: bytes, after: Cursor | None) -> Page:
    """A search answer -> its objects; ValueError unless each has an id and updatedAt, in order, after `after`."""
    answer = json.loads(content)
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise ValueError("no results list")
    records = answer["results"]
    previous = after
    for record in records:
        current = _cursor_of(record)
        # A server that ignored the sort would make the next search skip objects.
        if previous is not None and not current > previous:
            raise ValueError(f"object {record.get('id')} is out of (updatedAt, id) order")
        previous = current
    return Page(content, records, more="next" in (answer.get("paging") or {}))


def write_page(directory: Path, number: int, content: bytes) -> Path:
    """Keep a page's bytes: named by its place and its hash, so a rerun never overwrites another page."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"page-{number:04d}-{hashlib.sha256(content).hexdigest()[:16]}.json"
    if path.exists():  # the same bytes, kept by an earlier attempt at this batch
        return path
    staging = path.with_name(f".{path.name}.tmp")
    with staging.open("wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    staging.replace(path)
    return path


# --- Transform -----------------------------------------------------------------


def page_rows(records: Sequence[Mapping[str, Any]], page_file: str, columns: Mapping[str, str]) -> list[dict[str, Any]]:
    """A page's objects -> rows of the source columns, `_source_file`, `_line_number`, `_raw_line`, `_parse_error`."""
    rows = []
    for number, record in enumerate(records, start=1):
        properties = record.get("properties")
        parsed = isinstance(properties, Mapping)
        values = {column: _text(properties.get(name)) if parsed else None for column, name in columns.items()}  # type: ignore[union-attr]
        rows.append(
            {
                **values,
                SOURCE_FILE: page_file,
                LINE_NUMBER: number,
                RAW_LINE: _JSON.encode(record),
                PARSE_ERROR: None if parsed else NOT_AN_OBJECT,
            }
        )
    return rows


def position_after(record: Mapping[str, Any]) -> dict[str, str]:
    return {"modified_since": str(record["updatedAt"]), "id": str(record["id"])}


def _text(value: object) -> str | None:
    """HubSpot sends property values as strings; anything else is kept as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return _JSON.encode(value)


def _cursor_of(record: object) -> Cursor:
    if not isinstance(record, Mapping):
        raise ValueError("a result is not a JSON object")
    try:
        return Cursor(_millis(str(record["updatedAt"])), int(str(record["id"])))
    except (KeyError, ValueError):
        raise ValueError(f"a result lacks a numeric id or an ISO updatedAt: {_JSON.encode(record)[:120]}") from None


def _millis(iso: str) -> int:
    return round(dt.datetime.fromisoformat(iso).timestamp() * 1000)


def _columns(source: HttpSource) -> Mapping[str, str]:
    try:
        return COLUMNS[source.object_type]
    except KeyError:
        raise HttpSourceError(
            f"{source.name}: object_type {source.object_type!r} has no column mapping: "
            f"use one of {', '.join(COLUMNS)} in ingestion/sources.yml, or add it to ingestion/sources/http_api.py"
        ) from None


# --- Requests ------------------------------------------------------------------


def _auth(settings: LakehouseSettings, source: HttpSource) -> dict[str, str]:
    path = crm_api_token_file(settings)
    try:
        return {"Authorization": f"Bearer {path.read_text().strip()}"}
    except FileNotFoundError:
        raise HttpSourceError(f"{source.name}: no CRM API token at {path}: start the CRM API with `lakehouse up`") from None


class _Retryable(Exception):
    def __init__(self, what: str, *, answered: bool, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.answered = answered  # False: no HTTP answer at all (refused, reset, timed out)
        self.retry_after = retry_after


def _wait(state: tenacity.RetryCallState) -> float:
    """The server's Retry-After when it names one, else exponential backoff with jitter."""
    failure = state.outcome.exception() if state.outcome is not None else None
    if isinstance(failure, _Retryable) and failure.retry_after is not None:
        return failure.retry_after
    return _BACKOFF(state)


def _sender(settings: LakehouseSettings, source: HttpSource, client: httpx2.Client) -> Callable[[dict[str, Any]], httpx2.Response]:
    """POST a search, retrying 429s, 5xx and no answer within the retry budget; other refusals fail at once."""
    api = settings.crm_api
    path = f"/crm/v3/objects/{source.object_type}/search"
    nothing_committed = "nothing was committed, the next run resumes from the committed position"

    def attempt(body: dict[str, Any]) -> httpx2.Response:
        try:
            response = client.post(path, json=body)
        except httpx2.TransportError as exc:
            raise _Retryable(type(exc).__name__, answered=False) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(str(response.status_code), answered=True, retry_after=_retry_after(response))
        return response

    def send(body: dict[str, Any]) -> httpx2.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(api.retry_attempts) | tenacity.stop_before_delay(api.retry_budget_seconds),
            wait=_wait,
            reraise=True,
        )
        try:
            response = retrying(attempt, body)
        except _Retryable as failure:
            attempts = retrying.statistics.get("attempt_number", api.retry_attempts)
            if not failure.answered:
                raise HttpSourceError(
                    f"{source.name}: the CRM API at {api.url} is not answering ({failure}, {attempts} attempts): "
                    f"start it with `lakehouse up`; {nothing_committed}"
                ) from None
            raise HttpSourceError(
                f"{source.name}: the CRM API at {api.url} answered {failure} {attempts} times, past the retry budget: "
                f"{nothing_committed}; rerun later, or raise LAKEHOUSE_CRM_API__RETRY_ATTEMPTS / "
                "LAKEHOUSE_CRM_API__RETRY_BUDGET_SECONDS"
            ) from None
        if response.status_code == 401:
            raise HttpSourceError(
                f"{source.name}: the CRM API at {api.url} refused the token in {crm_api_token_file(settings)} (401): "
                "restart the API (`lakehouse down`, `lakehouse up`) so that it and its clients share that file's token"
            )
        if response.status_code != 200:
            raise HttpSourceError(
                f"{source.name}: the CRM API refused the search ({response.status_code}: {_message(response)}): "
                f"check object_type, cursor_property and page_size of {source.name} in ingestion/sources.yml"
            )
        return response

    return send


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date: back off on our own


def _message(response: httpx2.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]
