"""FX rates: every currency every day, and corrections republished the next day."""

from __future__ import annotations

import datetime as dt

from landing_zone import RUN_START, GeneratedRun

CURRENCIES = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD"}


def test_each_day_has_one_rate_per_currency_and_usd_is_one(scale_one_run: GeneratedRun) -> None:
    for day in scale_one_run.days:
        records = [line.record for line in scale_one_run.landing.parsed_lines("fx_rates", day)]
        todays = [record for record in records if record["rate_date"] == day.isoformat()]
        assert sorted(record["currency"] for record in todays) == sorted(CURRENCIES)
        assert {record["rate_to_usd"] for record in todays if record["currency"] == "USD"} == {"1.00000000"}
        assert all(record["published_at"].startswith(day.isoformat()) for record in todays)


def test_corrections_restate_yesterdays_rate_later_with_a_new_value(scale_one_run: GeneratedRun) -> None:
    landing = scale_one_run.landing
    corrections_in_files = set()
    for previous_day, day in zip(scale_one_run.days, scale_one_run.days[1:]):
        published = {
            (line.record["rate_date"], line.record["currency"]): line.record
            for line in landing.parsed_lines("fx_rates", previous_day)
        }
        for line in landing.parsed_lines("fx_rates", day):
            record = line.record
            if record["rate_date"] != day.isoformat():
                original = published[(record["rate_date"], record["currency"])]
                assert record["rate_date"] == previous_day.isoformat()
                assert record["rate_to_usd"] != original["rate_to_usd"]
                assert record["published_at"] > original["published_at"]
                key = f"{record['rate_date']}/{record['currency']}"
                corrections_in_files.add((key, previous_day, day, original["rate_to_usd"], record["rate_to_usd"]))
    reported = {
        (late.key, late.original_day, late.arrival_day, *late.changes["rate_to_usd"])
        for entry in scale_one_run.report.entries_for("fx_rates")
        for late in entry.late_arrivals
    }
    assert corrections_in_files == reported
    assert (f"{RUN_START.isoformat()}/EUR", RUN_START, RUN_START + dt.timedelta(days=1)) in {item[:3] for item in reported}
