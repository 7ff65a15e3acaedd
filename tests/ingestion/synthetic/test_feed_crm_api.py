"""The CRM feeder's pure mapping: a planned day's CRM rows -> HubSpot batch-upsert bodies."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ingestion.synthetic.delivery_problems import Origin
from ingestion.synthetic.feeds.crm_api import BATCH_LIMIT, CRM_OBJECTS, upsert_batches
from ingestion.synthetic.generator import SourceDelivery, plan_days
from ingestion.synthetic.problem_rates import ProblemRates

# High enough that one small day has every kind of row.
RATES = ProblemRates(duplicate_rate=0.3, redelivery_rate=0.3, malformed_rate=0.2)


def _deliveries() -> list[SourceDelivery]:
    days = list(plan_days(dt.date(2026, 1, 1), 2, scale=0.3, seed=7, rates=RATES))
    return [d for day in days for d in day.deliveries if d.source.name in CRM_OBJECTS]


@pytest.mark.parametrize("delivery", _deliveries(), ids=lambda d: d.source.name)
def test_every_row_is_one_input_in_delivery_order(delivery: SourceDelivery) -> None:
    crm = CRM_OBJECTS[delivery.source.name]
    bodies = upsert_batches(delivery)
    inputs = [item for body in bodies for item in body["inputs"]]  # type: ignore[union-attr]
    assert [item["id"] for item in inputs] == [row.record[crm.key] for row in delivery.rows]
    assert {item["idProperty"] for item in inputs} == {crm.key}
    for body in bodies:
        ids = [item["id"] for item in body["inputs"]]  # type: ignore[union-attr]
        assert len(ids) <= BATCH_LIMIT and len(set(ids)) == len(ids), "HubSpot refuses a batch that repeats an id"


def test_properties_take_hubspot_names_and_a_truncated_record_is_text() -> None:
    deliveries = [d for d in _deliveries() if d.source.name == "crm_contacts"]
    rows = [(row, item) for d in deliveries for row, item in zip(d.rows, _inputs(d), strict=True)]
    origins = {row.origin for row, _ in rows}
    assert origins == set(Origin), "the fixture days have every kind of row"
    for row, item in rows:
        properties = item["properties"]
        if row.origin == Origin.MALFORMED:
            assert isinstance(properties, str) and properties.startswith('{"contact_id":')
            with pytest.raises(json.JSONDecodeError):
                json.loads(properties)
            continue
        expected = dict(row.record)
        assert properties == {
            "contact_id": expected["contact_id"], "firstname": expected["first_name"], "lastname": expected["last_name"],
            "email": expected["email"], "company": expected["company"], "country": expected["country"],
            "createdate": expected["created_at"], "updated_at": expected["updated_at"],
        }


def test_deal_properties_keep_nulls() -> None:
    deals = next(d for d in _deliveries() if d.source.name == "crm_deals")
    row, item = next((row, item) for row, item in zip(deals.rows, _inputs(deals), strict=True) if row.origin == Origin.CLEAN)
    assert item["properties"]["dealstage"] == row.record["stage"]
    assert item["properties"]["deal_currency_code"] == row.record["currency"]
    assert "closedate" in item["properties"] and item["properties"]["closedate"] == row.record["closed_at"]


def _inputs(delivery: SourceDelivery) -> list[dict]:
    return [item for body in upsert_batches(delivery) for item in body["inputs"]]  # type: ignore[union-attr]
