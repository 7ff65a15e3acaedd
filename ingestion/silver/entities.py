"""What each Silver table is made of: its Bronze source, keys, business date and column types.

This is the staging step of the medallion (as in dbt's `stg_` models): rename and
cast, nothing else. The types come from the Silver contract, so a contract change
cannot drift away from what the job writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from ingestion.contracts.contract import TableContract


@dataclass(frozen=True)
class SilverEntity:
    table: str  # Silver table = contract name
    source: str  # Bronze source it is built from
    keys: tuple[str, ...]
    # Silver column -> Bronze (raw string) column it is cast from.
    renamed: Mapping[str, str]
    # Silver columns computed from the typed ones (e.g. the business date); callables,
    # because a Column can only be built once a SparkSession exists.
    derived: Mapping[str, Callable[[], Column]] = field(default_factory=dict)
    # The version column: the latest wins in dedup and in the MERGE.
    version_column: str = "updated_at"
    # Business date and partition; None = a small table merged without a window.
    date_column: str | None = None
    # Set when the amount is converted to USD: the date whose FX rate applies.
    fx_date_column: str | None = None
    # Set for an SCD2 dimension: the attributes whose change opens a new version.
    scd2_tracked: tuple[str, ...] = ()

    @property
    def converts_to_usd(self) -> bool:
        return self.fx_date_column is not None


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


CUSTOMERS = SilverEntity(
    table="customers",
    source="warehouse_customers",
    keys=("customer_id",),
    renamed={"op": "op", **_same("customer_id", "first_name", "last_name", "email", "country", "segment", "updated_at")},
    scd2_tracked=("first_name", "last_name", "email", "country", "segment"),
)

ORDERS = SilverEntity(
    table="orders",
    source="warehouse_orders",
    keys=("order_id",),
    renamed=_same(
        "order_id", "customer_id", "ordered_at", "status", "currency", "amount", "quantity", "channel", "ship_city", "updated_at"
    ),
    derived={"order_date": lambda: F.to_date("ordered_at")},
    date_column="order_date",
    fx_date_column="order_date",
)

CRM_CONTACTS = SilverEntity(
    table="crm_contacts",
    source="crm_contacts",
    keys=("contact_id",),
    renamed=_same("contact_id", "first_name", "last_name", "email", "company", "country", "created_at", "updated_at"),
)

CRM_DEALS = SilverEntity(
    table="crm_deals",
    source="crm_deals",
    keys=("deal_id",),
    renamed=_same("deal_id", "contact_id", "deal_name", "stage", "currency", "amount", "created_at", "updated_at", "closed_at"),
    # A deal has no business date of its own: its amount is valued as of its last update.
    derived={"fx_date": lambda: F.to_date("updated_at")},
    fx_date_column="fx_date",
)

SESSIONS = SilverEntity(
    table="sessions",
    source="web_sessions",
    keys=("session_id",),
    renamed=_same("session_id", "customer_id", "started_at", "ended_at", "pages", "device", "channel"),
    derived={"session_date": lambda: F.to_date("started_at")},
    version_column="started_at",
    date_column="session_date",
)

EVENTS = SilverEntity(
    table="events",
    source="events",
    keys=("event_id",),
    renamed={
        **_same("event_id", "event_type", "event_time", "session_id", "customer_id", "page"),
        "stream_partition": "partition",
        "stream_offset": "offset",
    },
    derived={"event_date": lambda: F.to_date("event_time")},
    version_column="stream_offset",
    date_column="event_date",
)

FX_RATES = SilverEntity(
    table="fx_rates",
    source="fx_rates",
    keys=("rate_date", "currency"),
    renamed=_same("rate_date", "currency", "rate_to_usd", "published_at"),
    version_column="published_at",
)

# Processing order: referenced tables first (FX before amounts, customers before
# orders and sessions, sessions before events, contacts before deals).
ENTITIES: tuple[SilverEntity, ...] = (FX_RATES, CUSTOMERS, CRM_CONTACTS, CRM_DEALS, ORDERS, SESSIONS, EVENTS)
BY_TABLE = {entity.table: entity for entity in ENTITIES}


def referenced_tables(entity: SilverEntity, contract: TableContract) -> tuple[str, ...]:
    """The other Silver tables a batch of `entity` reads: foreign-key parents, FX rates for USD amounts."""
    parents = [fk.references.table for fk in contract.foreign_keys]
    if entity.converts_to_usd:
        parents.append(FX_RATES.table)
    return tuple(dict.fromkeys(parents))
