"""Pydantic models the LLM must produce. Every id is a Choice: an enum fixed per request."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.llm.choices import Choice

REASON_MAX_CHARS = 160
SHARED_MAX_CHARS = 50


class RankedItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Choice("candidates", "Id of one candidate item.")  # type: ignore[valid-type]
    reason: str = Field(max_length=REASON_MAX_CHARS, description="Why this item fits the person, in one sentence.")
    evidence: list[Choice("events", "Id of one of the person's own events.")] = Field(  # type: ignore[valid-type]
        max_length=3, description="Events from the person's history that support the reason."
    )
    interest: Choice("interests", "Id of the interest node this item serves.")  # type: ignore[valid-type]


class RerankOutput(BaseModel):
    """The candidates in the order the LLM prefers, each with a grounded reason."""

    model_config = ConfigDict(extra="forbid")

    items: list[RankedItem] = Field(min_length=1, max_length=5)


class PredictedShift(BaseModel):
    """Where the person's interest is heading next."""

    model_config = ConfigDict(extra="forbid")

    from_interest: Choice("interests", "Interest the person is moving away from.")  # type: ignore[valid-type]
    to_interest: Choice("interests", "Interest the person is moving towards.")  # type: ignore[valid-type]
    confidence: float = Field(ge=0.0, le=1.0, description="0 = a guess, 1 = certain.")
    rationale: str = Field(max_length=200, description="One sentence citing the trend that supports it.")


class InterestProfile(BaseModel):
    """A short textual profile, the interests it rests on, and the predicted next shift."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field(max_length=300, description="Two sentences on what the person likes now.")
    long_term: list[Choice("interests")] = Field(max_length=4, description="Lasting interests, strongest first.")  # type: ignore[valid-type]
    short_term: list[Choice("interests")] = Field(max_length=3, description="Recent interests.")  # type: ignore[valid-type]
    shift: PredictedShift


class ItemExplanation(BaseModel):
    """Why one recommended item fits, grounded in the person's own events."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=REASON_MAX_CHARS, description="One sentence naming a past item it resembles.")
    evidence: list[Choice("events", "Label of one of the listed past events.")] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=2
    )
    interest: Choice("interests", "Label of the interest it serves.")  # type: ignore[valid-type]


class ExplanationLink(BaseModel):
    """Which past event a recommended item is like, and what the two share (explain/v4, v7).

    Evidence comes first so the words are written knowing which item they compare with."""

    model_config = ConfigDict(extra="forbid")

    evidence: list[Choice("events", "Label of the related past event it is most like.")] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=1  # one: every decoded token counts when 40 requests share 2 cores
    )
    shared: str = Field(max_length=SHARED_MAX_CHARS, description="A few words on what the two items share.")


class EvidencePick(BaseModel):
    """Which past event a recommended item is most like (explain/v5, v6): the only thing the small
    packaged model decides well, in about 7 answer tokens; the sentence is built in code."""

    model_config = ConfigDict(extra="forbid")

    evidence: Choice("events", "Label of the related past event it is most like.")  # type: ignore[valid-type]


class LabelChoice(BaseModel):
    """The one-pass ranking's answer: the label of the best candidate (read as logprobs)."""

    model_config = ConfigDict(extra="forbid")

    label: Choice("labels", "Letter of the best candidate.")  # type: ignore[valid-type]


class WhyText(BaseModel):
    """A recommendation's stored evidence, phrased for a person (no new facts)."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(max_length=400, description="Two sentences using only the listed evidence.")


class ChatReply(BaseModel):
    """A short conversational answer to a message that asks for nothing the recommender does."""

    model_config = ConfigDict(extra="forbid")

    reply: str = Field(max_length=300, description="One or two friendly sentences.")
