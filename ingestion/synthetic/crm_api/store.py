"""The CRM API's objects in SQLite: one row per object, as HubSpot keeps them.

Filters and sorts name HubSpot properties; only the ones backed by a column here can be
used (`FILTERABLE`), and each maps to its column through a fixed table, so no name from a
request ever reaches the SQL text.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OBJECT_TYPES = ("contacts", "deals")
# The property that holds the last modification, as HubSpot names it per object type.
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
ID_PROPERTY = "hs_object_id"
CREATED_PROPERTY = "createdate"
# What a search without `properties` returns, as HubSpot's defaults.
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id"),
}
# Set by the server on every write; a write may not set them.
READ_ONLY = frozenset({ID_PROPERTY, *MODIFIED_PROPERTY.values()})
OPERATORS = {"EQ": "=", "NEQ": "!=", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_type TEXT NOT NULL,
    id_property TEXT NOT NULL,
    unique_value TEXT NOT NULL,
    properties TEXT NOT NULL,      -- a JSON object, or a malformed record's text
    malformed INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (object_type, id_property, unique_value)
);
CREATE INDEX IF NOT EXISTS objects_modified ON objects (object_type, updated_ms, id);
"""


class RequestProblem(ValueError):
    """A request this server refuses with 400; the message says why."""


@dataclass(frozen=True)
class StoredObject:
    id: int
    properties: dict[str, str | None] | str  # str: a malformed record's text
    created_ms: int
    updated_ms: int


@dataclass(frozen=True)
class UpsertInput:
    id_property: str
    id: str
    properties: Mapping[str, object] | str


@dataclass(frozen=True)
class Filter:
    property: str
    operator: str
    value: str


@dataclass(frozen=True)
class Sort:
    property: str
    ascending: bool = True


def iso_ms(millis: int) -> str:
    """HubSpot's datetime spelling: UTC, milliseconds, `Z`."""
    moment = dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def millis_of(value: str) -> int:
    """A datetime filter value: epoch milliseconds or ISO 8601, as HubSpot accepts both."""
    if value.isdigit():
        return int(value)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestProblem(f"{value!r} is neither epoch milliseconds nor an ISO 8601 datetime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


class Store:
    def __init__(self, path: Path | str) -> None:
        # One event loop uses it, one request at a time, but not always from the thread that opened it.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        # The clock never runs backwards: a write is never dated before an earlier one.
        (last,) = self._db.execute("SELECT coalesce(max(updated_ms), 0) FROM objects").fetchone()
        self._last_ms = int(last)

    def close(self) -> None:
        self._db.close()

    def now_ms(self) -> int:
        self._last_ms = max(self._last_ms, time.time_ns() // 1_000_000)
        return self._last_ms

    def upsert(self, object_type: str, inputs: Sequence[UpsertInput]) -> list[tuple[StoredObject, bool]]:
        """Create or update each input (one write time for all); each object and whether it is new."""
        for item in inputs:
            if isinstance(item.properties, Mapping):
                read_only = sorted(READ_ONLY & set(item.properties))
                if read_only:
                    raise RequestProblem(f"read-only properties cannot be written: {', '.join(read_only)}")
        now = self.now_ms()
        written = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for item in inputs:
                written.append(self._upsert_one(object_type, item, now))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return written

    def _upsert_one(self, object_type: str, item: UpsertInput, now: int) -> tuple[StoredObject, bool]:
        row = self._db.execute(
            "SELECT id, properties, malformed, created_ms FROM objects WHERE object_type = ? AND id_property = ? AND unique_value = ?",
            (object_type, item.id_property, item.id),
        ).fetchone()
        if isinstance(item.properties, str):
            properties: dict[str, str | None] | str = item.properties
        else:
            # HubSpot merges: properties not named keep their values. Values are strings.
            merged = json.loads(row[1]) if row is not None and not row[2] else {}
            merged.update({name: None if value is None else str(value) for name, value in item.properties.items()})
            merged[item.id_property] = item.id
            properties = merged
        text = properties if isinstance(properties, str) else json.dumps(properties, ensure_ascii=False)
        malformed = isinstance(properties, str)
        if row is None:
            cursor = self._db.execute(
                "INSERT INTO objects (object_type, id_property, unique_value, properties, malformed, created_ms, updated_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (object_type, item.id_property, item.id, text, malformed, now, now),
            )
            return StoredObject(int(cursor.lastrowid or 0), properties, now, now), True
        self._db.execute(
            "UPDATE objects SET properties = ?, malformed = ?, updated_ms = ? WHERE id = ?", (text, malformed, now, row[0])
        )
        return StoredObject(row[0], properties, row[3], now), False

    def listed(self, object_type: str, after_id: int, limit: int) -> list[StoredObject]:
        """Objects with an id above `after_id`, by id: HubSpot's list endpoint."""
        rows = self._db.execute(
            "SELECT id, properties, malformed, created_ms, updated_ms FROM objects "
            "WHERE object_type = ? AND id > ? ORDER BY id LIMIT ?",
            (object_type, after_id, limit),
        ).fetchall()
        return [_stored(row) for row in rows]

    def search(
        self, object_type: str, groups: Sequence[Sequence[Filter]], sorts: Sequence[Sort], offset: int, limit: int
    ) -> tuple[int, list[StoredObject]]:
        """(total matches, the page at `offset`): groups are ORed, a group's filters ANDed; ties sort by id."""
        columns = _filterable(object_type)
        where, parameters = ["object_type = ?"], [object_type]
        if groups:
            ored = []
            for group in groups:
                anded = []
                for item in group:
                    if item.property not in columns:
                        raise RequestProblem(f"{object_type} can be filtered on {', '.join(sorted(columns))} only, not {item.property!r}")
                    if item.operator not in OPERATORS:
                        raise RequestProblem(f"operator {item.operator!r} is not one of {', '.join(OPERATORS)}")
                    column, convert = columns[item.property]
                    anded.append(f"{column} {OPERATORS[item.operator]} ?")
                    parameters.append(convert(item.value))
                ored.append("(" + " AND ".join(anded or ["1"]) + ")")
            where.append("(" + " OR ".join(ored) + ")")
        order = []
        for sort in sorts:
            if sort.property not in columns:
                raise RequestProblem(f"{object_type} can be sorted on {', '.join(sorted(columns))} only, not {sort.property!r}")
            order.append(f"{columns[sort.property][0]} {'ASC' if sort.ascending else 'DESC'}")
        condition = " AND ".join(where)
        (total,) = self._db.execute(f"SELECT count(*) FROM objects WHERE {condition}", parameters).fetchone()
        rows = self._db.execute(
            "SELECT id, properties, malformed, created_ms, updated_ms FROM objects "
            f"WHERE {condition} ORDER BY {', '.join([*order, 'id ASC'])} LIMIT ? OFFSET ?",
            [*parameters, limit, offset],
        ).fetchall()
        return int(total), [_stored(row) for row in rows]


def served_properties(object_type: str, stored: StoredObject, requested: Sequence[str]) -> dict[str, str | None] | str:
    """The properties a read returns: those requested (null when unset) plus the system ones."""
    if isinstance(stored.properties, str):
        return stored.properties
    system = {
        ID_PROPERTY: str(stored.id),
        MODIFIED_PROPERTY[object_type]: iso_ms(stored.updated_ms),
        CREATED_PROPERTY: stored.properties.get(CREATED_PROPERTY) or iso_ms(stored.created_ms),
    }
    names = list(requested or DEFAULT_PROPERTIES[object_type])
    served = {name: system.get(name, stored.properties.get(name)) for name in names}
    return {**served, **{name: value for name, value in system.items() if name not in served}}


def _filterable(object_type: str) -> dict[str, tuple[str, Callable[[str], int]]]:
    """HubSpot property -> (its column, how a filter value converts to the column's type)."""
    return {MODIFIED_PROPERTY[object_type]: ("updated_ms", millis_of), ID_PROPERTY: ("id", _object_id)}


def _object_id(value: str) -> int:
    if not value.isdigit():
        raise RequestProblem(f"{ID_PROPERTY} is a number, not {value!r}")
    return int(value)


def _stored(row: tuple) -> StoredObject:
    object_id, text, malformed, created_ms, updated_ms = row
    return StoredObject(object_id, text if malformed else json.loads(text), created_ms, updated_ms)
