"""The LLM interface over any OpenAI-compatible vLLM server, through langchain-openai."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from agent.llm.interface import LLM, LLMUnavailableError, Message, RawCompletion

_LANGCHAIN_TYPES = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


class VllmLLM(LLM):
    """Sends the schema as ``response_format=json_schema``; vLLM enforces it with xgrammar."""

    def __init__(
        self, base_url: str, model: str, *, api_key: str = "EMPTY", timeout_s: float = 30.0, context_tokens: int = 4096
    ):
        self.model_id = model
        self.context_tokens = context_tokens
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._chat = ChatOpenAI(
            base_url=base_url,
            model=model,
            api_key=api_key,
            timeout=timeout_s,
            max_retries=0,
            temperature=0.0,
        )

    def _complete(
        self, messages: Sequence[Message], schema: dict[str, Any], schema_name: str, max_tokens: int,
        on_first_token: Callable[[], None] | None = None,
    ) -> RawCompletion:
        response_format = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
        bound = self._chat.bind(response_format=response_format, max_tokens=max_tokens)
        try:
            if on_first_token is None:
                reply = bound.invoke(_to_langchain(messages))
            else:
                reply = _streamed(bound, _to_langchain(messages), on_first_token)
        except openai.LengthFinishReasonError as error:  # the client's own parse refuses a cut answer
            message = error.completion.choices[0].message if error.completion.choices else None
            return RawCompletion(text=(message.content if message else "") or "", finish_reason="length")
        except (openai.APIConnectionError, openai.APITimeoutError, openai.APIStatusError) as error:
            raise LLMUnavailableError(f"LLM server at {self._chat.openai_api_base} failed: {error}") from error
        usage = reply.usage_metadata or {}
        return RawCompletion(
            text=str(reply.content),
            finish_reason=reply.response_metadata.get("finish_reason") or "stop",
            prompt_tokens=usage.get("input_tokens"),
            completion_tokens=usage.get("output_tokens"),
        )


    def for_model(self, model: str) -> VllmLLM:
        """The same server with requests naming ``model`` (a LoRA adapter it serves)."""
        return VllmLLM(self._base_url, model, api_key=self._api_key, timeout_s=self._timeout_s,
                       context_tokens=self.context_tokens)

    def ping(self) -> bool:
        try:
            response = httpx.get(f"{self._base_url}/models", timeout=2.0,
                                 headers={"Authorization": f"Bearer {self._api_key}"})
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _first_token_logprobs(self, messages: Sequence[Message], k: int) -> dict[str, float]:
        bound = self._chat.bind(logprobs=True, top_logprobs=min(k, 20), max_tokens=1)
        try:
            reply = bound.invoke(_to_langchain(messages))
        except (openai.APIConnectionError, openai.APITimeoutError, openai.APIStatusError) as error:
            raise LLMUnavailableError(f"LLM server at {self._chat.openai_api_base} failed: {error}") from error
        content = (reply.response_metadata.get("logprobs") or {}).get("content") or []
        if not content:
            raise LLMUnavailableError("the LLM server returned no logprobs (is max_logprobs >= 20?)")
        return {entry["token"]: float(entry["logprob"]) for entry in content[0].get("top_logprobs", [])}


def _streamed(bound, messages: list[BaseMessage], on_first_token: Callable[[], None]) -> AIMessageChunk:
    """The whole reply, streamed so that ``on_first_token`` fires as the first chunk arrives."""
    reply: AIMessageChunk | None = None
    for chunk in bound.stream(messages, stream_usage=True):
        if reply is None:
            on_first_token()
            reply = chunk
        else:
            reply = reply + chunk
    if reply is None:
        raise LLMUnavailableError("the LLM server closed the stream without answering")
    return reply


def _to_langchain(messages: Sequence[Message]) -> list[BaseMessage]:
    return [_LANGCHAIN_TYPES[m.role](content=m.content) for m in messages]
