"""Daily FX reference rates: one CSV per day, `rate_to_usd` = USD per one unit of currency.

Each day's file holds that day's rates (published 16:00 UTC) and, before them, any
corrections of the previous day's rates (published 09:00 UTC): same rate_date and
currency, a new rate and a later `published_at`. USD is always 1 and never corrected.
FX rates get no duplicates or malformed lines: they are the clean reference data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from ingestion.synthetic.problem_rates import ProblemRates
from ingestion.synthetic.report import LateArrival, LateKind
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.timestamps import at_second, sql_timestamp

SOURCE = LandingSource(
    name="fx_rates",
    file_format="csv",
    # The key is (rate_date, currency); key_field only names problem lines, which FX never gets.
    key_field="currency",
    file_name="rates.csv",
    receives_duplicates=False,
)
COLUMNS = ("rate_date", "currency", "rate_to_usd", "published_at")
RATE_DECIMALS = 8
# Rates are integers of 1e-8 USD, so the random walk is exact and prints the same everywhere.
RATE_UNIT = 10**RATE_DECIMALS
STARTING_RATES = {
    "USD": RATE_UNIT,
    "EUR": 108_000_000,
    "GBP": 127_000_000,
    "JPY": 670_000,
    "CHF": 112_000_000,
    "CAD": 74_000_000,
}
FLOATING_CURRENCIES = tuple(currency for currency in STARTING_RATES if currency != "USD")
# Daily move, and correction size, in parts per million.
MAX_DAILY_MOVE_PPM = 4_000
CORRECTION_PPM = (1_000, 10_000)
# Always corrected, so every run of 2 days or more has a correction to find.
GUARANTEED_CORRECTION = (0, "EUR")
PUBLISH_SECOND = 16 * 3600
CORRECTION_SECOND = 9 * 3600


def format_rate(units: int) -> str:
    return f"{units // RATE_UNIT}.{units % RATE_UNIT:0{RATE_DECIMALS}d}"


def daily_fx_rates(start: dt.date, days: int, seed: int, rates: ProblemRates) -> Iterator[SourceDay]:
    current = dict(STARTING_RATES)
    corrections_due: list[tuple[Record, LateArrival]] = []
    for day_index in range(days):
        day = start + dt.timedelta(days=day_index)
        rng = rng_for(seed, SOURCE.name, day_index, "records")
        published = [_rate_row(day, "USD", current["USD"], at_second(day, PUBLISH_SECOND))]
        next_corrections: list[tuple[Record, LateArrival]] = []
        for currency in FLOATING_CURRENCIES:
            move_ppm = rng.randint(-MAX_DAILY_MOVE_PPM, MAX_DAILY_MOVE_PPM)
            is_corrected = rng.random() < rates.fx_correction_rate or (day_index, currency) == GUARANTEED_CORRECTION
            correction_ppm = rng.randint(*CORRECTION_PPM) * rng.choice((-1, 1))
            current[currency] = current[currency] * (1_000_000 + move_ppm) // 1_000_000
            published.append(_rate_row(day, currency, current[currency], at_second(day, PUBLISH_SECOND)))
            if is_corrected:
                corrected = current[currency] * (1_000_000 + correction_ppm) // 1_000_000
                next_day = day + dt.timedelta(days=1)
                row = _rate_row(day, currency, corrected, at_second(next_day, CORRECTION_SECOND))
                change = {"rate_to_usd": (format_rate(current[currency]), format_rate(corrected))}
                arrival = LateArrival(f"{day.isoformat()}/{currency}", LateKind.FX_RATE_CORRECTION, day, next_day, change)
                next_corrections.append((row, arrival))
        records = [row for row, _ in corrections_due] + sorted(published, key=lambda row: str(row["currency"]))
        late = tuple(arrival for _, arrival in corrections_due)
        yield SourceDay(tuple(records), COLUMNS, late_arrivals=late)
        corrections_due = sorted(next_corrections, key=lambda item: str(item[0]["currency"]))


def _rate_row(day: dt.date, currency: str, units: int, published_at: dt.datetime) -> Record:
    return {
        "rate_date": day.isoformat(),
        "currency": currency,
        "rate_to_usd": format_rate(units),
        "published_at": sql_timestamp(published_at),
    }
