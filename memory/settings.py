"""The memory's own settings: the `SHIFTREC_MEMORY__*` group and what opening a memory needs.

serving/settings.py composes them into the product's one settings object; nothing in
memory/ reads the environment or knows about serving/.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from memory.embeddings import Precision


class MemorySettings(BaseModel):
    """How behaviour becomes interests."""

    model_config = ConfigDict(extra="forbid")

    action_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "view": 0.3,
            "click": 0.5,
            "like": 2.0,
            "purchase": 3.0,
            "dislike": -2.0,
            "skip": -0.5,
            "stated": 1.0,
        },
        description="Signed weight of each action; 'rate' uses rating_weights instead. 'stated' is a "
        "preference said in chat, stored on the catalog items closest to what was said.",
    )
    rating_weights: dict[int, float] = Field(
        default_factory=lambda: {1: -2.0, 2: -1.0, 3: 0.25, 4: 1.0, 5: 2.0},
        description="Signed weight of a rating, by its value (mapped from rating_scale onto 1 to 5) rounded to "
        "the nearest key.",
    )
    rating_scale: tuple[float, float] = Field(
        default=(1.0, 5.0),
        description="Lowest and highest rating this catalog uses (MovieLens: 1 to 5), e.g. '[0, 10]'. A 'rate' "
        "value outside it is refused and nothing of its batch is stored; inside, it is mapped linearly onto "
        "rating_weights' 1 to 5.",
    )
    session_gap_s: float = Field(default=1800.0, gt=0, description="Idle gap that closes a session.")
    short_term_half_life_s: float = Field(default=3 * 86400.0, gt=0, description="Short-term decay in time.")
    short_term_half_life_events: float = Field(default=20.0, gt=0, description="Short-term decay in events.")
    long_term_half_life_s: float = Field(default=180 * 86400.0, gt=0, description="Long-term decay in time.")
    trajectory_bucket_s: float = Field(default=7 * 86400.0, gt=0, description="Width of one trajectory bucket.")
    subtopics_per_topic: int = Field(default=4, ge=1, description="Clusters inside a flat topic.")
    min_items_per_subtopic: int = Field(default=5, ge=1, description="Fewer clusters when a flat topic is small.")
    cluster_seed: int = Field(default=0, description="Seed of the subtopic k-means: same catalog, same subtopics.")
    short_term_window_events: int = Field(
        default=200, ge=1, description="Latest events kept for short-term interests (older ones weigh ~0)."
    )
    session_items_kept: int = Field(default=6, ge=1, description="Latest items kept per session for summaries.")
    trend_threshold: float = Field(
        default=0.05, ge=0, description="Share points a trend must pass to count as rising or fading."
    )
    trajectory_points: int = Field(default=26, ge=2, description="Latest trajectory buckets shown per interest.")
    summary_token_budget: int = Field(default=1000, ge=50, description="Default token budget of a summary.")
    ingest_batch_size: int = Field(default=5000, ge=1, le=5000, description="Events per all-or-nothing batch.")
    user_cache_size: int = Field(default=2048, ge=1, description="Users whose interest state stays in memory.")
    state_checkpoint_events: int = Field(
        default=32,
        ge=1,
        description="Online events per user between writes of the derived rows (1: every event). The events "
        "are always stored at once; derived rows are rebuilt from the events written since on load.",
    )

    @field_validator("rating_scale")
    @classmethod
    def _ordered_scale(cls, scale: tuple[float, float]) -> tuple[float, float]:
        low, high = scale
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise ValueError(f"rating_scale {list(scale)} must be two finite numbers, lowest first, e.g. [1, 5]")
        return scale

    @field_validator("action_weights")
    @classmethod
    def _lowercase_actions(cls, weights: dict[str, float]) -> dict[str, float]:
        return {action.lower(): weight for action, weight in weights.items()}


class MemoryConfig(BaseModel):
    """Everything :class:`memory.service.InterestMemory` needs: where the store is and the memory group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chroma_path: Path = Field(description="Folder of the embedded Chroma (used when chroma_url is unset).")
    chroma_url: str | None = Field(default=None, description="Chroma server URL; unset: embedded Chroma.")
    torch_threads: int = Field(default=1, ge=1, description="Threads for embeddings; vLLM needs the rest.")
    bulk_threads: int | None = Field(
        default=None, ge=1, description="Threads for embedding a large catalog add; unset: every core (set it to "
        "torch_threads where the LLM serves heavy traffic on the same cores while catalogs are added).",
    )
    embed_precision: Precision = Field(
        default="auto", description="auto: bf16 matrix products where the CPU has them natively, else fp32.",
    )
    memory: MemorySettings = Field(default_factory=MemorySettings)
