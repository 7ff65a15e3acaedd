"""Converting amounts to USD with the daily FX table.

The FX feed publishes one rate per (date, currency) and sometimes republishes
a corrected rate for the same day later. The newest publication wins.

A rate is looked up as of the row's business date. When that day has no rate
(weekends, holidays, a late feed), the most recent rate from up to
`max_fallback_days` days earlier is used, and `fx_rate_date` records which day
it came from. The bound is small (3 days by default) because a stale rate is
worse than a quarantined row that waits for the feed to catch up.

USD converts at exactly 1 whatever the table says. A row that cannot be
converted keeps a null `amount_usd`, and `amount_usd_missing_reason` says why
so that the caller can quarantine it. A null `amount` is not an FX problem:
its `amount_usd` is null with no reason, and the table contract decides
whether that is allowed.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from ingestion.silver.dedup import latest_per_key

AMOUNT_TYPE = DecimalType(18, 2)
RATE_TYPE = DecimalType(18, 8)
DEFAULT_MAX_FALLBACK_DAYS = 3
BASE_CURRENCY = "USD"

AMOUNT_USD = "amount_usd"
FX_RATE_DATE = "fx_rate_date"
MISSING_REASON = "amount_usd_missing_reason"


def latest_fx_rates(fx: DataFrame) -> DataFrame:
    """One rate per (date, currency): the latest `published_at` wins.

    Columns: date, currency, rate_to_usd (decimal(18,8)). If two publications of
    one day share a timestamp, the higher rate is kept, so that reruns agree.
    """
    corrected = latest_per_key(fx, ["date", "currency"], order_by="published_at", tie_breaker="rate_to_usd")
    return corrected.select("date", "currency", F.col("rate_to_usd").cast(RATE_TYPE).alias("rate_to_usd"))


def rates_as_of(fx: DataFrame, max_fallback_days: int = DEFAULT_MAX_FALLBACK_DAYS) -> DataFrame:
    """The rate to use on each day: that day's rate, else the newest from up to N days before.

    Columns: as_of_date, currency, rate_to_usd, fx_rate_date; unique per
    (as_of_date, currency), so that an equi-join on it neither loses nor
    duplicates rows.
    """
    if max_fallback_days < 0:
        raise ValueError(f"max_fallback_days must be 0 or more, got {max_fallback_days}")
    rates = latest_fx_rates(fx)
    # Each published rate stands in for the next N days; the freshest candidate wins.
    candidates = rates.select(
        "currency",
        "rate_to_usd",
        F.col("date").alias(FX_RATE_DATE),
        F.explode(F.sequence(F.lit(0), F.lit(max_fallback_days))).alias("_days_stale"),
    ).withColumn("as_of_date", F.date_add(F.col(FX_RATE_DATE), F.col("_days_stale")))
    freshest = latest_per_key(candidates, ["as_of_date", "currency"], order_by=FX_RATE_DATE, tie_breaker="_days_stale")
    return freshest.select("as_of_date", "currency", "rate_to_usd", FX_RATE_DATE)


def convert_to_usd(
    df: DataFrame,
    fx: DataFrame,
    *,
    business_date: str,
    amount: str = "amount",
    currency: str = "currency",
    max_fallback_days: int = DEFAULT_MAX_FALLBACK_DAYS,
) -> DataFrame:
    """`df` plus amount_usd (decimal(18,2), rounded half up), fx_rate_date and amount_usd_missing_reason."""
    rates = rates_as_of(fx, max_fallback_days).select(
        F.col("as_of_date").alias("_fx_as_of_date"),
        F.col("currency").alias("_fx_currency"),
        F.col("rate_to_usd").alias("_fx_rate_to_usd"),
        F.col(FX_RATE_DATE).alias("_fx_rate_date"),
    )
    rate_on_business_date = (df[currency] == rates["_fx_currency"]) & (df[business_date] == rates["_fx_as_of_date"])
    joined = df.join(rates, on=rate_on_business_date, how="left")

    is_usd = F.col(currency) == F.lit(BASE_CURRENCY)
    rate = F.when(is_usd, F.lit(1).cast(RATE_TYPE)).otherwise(F.col("_fx_rate_to_usd"))
    rate_date = F.when(is_usd, F.col(business_date)).otherwise(F.col("_fx_rate_date"))
    # decimal(18,2) x decimal(18,8) is exact in Spark (decimal(37,10)); round once, at the end.
    amount_usd = F.round(F.col(amount).cast(AMOUNT_TYPE) * rate, 2).cast(AMOUNT_TYPE)
    missing_reason = (
        F.when(F.col(currency).isNull(), F.lit(f"{currency} is null"))
        .when(is_usd, F.lit(None))
        .when(F.col(business_date).isNull(), F.lit(f"{business_date} is null"))
        .when(
            F.col("_fx_rate_to_usd").isNull(),
            F.concat(
                F.lit("no rate_to_usd for "),
                F.col(currency),
                F.lit(f" on {business_date} "),
                F.col(business_date).cast("string"),
                F.lit(f" or up to {max_fallback_days} days before"),
            ),
        )
    )
    return joined.select(
        *[df[name] for name in df.columns],
        amount_usd.alias(AMOUNT_USD),
        rate_date.alias(FX_RATE_DATE),
        missing_reason.cast("string").alias(MISSING_REASON),
    )
