"""Warehouse orders: one CSV per day of rows updated that day (new orders and late corrections).

A new order has status `placed`. Some orders get one later correction that arrives
1-6 days after the order's day, restating the whole row with a later `updated_at`:
- a status change to `shipped` or `cancelled` (amount unchanged);
- a refund: status `refunded` and `amount` adjusted to what the customer still pays
  (0.00 for a full refund, half, rounded down to the currency unit, for a partial one).
  Amounts are never negative; the latest row per order_id is the order's state.

Schema drift from day index DRIFT_DAY_INDEX on: the column `coupon_code` is appended,
and `quantity` widens from int32 to int64 (some quantities exceed 2**31 - 1).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ingestion.synthetic.people import CITIES, LATIN1_CITIES
from ingestion.synthetic.problem_rates import ProblemRates
from ingestion.synthetic.report import LateArrival, LateKind, MalformedKind, SchemaDrift
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.timestamps import SECONDS_PER_DAY, at_second, sql_timestamp
from ingestion.synthetic.volumes import DailyVolumes
from ingestion.synthetic.warehouse_customers import ORPHAN_CUSTOMER_ID_BASE, ORPHAN_CUSTOMER_ID_SPAN

# Real order ids count up from 1; spare ids for malformed lines sit far above, below 2**31.
SPARE_ORDER_ID_BASE = 2_000_000_000

SOURCE = LandingSource(
    name="warehouse_orders",
    file_format="csv",
    key_field="order_id",
    file_name="orders.csv",
    malformed_kinds=(MalformedKind.BAD_TYPE, MalformedKind.MISSING_KEY, MalformedKind.INVALID_UTF8),
    spare_key=lambda rng, day_index, n: SPARE_ORDER_ID_BASE + day_index * 10_000 + n,
    bad_type_field="amount",
    bad_value=lambda rng: f"{rng.randint(1, 999)},{rng.randint(0, 9)}x",
    invalid_utf8_field="ship_city",
    invalid_utf8_values=LATIN1_CITIES,
)
COLUMNS = (
    "order_id", "customer_id", "ordered_at", "status", "currency", "amount",
    "quantity", "channel", "ship_city", "updated_at",
)
DRIFT_DAY_INDEX = 5
DRIFT_COLUMN = "coupon_code"
INT32_MAX = 2**31 - 1
MAX_CORRECTION_LATENESS_DAYS = 6
# (position among day 0's orders, lateness in days): refunds that always exist, so
# integration tests can find one inside and one outside a 3-day window.
GUARANTEED_REFUNDS = ((0, 2), (1, 5))

CURRENCIES = ("USD", "EUR", "GBP", "JPY")
CURRENCY_WEIGHTS = (50, 25, 15, 10)
# JPY has no minor unit: its amounts are whole yen, still written with 2 decimals.
MINOR_UNITS_PER_UNIT = {"USD": 1, "EUR": 1, "GBP": 1, "JPY": 100}
CHANNELS = ("web", "mobile_app", "store", "marketplace")
COUPON_CODES = ("WELCOME10", "SPRING5", "VIP20")
COUPON_SHARE = 0.1
FULL_REFUND_SHARE = 0.7
CANCELLED_SHARE = 0.2
# Orders are placed early enough that their updated_at (up to 10 minutes later) stays on the same day.
LATEST_ORDER_SECOND = SECONDS_PER_DAY - 601


@dataclass(frozen=True)
class _PendingCorrection:
    record: Record
    arrival: LateArrival


def daily_orders(
    start: dt.date,
    days: int,
    volumes: DailyVolumes,
    seed: int,
    rates: ProblemRates,
    referenceable_customers: Iterable[Sequence[int]],
) -> Iterator[SourceDay]:
    pending: dict[int, list[_PendingCorrection]] = defaultdict(list)
    next_order_id = 1
    for day_index, customer_ids in zip(range(days), referenceable_customers, strict=True):
        day = start + dt.timedelta(days=day_index)
        rng = rng_for(seed, SOURCE.name, day_index, "records")
        drifted = day_index >= DRIFT_DAY_INDEX
        new_orders: list[Record] = []
        orphan_keys: list[str] = []
        for position in range(volumes.orders):
            order, is_orphan = _new_order(rng, next_order_id, day, position, drifted, customer_ids, rates)
            new_orders.append(order)
            if is_orphan:
                orphan_keys.append(str(next_order_id))
            correction = _plan_correction(rng, order, day_index, position, start, rates)
            if correction is not None:
                pending[day_index + correction.arrival.lateness_days].append(correction)
            next_order_id += 1

        arriving = pending.pop(day_index, [])
        records = sorted(
            [*new_orders, *(item.record for item in arriving)],
            key=lambda record: (record["updated_at"], record["order_id"]),
        )
        columns = (*COLUMNS, DRIFT_COLUMN) if drifted else COLUMNS
        yield SourceDay(
            records=tuple(records),
            columns=columns,
            late_arrivals=tuple(item.arrival for item in sorted(arriving, key=lambda item: item.record["order_id"])),
            orphan_keys=tuple(orphan_keys),
            schema_drift=_schema_drift(start, records) if drifted else None,
        )


def format_minor_units(minor_units: int) -> str:
    return f"{minor_units // 100}.{minor_units % 100:02d}"


def _new_order(
    rng: random.Random,
    order_id: int,
    day: dt.date,
    position: int,
    drifted: bool,
    customer_ids: Sequence[int],
    rates: ProblemRates,
) -> tuple[Record, bool]:
    # Every draw happens for every order, used or not, so a rate change does not shift
    # the random stream of the orders after it.
    is_orphan = rng.random() < rates.orphan_order_rate
    orphan_id = ORPHAN_CUSTOMER_ID_BASE + rng.randint(0, ORPHAN_CUSTOMER_ID_SPAN)
    customer_id = orphan_id if is_orphan else rng.choice(customer_ids)
    ordered_at = at_second(day, rng.randint(0, LATEST_ORDER_SECOND))
    updated_at = ordered_at + dt.timedelta(seconds=rng.randint(0, 600))
    currency = rng.choices(CURRENCIES, weights=CURRENCY_WEIGHTS)[0]
    minor_units = rng.randint(500, 50_000) * MINOR_UNITS_PER_UNIT[currency]
    quantity = rng.randint(1, 10)
    wide_quantity = rng.randint(INT32_MAX + 1, 2**40)
    # Position 0 guarantees at least one wide value on every drifted day.
    is_wide = rng.random() < rates.wide_quantity_rate or position == 0
    coupon = rng.choice(COUPON_CODES) if rng.random() < COUPON_SHARE else ""
    order: Record = {
        "order_id": order_id,
        "customer_id": customer_id,
        "ordered_at": sql_timestamp(ordered_at),
        "status": "placed",
        "currency": currency,
        "amount": format_minor_units(minor_units),
        "quantity": wide_quantity if drifted and is_wide else quantity,
        "channel": rng.choice(CHANNELS),
        "ship_city": rng.choice(CITIES),
        "updated_at": sql_timestamp(updated_at),
    }
    if drifted:
        order[DRIFT_COLUMN] = coupon
    return order, is_orphan


def _plan_correction(
    rng: random.Random,
    order: Record,
    day_index: int,
    position: int,
    start: dt.date,
    rates: ProblemRates,
) -> _PendingCorrection | None:
    roll = rng.random()
    lateness = rng.randint(1, MAX_CORRECTION_LATENESS_DAYS)
    arrival_second = rng.randint(0, SECONDS_PER_DAY - 1)
    detail_roll = rng.random()
    if roll < rates.order_refund_rate:
        kind = LateKind.ORDER_REFUND
    elif roll < rates.order_refund_rate + rates.order_status_change_rate:
        kind = LateKind.ORDER_STATUS_CHANGE
    else:
        kind = None
    if day_index == 0:
        for guaranteed_position, guaranteed_lateness in GUARANTEED_REFUNDS:
            if position == guaranteed_position:
                kind, lateness = LateKind.ORDER_REFUND, guaranteed_lateness
    if kind is None:
        return None

    original_day = start + dt.timedelta(days=day_index)
    arrival_day = original_day + dt.timedelta(days=lateness)
    corrected = dict(order)
    corrected["updated_at"] = sql_timestamp(at_second(arrival_day, arrival_second))
    if kind == LateKind.ORDER_REFUND:
        corrected["status"] = "refunded"
        corrected["amount"] = _amount_after_refund(order, is_full=detail_roll < FULL_REFUND_SHARE)
    else:
        corrected["status"] = "cancelled" if detail_roll < CANCELLED_SHARE else "shipped"
    changes = {
        name: (str(order[name]), str(corrected[name]))
        for name in ("status", "amount")
        if order[name] != corrected[name]
    }
    return _PendingCorrection(corrected, LateArrival(str(order["order_id"]), kind, original_day, arrival_day, changes))


def _amount_after_refund(order: Record, is_full: bool) -> str:
    if is_full:
        return format_minor_units(0)
    unit = MINOR_UNITS_PER_UNIT[str(order["currency"])]
    paid = int(str(order["amount"]).replace(".", ""))
    return format_minor_units(paid // 2 // unit * unit)


def _schema_drift(start: dt.date, records: Sequence[Record]) -> SchemaDrift:
    wide_keys = dict.fromkeys(str(record["order_id"]) for record in records if int(record["quantity"]) > INT32_MAX)
    return SchemaDrift(
        since_day=start + dt.timedelta(days=DRIFT_DAY_INDEX),
        added_columns=(DRIFT_COLUMN,),
        widened_columns={"quantity": "int32 -> int64"},
        widened_value_keys=tuple(wide_keys),
    )
