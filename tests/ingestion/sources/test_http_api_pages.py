"""The HTTP connector's paging, retries and mapping, against the CRM API app in process (no server, no Spark)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.settings import LakehouseSettings, load_settings
from ingestion.bronze.columns import LINE_NUMBER, PARSE_ERROR, RAW_LINE, SOURCE_FILE
from ingestion.sources import http_api
from ingestion.sources.http_api import COLUMNS, Cursor, HttpSourceError, fetch_pages, page_rows, parse_page, position_after
from ingestion.synthetic.crm_api.app import ApiConfig, create_app
from ingestion.synthetic.crm_api.store import Store
from tests.ingestion.sources.crm_sources import HttpSource, crm_source

TOKEN = "test-token"
CONTACTS = crm_source("crm_contacts", "contacts", page_size=7)
FAR_FUTURE_MS = 2**42


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    stores: list[Store] = []

    def make(**config: Any) -> TestClient:
        stores.append(Store(tmp_path / f"crm-{len(stores)}.db"))
        app = create_app(stores[-1], ApiConfig(token=TOKEN, **config))
        return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})

    yield make
    for store in stores:
        store.close()


def _settings(tmp_path: Path, **crm_api: Any) -> LakehouseSettings:
    return load_settings(home=tmp_path, crm_api={"retry_budget_seconds": 20, **crm_api})


def _upsert(client: TestClient, numbers: range | list[int], **changes: str) -> None:
    inputs = [
        {"idProperty": "contact_id", "id": f"ct_{n:08d}", "properties": {"contact_id": f"ct_{n:08d}", "firstname": f"F{n}", **changes}}
        for n in numbers
    ]
    client.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs}).raise_for_status()


def _read(client: TestClient, settings: LakehouseSettings, cursor: Cursor | None = None, source: HttpSource = CONTACTS):
    send = http_api._sender(settings, source, client)
    pages = list(fetch_pages(send, source, COLUMNS[source.object_type], cursor, FAR_FUTURE_MS))
    return pages, [r["properties"]["contact_id"] for page in pages for r in page.records]


def test_objects_sharing_a_timestamp_across_pages_and_past_the_cap_are_read_once(api, tmp_path: Path) -> None:
    # Each batch shares one modified time; 7 a page splits both batches; a cap of 10 is
    # far below the 35 objects, and the connector never pages into it.
    client = api(search_cap=10)
    settings = _settings(tmp_path)
    _upsert(client, range(1, 26))
    _upsert(client, range(26, 36))
    pages, ids = _read(client, settings)
    assert ids == [f"ct_{n:08d}" for n in range(1, 36)]
    assert [len(page.records) for page in pages] == [7, 7, 7, 7, 7]

    position = position_after(pages[-1].records[-1])
    _upsert(client, [3, 30, 36], company="Acme")
    _, since = _read(client, settings, Cursor.of(position))
    assert since == ["ct_00000003", "ct_00000030", "ct_00000036"]
    _, nothing = _read(client, settings, Cursor.of(position_after(_read(client, settings, Cursor.of(position))[0][-1].records[-1])))
    assert nothing == []


def test_an_object_modified_mid_read_is_read_again_and_none_is_skipped(api, tmp_path: Path) -> None:
    client = api()
    settings = _settings(tmp_path)
    _upsert(client, range(1, 15))
    send = http_api._sender(settings, CONTACTS, client)
    calls = 0

    def send_then_modify(body: dict[str, Any]):
        nonlocal calls
        calls += 1
        response = send(body)
        if calls == 1:  # an object of the page just read changes before the next page
            _upsert(client, [2], company="Moved")
        return response

    pages = list(fetch_pages(send_then_modify, CONTACTS, COLUMNS["contacts"], None, FAR_FUTURE_MS))
    ids = [r["properties"]["contact_id"] for page in pages for r in page.records]
    assert ids == [f"ct_{n:08d}" for n in range(1, 15)] + ["ct_00000002"]


def test_429_and_500_within_the_budget_are_survived_honouring_retry_after(api, tmp_path: Path) -> None:
    client = api(rate_limit_every=2, retry_after_seconds=0, fault_every=3)
    _upsert(client, range(1, 20))
    _, ids = _read(client, _settings(tmp_path))
    assert ids == [f"ct_{n:08d}" for n in range(1, 20)]


def test_faults_past_the_budget_and_a_wrong_token_are_one_line(api, tmp_path: Path) -> None:
    failing = api(fault_every=1)
    with pytest.raises(HttpSourceError) as past_budget:
        _read(failing, _settings(tmp_path, retry_attempts=3))
    message = str(past_budget.value)
    assert message.startswith("crm_contacts: the CRM API at http://127.0.0.1:8099 answered 500 3 times, past the retry budget")
    assert "nothing was committed" in message and "\n" not in message

    client = api()
    client.headers["Authorization"] = "Bearer not-the-token"
    with pytest.raises(HttpSourceError, match=r"crm_contacts: .* refused the token in .*secrets/crm-api/token \(401\)"):
        _read(client, _settings(tmp_path))

    with pytest.raises(HttpSourceError, match=r"refused the search \(400: limit must be between 1 and 5.*page_size"):
        _read(api(page_limit=5), _settings(tmp_path))


def test_records_map_to_the_file_columns_and_a_malformed_one_to_a_parse_error() -> None:
    records = [
        {
            "id": "7", "archived": False, "createdAt": "2026-05-01T10:00:00.000Z", "updatedAt": "2026-05-01T10:00:00.000Z",
            "properties": {
                "contact_id": "ct_00000007", "firstname": "Ada", "lastname": "L", "email": "a@x.test", "company": None,
                "country": "DE", "createdate": "2026-01-01T09:21:56Z", "updated_at": "2026-01-02T10:00:00Z",
                "hs_object_id": "7", "lastmodifieddate": "2026-05-01T10:00:00.000Z",
            },
        },
        {"id": "8", "properties": '{"contact_id":"ct_spare', "updatedAt": "2026-05-01T10:00:00.000Z"},
    ]
    good, bad = page_rows(records, "/b/pages/x/page-0001.json", COLUMNS["contacts"])
    assert list(good) == [
        "contact_id", "first_name", "last_name", "email", "company", "country", "created_at", "updated_at",
        SOURCE_FILE, LINE_NUMBER, RAW_LINE, PARSE_ERROR,
    ]
    assert (good["first_name"], good["company"], good["created_at"]) == ("Ada", None, "2026-01-01T09:21:56Z")
    assert (good[LINE_NUMBER], bad[LINE_NUMBER], good[PARSE_ERROR]) == (1, 2, None)
    assert json.loads(good[RAW_LINE]) == records[0]
    assert bad[PARSE_ERROR] == http_api.NOT_AN_OBJECT and bad["contact_id"] is None
    assert bad[RAW_LINE] == json.dumps(records[1], separators=(",", ":"))


def test_a_page_out_of_order_or_without_ids_is_refused() -> None:
    def page(*records: dict[str, str]) -> bytes:
        return json.dumps({"results": list(records)}).encode()

    a = {"id": "5", "updatedAt": "2026-05-01T10:00:00.000Z"}
    b = {"id": "4", "updatedAt": "2026-05-01T10:00:00.000Z"}
    assert [r["id"] for r in parse_page(page(b, a), None).records] == ["4", "5"]
    with pytest.raises(ValueError, match="out of"):
        parse_page(page(a, b), None)
    with pytest.raises(ValueError, match="out of"):  # not after the cursor
        parse_page(page(a), Cursor.of(position_after(a)))
    with pytest.raises(ValueError, match="lacks a numeric id"):
        parse_page(page({"updatedAt": "2026-05-01T10:00:00.000Z"}), None)
