"""How far ahead a forecast looks: the next D days (groceries) or the next N events (MovieLens ratings).

MovieLens timestamps are rating-entry times (most users rated everything within days), so
a calendar horizon means little there; a year of shopping trips has real weeks and months.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DAY_S = 86400.0
POPULATION_WINDOW_DAYS = 30  # "what everyone does now" for an event horizon


class Horizon(BaseModel):
    """``size`` days or events after the forecast is made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["days", "events"] = Field(description="days: a calendar window; events: the user's next events.")
    size: int = Field(ge=1, le=3650, description="How many days or events.")

    @classmethod
    def parse(cls, text: str) -> Horizon:
        """'30d' or '30 days' -> 30 days; '10e' or '10 events' -> the next 10 events."""
        cleaned = text.strip().lower().replace(" ", "")
        for suffix, unit in (("days", "days"), ("day", "days"), ("d", "days"), ("events", "events"),
                             ("event", "events"), ("e", "events")):
            if cleaned.endswith(suffix) and cleaned[: -len(suffix)].isdigit():
                return cls(unit=unit, size=int(cleaned[: -len(suffix)]))
        raise ValueError(f"forecast horizon {text!r}: write a number of days or events, e.g. '30d' or '10e'")

    @property
    def key(self) -> str:
        return f"{self.size}{self.unit[0]}"

    @property
    def population_window_s(self) -> float:
        """The window of everyone's activity read as "now" (the horizon's length, or 30 days)."""
        return (self.size if self.unit == "days" else POPULATION_WINDOW_DAYS) * DAY_S

    def text(self, plural: str) -> str:
        """'in the next 30 days' / 'in your next 10 movies'."""
        if self.unit == "days":
            return "in the next day" if self.size == 1 else f"in the next {self.size} days"
        return f"in your next {self.size} {plural}"
