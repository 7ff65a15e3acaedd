"""Deterministic landing-zone sources with documented, injected problems (see README.md)."""

from ingestion.synthetic.generator import GenerationRequestError, deliver_days, generate_sources, plan_days
from ingestion.synthetic.problem_rates import DEFAULT_PROBLEM_RATES, ProblemRates
from ingestion.synthetic.report import GenerationReport, SourceDayReport
from ingestion.synthetic.volumes import VOLUMES_AT_SCALE_1, DailyVolumes

__all__ = [
    "DEFAULT_PROBLEM_RATES",
    "VOLUMES_AT_SCALE_1",
    "DailyVolumes",
    "GenerationReport",
    "GenerationRequestError",
    "ProblemRates",
    "SourceDayReport",
    "deliver_days",
    "generate_sources",
    "plan_days",
]
