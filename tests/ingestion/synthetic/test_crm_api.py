"""The CRM API's HubSpot shapes, in process (Starlette's test client on the real app and SQLite store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ingestion.synthetic.crm_api.app import ApiConfig, create_app
from ingestion.synthetic.crm_api.store import Store, millis_of

TOKEN = "test-token"


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator:
    stores: list[Store] = []

    def make(**config: object) -> TestClient:
        store = Store(tmp_path / f"crm-{len(stores)}.db")
        stores.append(store)
        return TestClient(create_app(store, ApiConfig(token=TOKEN, **config)), headers={"Authorization": f"Bearer {TOKEN}"})  # type: ignore[arg-type]

    yield make
    for store in stores:
        store.close()


def _upsert(client: TestClient, object_type: str, *contacts: dict[str, object], id_property: str = "contact_id"):
    inputs = [{"idProperty": id_property, "id": str(c[id_property]), "properties": c} for c in contacts]
    response = client.post(f"/crm/v3/objects/{object_type}/batch/upsert", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def _contact(number: int, **changes: object) -> dict[str, object]:
    return {"contact_id": f"ct_{number:08d}", "firstname": f"F{number}", "email": f"c{number}@x.test", **changes}


def _search(client: TestClient, **body: object):
    return client.post("/crm/v3/objects/contacts/search", json=body)


def test_list_pages_by_id_in_hubspot_shape(make_client) -> None:
    client = make_client()
    _upsert(client, "contacts", *(_contact(n) for n in range(1, 4)))

    first = client.get("/crm/v3/objects/contacts", params={"limit": 2, "properties": "firstname,email"}).json()
    assert [r["properties"]["firstname"] for r in first["results"]] == ["F1", "F2"]
    record = first["results"][0]
    assert list(record) == ["id", "properties", "createdAt", "updatedAt", "archived"]
    assert record["archived"] is False and record["id"] == record["properties"]["hs_object_id"]
    assert record["updatedAt"].endswith("Z") and record["properties"]["lastmodifieddate"] == record["updatedAt"]
    following = client.get(first["paging"]["next"]["link"]).json()
    assert [r["properties"]["firstname"] for r in following["results"]] == ["F3"]
    assert "paging" not in following


def test_an_upsert_of_an_existing_object_updates_it_and_serves_it_again(make_client) -> None:
    client = make_client()
    [created] = _upsert(client, "contacts", _contact(1))
    checkpoint = created["updatedAt"]
    _upsert(client, "contacts", _contact(2))
    [updated] = _upsert(client, "contacts", _contact(1, email="new@x.test"))
    assert updated["id"] == created["id"] and updated["new"] is False
    assert updated["updatedAt"] >= checkpoint and updated["createdAt"] == created["createdAt"]

    later = _search(
        client,
        filterGroups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": str(millis_of(checkpoint))}]}],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}, {"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        properties=["contact_id", "email", "firstname"],
        limit=10,
    ).json()
    served = [(r["properties"]["contact_id"], r["properties"]["email"]) for r in later["results"]]
    # One row per id: contact 1 once, as last written; unchanged properties kept (HubSpot merges).
    assert served == [("ct_00000002", "c2@x.test"), ("ct_00000001", "new@x.test")]
    assert later["results"][1]["properties"]["firstname"] == "F1"


def test_search_pages_with_after_up_to_the_cap(make_client) -> None:
    client = make_client(search_cap=5)
    _upsert(client, "contacts", *(_contact(n) for n in range(1, 9)))
    page = _search(client, limit=3).json()
    assert page["total"] == 8 and page["paging"]["next"]["after"] == "3"
    last = _search(client, limit=2, after="3").json()
    assert "paging" not in last  # the cap: 5 results, however many match
    refused = _search(client, limit=3, after="3")
    assert refused.status_code == 400 and "at most 5 results" in refused.json()["message"]


def test_a_malformed_record_is_served_inside_a_valid_page(make_client) -> None:
    client = make_client()
    _upsert(client, "contacts", _contact(1))
    truncated = '{"contact_id":"ct_spare_0001_0000","firstna'
    client.post(
        "/crm/v3/objects/contacts/batch/upsert",
        json={"inputs": [{"idProperty": "contact_id", "id": "ct_spare_0001_0000", "properties": truncated}]},
    ).raise_for_status()
    response = _search(client, limit=10, properties=["contact_id"])
    results = json.loads(response.content)["results"]
    assert [r["properties"] for r in results][1] == truncated
    assert isinstance(results[0]["properties"], dict)


def test_a_missing_or_wrong_token_is_401_and_health_needs_none(make_client) -> None:
    client = make_client()
    assert client.get("/health").json() == {"status": "ok"}
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        response = client.get("/crm/v3/objects/contacts", headers=headers)
        assert response.status_code == 401 and response.json()["category"] == "INVALID_AUTHENTICATION"


def test_every_nth_read_is_rate_limited_or_fails_and_writes_are_not_counted(make_client) -> None:
    client = make_client(rate_limit_every=3, retry_after_seconds=7, fault_every=4)
    _upsert(client, "contacts", _contact(1))
    statuses = [_search(client, limit=1).status_code for _ in range(8)]
    assert statuses == [200, 200, 429, 500, 200, 429, 200, 500]
    limited = [_search(client, limit=1) for _ in range(4)][0]  # read 9
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": [{"idProperty": "contact_id", "id": "a", "properties": {}}] * 2}, "Duplicate IDs"),
        ({"inputs": [{"idProperty": "contact_id", "id": str(n), "properties": {}} for n in range(101)]}, "at most 100"),
        ({"inputs": [{"idProperty": "contact_id", "id": "a", "properties": {"lastmodifieddate": "1"}}]}, "read-only"),
    ],
)
def test_bad_batches_are_refused_whole(make_client, body: dict, message: str) -> None:
    client = make_client()
    response = client.post("/crm/v3/objects/contacts/batch/upsert", json=body)
    assert response.status_code == 400 and message in response.json()["message"]
    assert client.get("/crm/v3/objects/contacts").json()["results"] == []


def test_unsupported_requests_say_what_is_supported(make_client) -> None:
    client = make_client(page_limit=10)
    assert client.get("/crm/v3/objects/tickets").status_code == 404
    wrong_property = _search(client, filterGroups=[{"filters": [{"propertyName": "email", "operator": "EQ", "value": "x"}]}])
    assert wrong_property.status_code == 400 and "lastmodifieddate" in wrong_property.json()["message"]
    deals_property = client.post(
        "/crm/v3/objects/deals/search",
        json={"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": "0"}]}]},
    )
    assert deals_property.status_code == 400 and "hs_lastmodifieddate" in deals_property.json()["message"]
    assert _search(client, limit=11).status_code == 400
