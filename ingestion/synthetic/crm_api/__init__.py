"""A stand-in for HubSpot's CRM v3 API, serving the generator's contacts and deals.

`lakehouse up` runs it as the `crm-api` service (`python -m ingestion.synthetic.crm_api`).
It answers HubSpot's shapes, on its own SQLite file, behind a bearer token:

- `POST /crm/v3/objects/{contacts|deals}/batch/upsert`: how the feeder writes (at most 100
  inputs, each id once, `idProperty` naming the unique property: `contact_id`, `deal_id`);
- `GET  /crm/v3/objects/{type}?limit=&after=&properties=`: every object, by id;
- `POST /crm/v3/objects/{type}/search`: `filterGroups` on the modified date (`lastmodifieddate`
  for contacts, `hs_lastmodifieddate` for deals) and `hs_object_id`, `sorts`, `limit`,
  `after`, capped at `search_cap` results as HubSpot caps a search at 10,000;
- `GET  /health` (no token): what `lakehouse up` probes.

Like HubSpot it keeps one row per object: an upsert of an object that exists updates it
and sets its modified date to the time of the write, so a record written again (a
duplicate or a redelivery) is served again by the next incremental search, once. The
modified date is the server's own clock in milliseconds; one batch's objects share it.

Injected faults, on reads only (the feeder stands for the CRM's own users): every Nth
read is answered 429 with `Retry-After`, every Mth 500; and an upsert whose `properties` is
a string stores a malformed record, served with that string as its `properties` (the page
stays valid JSON): the generator's truncated records.
"""
