"""The roles the LLM may play, each with the stand-in that serves until the LLM earns it.

A role's metric is higher-is-better unless ``lower_is_better``; its prompts' versions key the card,
so a changed prompt must earn its role again."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    INTENT = "intent"
    PROFILE_TEXT = "profile_text"
    SHIFT = "shift"
    RERANK = "rerank"
    EVIDENCE = "evidence"
    EXPLANATION_WORDS = "explanation_words"
    CHAT = "chat"
    WHY = "why"
    SHIFT_FORECAST = "shift_forecast"


@dataclass(frozen=True)
class RoleInfo:
    role: Role
    standin: str
    metric: str
    prompts: tuple[str, ...]
    lower_is_better: bool = False


ROLES: dict[Role, RoleInfo] = {info.role: info for info in (
    RoleInfo(Role.INTENT, "the sentence-embedding classifier",
             "accuracy on labelled messages the classifier is least sure of", ("intent",)),
    RoleInfo(Role.PROFILE_TEXT, "the memory's deterministic sentence",
             "share of the next window's top topics the text names (0 when it fails a check)", ("profile",)),
    RoleInfo(Role.SHIFT, "the learned forecast (the memory's trend without one)",
             "Brier score of the claimed shift over the next window (1 when it fails a check)", ("profile",),
             lower_is_better=True),
    RoleInfo(Role.RERANK, "the fused order (content similarity to recent items on the held-out cases)",
             "reciprocal rank of the held-out next item among 10 candidates", ("rank",)),
    RoleInfo(Role.EVIDENCE, "the most similar liked past item",
             "item-kNN share of the item's score carried by the cited event", ("explain",)),
    RoleInfo(Role.EXPLANATION_WORDS, "the topics the two items share, from the catalog",
             "explanations that pass every check and name a topic the two items truly share", ("explain",)),
    RoleInfo(Role.CHAT, "the help text, varied per turn",
             "replies that pass every check, repeat no earlier reply and say what the chat can do", ("chat",)),
    RoleInfo(Role.WHY, "the stored reason and evidence, listed",
             "answers that pass every check and name only the evidence on record", ("why",)),
    RoleInfo(Role.SHIFT_FORECAST, "the learned forecast (fitted on the earlier cuts only)",
             "cross-entropy of the next window's mix at the adapter's level, nats (a LoRA adapter of the model)",
             ("shift",), lower_is_better=True),
)}

COMPUTED = "computed from your history"


def written_by(model_id: str) -> str:
    """How an LLM-made answer says where it came from."""
    return f"written by {model_id}"
