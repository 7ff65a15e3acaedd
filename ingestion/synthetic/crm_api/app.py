"""The CRM API's routes (Starlette): HubSpot's request and response shapes over a `Store`.

Handlers are `async` and call SQLite directly: uvicorn's one event loop then serves one
request at a time, so writes and their timestamps are in a single order and reads never
see half a batch.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingestion.synthetic.crm_api.store import (
    OBJECT_TYPES,
    Filter,
    RequestProblem,
    Sort,
    Store,
    StoredObject,
    UpsertInput,
    iso_ms,
    served_properties,
)

# HubSpot's limit on the inputs of one batch call.
BATCH_LIMIT = 100


@dataclass(frozen=True)
class ApiConfig:
    token: str
    page_limit: int = 100
    search_cap: int = 10_000
    rate_limit_every: int = 0  # every Nth read answered 429 (0: never)
    retry_after_seconds: int = 1
    fault_every: int = 0  # every Nth read answered 500 (0: never)


Handler = Callable[[Request], Awaitable[Response]]


def create_app(store: Store, config: ApiConfig) -> Starlette:
    reads = 0

    def read(handler: Handler) -> Handler:
        """Authenticated, and counted towards the injected 429s and 500s."""

        async def guarded(request: Request) -> Response:
            nonlocal reads
            if (refused := _unauthorized(request, config)) is not None:
                return refused
            reads += 1
            if config.rate_limit_every and reads % config.rate_limit_every == 0:
                return _error(
                    429, "You have reached your secondly limit.", "RATE_LIMITS",
                    headers={"Retry-After": str(config.retry_after_seconds)},
                )
            if config.fault_every and reads % config.fault_every == 0:
                return _error(500, "internal error (injected)", "INTERNAL_ERROR")
            return await _answer(handler, request)

        return guarded

    def write(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if (refused := _unauthorized(request, config)) is not None:
                return refused
            return await _answer(handler, request)

        return guarded

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def list_objects(request: Request) -> Response:
        object_type = _object_type(request)
        limit = _limit(request.query_params.get("limit", "10"), config.page_limit)
        after = request.query_params.get("after", "0")
        if not after.isdigit():
            raise RequestProblem(f"after must be a number, not {after!r}")
        requested = [name for name in request.query_params.get("properties", "").split(",") if name]
        objects = store.listed(object_type, int(after), limit)
        body: dict[str, Any] = {"results": [_served(object_type, stored, requested) for stored in objects]}
        if len(objects) == limit:
            following = str(objects[-1].id)
            link = request.url.include_query_params(after=following)
            body["paging"] = {"next": {"after": following, "link": str(link)}}
        return JSONResponse(body)

    async def search(request: Request) -> Response:
        object_type = _object_type(request)
        body = await _json_body(request)
        limit = _limit(body.get("limit", 10), config.page_limit)
        after = str(body.get("after") or "0")
        if not after.isdigit():
            raise RequestProblem(f"after must be a number, not {after!r}")
        offset = int(after)
        if offset + limit > config.search_cap:
            raise RequestProblem(
                f"a search returns at most {config.search_cap} results: narrow the filters instead of paging past them"
            )
        groups = [[_filter(item) for item in group.get("filters", [])] for group in body.get("filterGroups", [])]
        sorts = [_sort(item) for item in body.get("sorts", [])]
        total, objects = store.search(object_type, groups, sorts, offset, limit)
        requested = [str(name) for name in body.get("properties", [])]
        answer: dict[str, Any] = {"total": total, "results": [_served(object_type, stored, requested) for stored in objects]}
        following = offset + len(objects)
        if following < min(total, config.search_cap):
            answer["paging"] = {"next": {"after": str(following)}}
        return JSONResponse(answer)

    async def batch_upsert(request: Request) -> Response:
        object_type = _object_type(request)
        body = await _json_body(request)
        inputs = [_upsert_input(item) for item in body.get("inputs", [])]
        if len(inputs) > BATCH_LIMIT:
            raise RequestProblem(f"a batch takes at most {BATCH_LIMIT} inputs, got {len(inputs)}")
        ids = [(item.id_property, item.id) for item in inputs]
        if len(set(ids)) != len(ids):
            raise RequestProblem("Duplicate IDs found in batch input: send each id once per batch")
        started = iso_ms(store.now_ms())
        written = store.upsert(object_type, inputs)
        results = [{**_served(object_type, stored, ()), "new": new} for stored, new in written]
        return JSONResponse(
            {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso_ms(store.now_ms())}
        )

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/crm/v3/objects/{object_type}", read(list_objects), methods=["GET"]),
            Route("/crm/v3/objects/{object_type}/search", read(search), methods=["POST"]),
            Route("/crm/v3/objects/{object_type}/batch/upsert", write(batch_upsert), methods=["POST"]),
        ]
    )


async def _answer(handler: Handler, request: Request) -> Response:
    try:
        return await handler(request)
    except RequestProblem as problem:
        return _error(400, str(problem), "VALIDATION_ERROR")
    except _NotFound as missing:
        return _error(404, str(missing), "OBJECT_NOT_FOUND")


class _NotFound(LookupError):
    pass


def _unauthorized(request: Request, config: ApiConfig) -> Response | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), config.token.encode()):
        return None
    return _error(
        401,
        "Authentication credentials not found or invalid: send `Authorization: Bearer <token>`",
        "INVALID_AUTHENTICATION",
    )


def _error(status: int, message: str, category: str, *, headers: dict[str, str] | None = None) -> Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return JSONResponse(body, status_code=status, headers=headers)


def _object_type(request: Request) -> str:
    object_type = request.path_params["object_type"]
    if object_type not in OBJECT_TYPES:
        raise _NotFound(f"unknown object type {object_type!r}: this server has {', '.join(OBJECT_TYPES)}")
    return object_type


def _limit(value: object, page_limit: int) -> int:
    if not str(value).isdigit() or not 1 <= int(str(value)) <= page_limit:
        raise RequestProblem(f"limit must be between 1 and {page_limit}, not {value!r}")
    return int(str(value))


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except json.JSONDecodeError as exc:
        raise RequestProblem(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestProblem("the body must be a JSON object")
    return body


def _filter(item: dict[str, Any]) -> Filter:
    try:
        return Filter(str(item["propertyName"]), str(item["operator"]), str(item["value"]))
    except (KeyError, TypeError):
        raise RequestProblem("a filter needs propertyName, operator and value") from None


def _sort(item: object) -> Sort:
    if isinstance(item, str):  # HubSpot also takes a bare property name, or "-name" for descending
        return Sort(item.removeprefix("-"), ascending=not item.startswith("-"))
    if isinstance(item, dict) and "propertyName" in item:
        return Sort(str(item["propertyName"]), ascending=str(item.get("direction", "ASCENDING")).upper() != "DESCENDING")
    raise RequestProblem("a sort is a property name or {propertyName, direction}")


def _upsert_input(item: object) -> UpsertInput:
    if not isinstance(item, dict) or not item.get("idProperty") or not item.get("id"):
        raise RequestProblem("each input needs idProperty, id and properties")
    properties = item.get("properties", {})
    if not isinstance(properties, dict | str):
        raise RequestProblem("properties must be an object")
    return UpsertInput(str(item["idProperty"]), str(item["id"]), properties)


def _served(object_type: str, stored: StoredObject, requested: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": str(stored.id),
        "properties": served_properties(object_type, stored, requested),
        "createdAt": iso_ms(stored.created_ms),
        "updatedAt": iso_ms(stored.updated_ms),
        "archived": False,
    }
