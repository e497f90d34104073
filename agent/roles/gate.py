"""`RoleGate`: which roles the LLM plays now. Stand-ins serve every role the card does not show
the configured model earning, and all of them while calibration runs or without an LLM.

``mode`` overrides the card for tests and experiments: ``all`` opens every role, ``none`` none."""

from __future__ import annotations

import threading
from typing import Literal

from agent.roles.card import RoleCard
from agent.roles.checks import CheckTally
from agent.roles.names import COMPUTED, ROLES, Role, written_by

GateMode = Literal["earned", "all", "none"]


class RoleGate:
    def __init__(self, mode: GateMode, model_id: str | None, card: RoleCard | None = None):
        self.mode = mode
        self.model_id = model_id
        self.checks = CheckTally()
        self._card = card
        self._calibrating = False
        self._problem: str | None = None
        self._lock = threading.Lock()

    def earned(self, role: Role) -> bool:
        """Does the LLM play ``role`` now?"""
        if self.model_id is None or self.mode == "none":
            return False
        if self.mode == "all":
            return True
        with self._lock:
            result = self._card.roles.get(role.value) if self._card else None
        return bool(result and result.earned)

    def made_by(self, role: Role, by_llm: bool) -> str:
        """'written by <model>' when the LLM's output is served, else 'computed from your history'."""
        return written_by(self.model_id) if by_llm and self.model_id else COMPUTED

    def failed_check(self, role: Role) -> None:
        self.checks.failed(role.value)

    @property
    def card(self) -> RoleCard | None:
        with self._lock:
            return self._card

    def use(self, card: RoleCard) -> None:
        with self._lock:
            self._card, self._calibrating, self._problem = card, False, None

    def calibrating(self, running: bool, problem: str | None = None) -> None:
        with self._lock:
            self._calibrating, self._problem = running, problem

    def view(self) -> dict:
        """What ``/ready`` says: the roles earned, how the card stands, failed checks per role."""
        earned = [role.value for role in ROLES if self.earned(role)]
        with self._lock:
            if self.model_id is None:
                state = "no LLM configured"
            elif self.mode != "earned":
                state = f"roles set to {self.mode!r} by configuration"
            elif self._calibrating:
                state = "calibrating: stand-ins serve every role until it is done"
            elif self._card is not None:
                state = f"card {self._card.key} ({self._card.created_at:%Y-%m-%d %H:%M} UTC)"
            else:
                state = f"no role card for this model{f': {self._problem}' if self._problem else ''}"
        return {"earned": earned, "card": state, "failed_checks": self.checks.counts()}


def open_gate(settings, memory, llm, shift_adapter=None) -> RoleGate:  # AgentConfig, InterestMemory, LLM | None
    """The gate for the configured model: its role card for these prompts and this catalog, if one exists."""
    from agent.roles.card import card_key, catalog_version, load_card, measured_model

    gate = RoleGate(settings.agent.llm_roles, llm.model_id if llm else None)
    if llm is not None and settings.agent.llm_roles == "earned":
        catalog = catalog_version(memory.store.item_count(), list(memory.catalog.topics()))
        card = load_card(settings.card_dir, card_key(measured_model(llm.model_id, shift_adapter), catalog))
        if card is not None:
            gate.use(card)
    return gate
