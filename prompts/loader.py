"""Prompt files: ``prompts/<name>/v<N>.yaml``, loaded by name and rendered strictly.

A file holds ``name``, ``version``, ``output`` (``module:Class`` of the pydantic output
model), ``token_budget`` (the most tokens the rendered prompt may take), ``system`` and
``user`` Jinja templates, and ``sample`` variables used to check that budget. A missing
variable is an error, never an empty string. A changed prompt is a new file.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, TemplateError, meta
from pydantic import BaseModel

_VERSION_FILE = re.compile(r"^v(\d+)\.yaml$")
_JINJA = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_JINJA.filters["capitalised"] = lambda text: text[:1].upper() + text[1:]  # 'TV shows' stays; capitalize lowers it


class PromptError(ValueError):
    """A prompt file is missing or malformed, or a variable is missing."""


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    version: int
    system: str
    user: str

    @property
    def label(self) -> str:
        return f"{self.name}/v{self.version}"


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    output: str
    token_budget: int
    system: str
    user: str
    sample: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def output_type(self) -> type[BaseModel]:
        """The pydantic model this prompt's answer must validate against."""
        module_name, _, class_name = self.output.partition(":")
        return getattr(importlib.import_module(module_name), class_name)

    def render_system(self, **variables: Any) -> str:
        """The system instructions alone (they may use only the catalog's words, see tests/prompts)."""
        try:
            return _JINJA.from_string(self.system).render(**variables).strip()
        except TemplateError as error:
            raise PromptError(f"prompt {self.name}/v{self.version}: {error}") from error

    def render(self, **variables: Any) -> RenderedPrompt:
        try:
            system = _JINJA.from_string(self.system).render(**variables).strip()
            user = _JINJA.from_string(self.user).render(**variables).strip()
        except TemplateError as error:
            raise PromptError(f"prompt {self.name}/v{self.version}: {error}") from error
        return RenderedPrompt(self.name, self.version, system, user)


def template_variables(template: str) -> set[str]:
    """The variables a prompt template reads (what its callers must pass)."""
    return meta.find_undeclared_variables(_JINJA.parse(template))


def available_prompts() -> dict[str, list[int]]:
    """Every prompt name with its versions, oldest first."""
    found: dict[str, list[int]] = {}
    for folder in resources.files("prompts").iterdir():
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        versions = sorted(int(m.group(1)) for f in folder.iterdir() if (m := _VERSION_FILE.match(f.name)))
        if versions:
            found[folder.name] = versions
    return found


@lru_cache(maxsize=64)
def load_prompt(name: str, version: int | None = None) -> Prompt:
    """The prompt ``name`` at ``version`` (default: the newest)."""
    versions = available_prompts().get(name)
    if not versions:
        raise PromptError(f"no prompt named {name!r}; known: {', '.join(sorted(available_prompts())) or 'none'}")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise PromptError(f"prompt {name!r} has no version {chosen}; known: {versions}")
    text = (resources.files("prompts") / name / f"v{chosen}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    missing = {"output", "token_budget", "system", "user"} - set(data or {})
    if missing:
        raise PromptError(f"prompts/{name}/v{chosen}.yaml lacks {', '.join(sorted(missing))}")
    if data.get("name", name) != name or int(data.get("version", chosen)) != chosen:
        raise PromptError(f"prompts/{name}/v{chosen}.yaml names itself {data.get('name')}/v{data.get('version')}")
    return Prompt(
        name=name,
        version=chosen,
        output=data["output"],
        token_budget=int(data["token_budget"]),
        system=data["system"],
        user=data["user"],
        sample=data.get("sample") or {},
        description=data.get("description", ""),
    )
