"""What ShiftRec ingests: catalog items and behaviour events, validated at the door."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

CATEGORY_SEPARATOR = ">"
KNOWN_ACTIONS = ("view", "click", "like", "rate", "purchase", "dislike", "skip", "stated")
_EPOCH_MS_THRESHOLD = 10**11  # epoch numbers above this are milliseconds


def to_utc(value: Any) -> datetime:
    """Normalise ISO-8601 (with zone) or epoch seconds/milliseconds to an aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be ISO-8601 with a zone or epoch seconds, not a boolean")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValueError("epoch timestamp must be a finite, non-negative number")
        seconds = value / 1000.0 if value > _EPOCH_MS_THRESHOLD else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError) as error:  # beyond year 9999 / time_t
            raise ValueError(f"epoch timestamp {value!r} is out of range") from error
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return to_utc(float(text))
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"timestamp {value!r} is not ISO-8601 (e.g. 2024-05-01T12:00:00Z)") from error
    else:
        raise ValueError(f"timestamp must be ISO-8601 text or epoch seconds, got {type(value).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone: add 'Z' or an offset like '+02:00'")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError as error:  # e.g. 0001-01-01T00:00:00+01:00 falls before year 1 in UTC
        raise ValueError(f"timestamp {value!r} is out of range once converted to UTC") from error


def split_category(path: str) -> tuple[str, ...]:
    """'Books > Fantasy > Epic' -> ('Books', 'Fantasy', 'Epic'); blank parts are dropped."""
    return tuple(part.strip() for part in path.split(CATEGORY_SEPARATOR) if part.strip())


def _says(title: str, words: str) -> bool:
    """Whether ``title`` holds ``words`` as whole words ('Art' is not in 'Heart'), ignoring case."""
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", title, re.IGNORECASE) is not None


class Item(BaseModel):
    """A catalog item. Categories are flat labels or paths such as 'Books > Fantasy > Epic'."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=256, description="Stable item id, unique in the catalog.")
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(default="", max_length=20_000, description="Description used for embedding.")
    categories: list[str] = Field(default_factory=list, max_length=50)
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("id", "title")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("categories")
    @classmethod
    def _clean_categories(cls, categories: list[str]) -> list[str]:
        cleaned = [f" {CATEGORY_SEPARATOR} ".join(split_category(c)) for c in categories]
        return list(dict.fromkeys(c for c in cleaned if c))

    @property
    def category_paths(self) -> list[tuple[str, ...]]:
        return [split_category(c) for c in self.categories]

    def embedding_text(self) -> str:
        """The text embedded for search: title, categories, description. Category levels the title
        already says are left out: each repeated word costs embedding time and adds nothing."""
        parts = [self.title]
        paths = [
            f" {CATEGORY_SEPARATOR} ".join(level for level in path if not _says(self.title, level))
            for path in self.category_paths
        ]
        if any(paths):
            parts.append("; ".join(path for path in paths if path))
        if self.text:
            parts.append(self.text)
        return ". ".join(parts)


class Event(BaseModel):
    """One interaction of a user with an item. Re-sending the same id changes nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default="", max_length=256, description="Idempotency key; derived when empty.")
    user: str = Field(min_length=1, max_length=256)
    item: str = Field(min_length=1, max_length=256)
    action: str = Field(description=f"One of {', '.join(KNOWN_ACTIONS)}.")
    value: float | None = Field(
        default=None, validate_default=True, description="The rating, for action 'rate'; finite when given."
    )
    timestamp: datetime = Field(description="ISO-8601 with a zone, or epoch seconds; stored in UTC.")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _normalise_time(cls, value: Any) -> datetime:
        return to_utc(value)

    @field_validator("action")
    @classmethod
    def _known_action(cls, action: str) -> str:
        action = action.strip().lower()
        if action not in KNOWN_ACTIONS:
            raise ValueError(f"unknown action {action!r}; use one of: {', '.join(KNOWN_ACTIONS)}")
        return action

    @field_validator("id")
    @classmethod
    def _strip_event_id(cls, value: str) -> str:
        return value.strip()

    @field_validator("value", mode="before")
    @classmethod
    def _no_boolean_value(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("value must be a number, not a boolean")
        return value

    @field_validator("value")
    @classmethod
    def _finite_rating(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("value must be a finite number")
        if value is None and info.data.get("action") == "rate":
            raise ValueError("action 'rate' needs a numeric 'value' (the rating)")
        return value

    @field_validator("user", "item")
    @classmethod
    def _strip_ids(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _derive_id(self) -> Event:
        if not self.id:
            key = f"{self.user}\x1f{self.item}\x1f{self.action}\x1f{self.value}\x1f{self.timestamp.isoformat()}"
            object.__setattr__(self, "id", "e-" + hashlib.sha1(key.encode()).hexdigest()[:20])
        return self

    @property
    def epoch(self) -> float:
        return self.timestamp.timestamp()
