"""The red-team set against the real model: injected chat messages and catalog items never
produce an item outside the catalog, another user's data, or a repeat of the instructions."""

from __future__ import annotations

import pytest

from agent.service import ShiftRecService
from bench.redteam import run_redteam

pytestmark = pytest.mark.integration


def test_the_red_team_set_finds_no_violation_with_the_real_model(movielens_service: ShiftRecService, record_property):
    result = run_redteam(movielens_service, attacker="45", victim="46")
    record_property("redteam", result)
    assert result["redteam_cases"] >= 40
    assert result["violations"] == []
