"""How often each problem is injected: the documented rates (see README.md).

Rates are probabilities drawn per record, so observed counts vary around
rate x records; tests allow for binomial noise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemRates:
    # Per clean record of the day: delivered a second time later in the same delivery.
    duplicate_rate: float = 0.01
    # Per clean record of the previous day: delivered again, identical, today.
    redelivery_rate: float = 0.005
    # Per clean record of the day: one extra malformed line (a copy with a reserved key).
    malformed_rate: float = 0.004
    # Per new order: its customer_id never appears in warehouse_customers.
    orphan_order_rate: float = 0.01
    # Per new order: a later status change (shipped/cancelled) arriving 1-6 days late.
    order_status_change_rate: float = 0.06
    # Per new order: a later refund arriving 1-6 days late.
    order_refund_rate: float = 0.03
    # Per event: delivered in the dump of a later day (1-2 days late).
    late_event_rate: float = 0.02
    # Per (day, currency): the rate is corrected and republished the next day.
    fx_correction_rate: float = 0.05
    # Per new order from the drift day on: quantity above the 32-bit integer range.
    wide_quantity_rate: float = 0.002

    def __post_init__(self) -> None:
        for name, rate in vars(self).items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"ProblemRates.{name} must be within [0, 1], got {rate}")
        if self.order_status_change_rate + self.order_refund_rate > 1.0:
            raise ValueError("order_status_change_rate + order_refund_rate must not exceed 1")


DEFAULT_PROBLEM_RATES = ProblemRates()
