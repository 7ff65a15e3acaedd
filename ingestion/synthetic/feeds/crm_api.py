"""Feed a planned day's CRM deliveries (`crm_contacts`, `crm_deals`) into the CRM API.

`upsert_batches` is the pure mapping: generator records -> bodies of HubSpot's batch
upsert, in delivery order; `feed_day` only sends them. Every delivered row is written,
duplicates and redeliveries included: the API keeps one object per id, so a row written
again updates its object and makes the next incremental search serve it again (see
`ingestion/synthetic/crm_api`). A truncated record is written with its properties as the
truncated JSON text, which the API stores and serves as a malformed record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import httpx2

from catalog.errors import LakehouseError
from catalog.services import crm_api_token_file
from catalog.settings import LakehouseSettings
from ingestion.synthetic.delivery_problems import DeliveredRow, Origin
from ingestion.synthetic.generator import PlannedDay, SourceDelivery
from ingestion.synthetic.report import MalformedKind

# HubSpot's limit on one batch call's inputs.
BATCH_LIMIT = 100
WRITE_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class CrmObject:
    """How one generator source lives in the CRM: its object type, and its columns as properties."""

    object_type: str
    key: str  # the generator column that identifies a record
    # Generator column -> HubSpot property: HubSpot's own where it has one; its key as a
    # unique-value custom property (the upsert's idProperty); the record's own change
    # time as the custom `updated_at` (HubSpot's `lastmodifieddate` is the time of the
    # write, set by the server). A column not named here keeps its name.
    properties: Mapping[str, str]

    def property_of(self, column: str) -> str:
        return self.properties.get(column, column)


CRM_OBJECTS: Mapping[str, CrmObject] = {
    "crm_contacts": CrmObject(
        "contacts",
        "contact_id",
        {"first_name": "firstname", "last_name": "lastname", "created_at": "createdate"},
    ),
    "crm_deals": CrmObject(
        "deals",
        "deal_id",
        # contact_id stays a property: HubSpot would hold it as an association to the contact.
        {
            "deal_name": "dealname", "stage": "dealstage", "currency": "deal_currency_code",
            "created_at": "createdate", "closed_at": "closedate",
        },
    ),
}


class CrmFeedError(LakehouseError):
    """The CRM API refused or did not take the generator's records."""


def upsert_batches(delivery: SourceDelivery) -> list[dict[str, object]]:
    """The delivery as batch-upsert bodies, in delivery order: at most BATCH_LIMIT inputs, each id once per body."""
    crm = CRM_OBJECTS[delivery.source.name]
    bodies: list[list[dict[str, object]]] = [[]]
    ids_in_body: set[str] = set()
    for row in delivery.rows:
        upsert = _upsert_input(crm, delivery.columns, row)
        if len(bodies[-1]) == BATCH_LIMIT or upsert["id"] in ids_in_body:
            bodies.append([])
            ids_in_body = set()
        bodies[-1].append(upsert)
        ids_in_body.add(str(upsert["id"]))
    return [{"inputs": inputs} for inputs in bodies if inputs]


def _upsert_input(crm: CrmObject, columns: tuple[str, ...], row: DeliveredRow) -> dict[str, object]:
    key = row.record.get(crm.key)
    if key is None:
        raise ValueError(f"{crm.object_type}: a record without {crm.key} cannot be upserted ({row.defect})")
    properties: dict[str, object] | str = {crm.property_of(column): row.record.get(column) for column in columns}
    if row.origin == Origin.MALFORMED:
        if row.defect != MalformedKind.TRUNCATED_JSON:
            raise ValueError(f"{crm.object_type}: the CRM API has no way to deliver {row.defect} records")
        # Cut mid-object, like the file mode's truncated line: a prefix of an object never parses.
        text = json.dumps(properties, ensure_ascii=False, separators=(",", ":"))
        properties = text[: len(text) // 2]
    return {"idProperty": crm.property_of(crm.key), "id": str(key), "properties": properties}


def feed_day(settings: LakehouseSettings, planned: PlannedDay) -> dict[str, int]:
    """Write the day's CRM deliveries into the CRM API; rows written per source."""
    url = settings.crm_api.url
    written: dict[str, int] = {}
    with httpx2.Client(base_url=url, headers=_auth(settings), timeout=WRITE_TIMEOUT_SECONDS) as client:
        for delivery in planned.deliveries:
            crm = CRM_OBJECTS.get(delivery.source.name)
            if crm is None:
                continue
            for body in upsert_batches(delivery):
                _post(client, f"/crm/v3/objects/{crm.object_type}/batch/upsert", body, url)
            written[delivery.source.name] = len(delivery.rows)
    return written


def _auth(settings: LakehouseSettings) -> dict[str, str]:
    path = crm_api_token_file(settings)
    try:
        return {"Authorization": f"Bearer {path.read_text().strip()}"}
    except FileNotFoundError:
        raise CrmFeedError(f"no CRM API token at {path}: start the CRM API with `lakehouse up`") from None


def _post(client: httpx2.Client, path: str, body: dict[str, object], url: str) -> None:
    try:
        response = client.post(path, json=body)
    except httpx2.TransportError as exc:
        raise CrmFeedError(f"the CRM API at {url} is not answering ({exc}): start it with `lakehouse up`") from None
    if response.status_code != 200:
        raise CrmFeedError(
            f"the CRM API at {url} refused the generator's records ({response.status_code}: "
            f"{response.text[:200]}): check `lakehouse status` and {url}/health"
        )
