"""`calibrate` on the real embedded model (vLLM, the packaged SmolLM2) over MovieLens users: every
role gets both numbers (the LoRA shift role only where an adapter is served: it is measured by
tests/integration/test_lora_real.py), the card is written and a new service opens exactly the roles
it shows won."""

from __future__ import annotations

import pytest

from agent.roles.calibrate import calibrate
from agent.roles.gate import open_gate
from agent.roles.names import ROLES, Role
from agent.roles.stats import earns
from agent.service import ShiftRecService

pytestmark = pytest.mark.integration
CASES = 4  # a small seeded sample; its duration is measured by `shiftrec bench roles`, not asserted here


def test_the_real_model_is_calibrated_role_by_role_against_its_stand_ins(movielens_service: ShiftRecService):
    card = calibrate(movielens_service, CASES, seed=0, progress=False)
    assert card.model == movielens_service.llm.model_id and set(card.roles) == {role.value for role in ROLES}
    assert movielens_service.shift_adapter is None  # no adapter trained here: the role says so and stays shut
    adapter_role = card.roles[Role.SHIFT_FORECAST.value]
    assert adapter_role.llm is None and not adapter_role.earned and "shiftrec train --llm shift" in adapter_role.note
    for name, result in card.roles.items():
        if name == Role.SHIFT_FORECAST.value:
            continue
        assert result.llm is not None and result.standin is not None and result.cases >= 1, name
        assert result.earned == earns(result.p_value, result.llm, result.standin, result.lower_is_better), name
    # a new service on the same model, prompts and catalog reads the card and opens exactly its earned roles
    settings = movielens_service.settings
    earned_config = settings.model_copy(update={"agent": settings.agent.model_copy(update={"llm_roles": "earned"})})
    gate = open_gate(earned_config, movielens_service.memory, movielens_service.llm)
    assert gate.card is not None and gate.card.key == card.key
    assert gate.view()["earned"] == [role.value for role in ROLES if card.roles[role.value].earned]
