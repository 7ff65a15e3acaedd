from __future__ import annotations

import pytest

from lakehouse.gold import GoldResult, build_gold
from tests.scenario import Scenario


@pytest.fixture(scope="package")
def first_build(silver_scenario: Scenario, stack) -> GoldResult:
    """Gold built once on the 10-day scenario, for every test of this folder."""
    return build_gold(stack)
