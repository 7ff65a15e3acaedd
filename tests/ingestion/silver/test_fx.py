from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.testing import assertDataFrameEqual

from ingestion.silver.fx import convert_to_usd, latest_fx_rates

FX = "date date, currency string, rate_to_usd decimal(18,8), published_at timestamp"
ORDERS = "order_id bigint, order_date date, currency string, amount decimal(18,2)"
CONVERTED = f"{ORDERS}, amount_usd decimal(18,2), fx_rate_date date, amount_usd_missing_reason string"

JAN_1, JAN_2, JAN_3, JAN_6 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 6)


def fx_rates(spark):
    return spark.createDataFrame(
        [
            (JAN_2, "EUR", Decimal("1.10000000"), dt.datetime(2024, 1, 2, 8, 0)),
            # The afternoon correction of the same day's EUR rate.
            (JAN_2, "EUR", Decimal("1.20000000"), dt.datetime(2024, 1, 2, 16, 0)),
            (JAN_1, "GBP", Decimal("1.25000000"), dt.datetime(2024, 1, 1, 8, 0)),
            (JAN_2, "CHF", Decimal("1.23456789"), dt.datetime(2024, 1, 2, 8, 0)),
            # A wrong USD row must not override the fixed rate of 1.
            (JAN_2, "USD", Decimal("2.00000000"), dt.datetime(2024, 1, 2, 8, 0)),
        ],
        FX,
    )


def test_the_latest_published_correction_wins(spark):
    latest = latest_fx_rates(fx_rates(spark)).where("currency = 'EUR'")

    assertDataFrameEqual(
        latest,
        spark.createDataFrame([(JAN_2, "EUR", Decimal("1.20000000"))], "date date, currency string, rate_to_usd decimal(18,8)"),
    )


def test_convert_to_usd(spark):
    orders = spark.createDataFrame(
        [
            (1, JAN_2, "EUR", Decimal("100.00")),
            (2, JAN_3, "GBP", Decimal("10.00")),
            (3, JAN_1, "GBP", Decimal("0.10")),
            (4, JAN_2, "CHF", Decimal("10.01")),
            (5, JAN_2, "USD", Decimal("5.55")),
            (6, JAN_2, "JPY", Decimal("1000.00")),
            (7, JAN_6, "GBP", Decimal("10.00")),
            (8, JAN_2, None, Decimal("1.00")),
        ],
        ORDERS,
    )

    converted = convert_to_usd(orders, fx_rates(spark), business_date="order_date")

    expected = spark.createDataFrame(
        [
            # The corrected rate, not the morning one.
            (1, JAN_2, "EUR", Decimal("100.00"), Decimal("120.00"), JAN_2, None),
            # No GBP rate on Jan 3: Jan 1's, two days earlier, is within the fallback.
            (2, JAN_3, "GBP", Decimal("10.00"), Decimal("12.50"), JAN_1, None),
            # 0.125 rounds half up.
            (3, JAN_1, "GBP", Decimal("0.10"), Decimal("0.13"), JAN_1, None),
            # 12.3580245789
            (4, JAN_2, "CHF", Decimal("10.01"), Decimal("12.36"), JAN_2, None),
            (5, JAN_2, "USD", Decimal("5.55"), Decimal("5.55"), JAN_2, None),
            (6, JAN_2, "JPY", Decimal("1000.00"), None, None, "no rate_to_usd for JPY on order_date 2024-01-02 or up to 3 days before"),
            # Jan 1's GBP rate is five days old by Jan 6: beyond the fallback.
            (7, JAN_6, "GBP", Decimal("10.00"), None, None, "no rate_to_usd for GBP on order_date 2024-01-06 or up to 3 days before"),
            (8, JAN_2, None, Decimal("1.00"), None, None, "currency is null"),
        ],
        CONVERTED,
    )
    assertDataFrameEqual(converted, expected)
