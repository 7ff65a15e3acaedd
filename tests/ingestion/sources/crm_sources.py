"""The CRM sources the HTTP connector's tests read, as `ingestion/sources.yml` declares them.

`HttpSource` stands in for `ingestion.sources.declarations.HttpSource` (same fields) until
the declarations reach this branch; the connector reads only these attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

# HubSpot names the modified date differently per object type.
CURSOR_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
KEY = {"contacts": ("contact_id",), "deals": ("deal_id",)}


@dataclass(frozen=True)
class HttpSource:
    name: str
    object_type: str
    key: tuple[str, ...]
    cursor_property: str
    page_size: int = 100
    kind: str = "http"


def crm_source(name: str, object_type: str, page_size: int = 20) -> HttpSource:
    return HttpSource(name, object_type, KEY[object_type], CURSOR_PROPERTY[object_type], page_size)
