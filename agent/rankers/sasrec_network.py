"""The SASRec network: item embeddings, learned positions and causal self-attention blocks.

Kept apart from the training and serving code in ``agent/rankers/sequential.py`` so that the part
that must be exactly right (padding and the causal mask) is small enough to read at once.
Sequences are left-padded with 0, so the newest item always sits at the last position and
the position embeddings mean "steps before the end".
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional

PADDING = 0


class CausalSelfAttentionBlock(nn.Module):
    """Pre-norm self-attention plus a position-wise feed-forward layer, with residuals.

    Written out rather than taken from ``nn.TransformerEncoderLayer`` to drop its dropout on
    the attention weights: on the CPU that dropout's random numbers cost a quarter of a
    training step, and SASRec regularises well with dropout on the block outputs alone.
    """

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(hidden)
        self.query_key_value = nn.Linear(hidden, 3 * hidden)
        self.attention_output = nn.Linear(hidden, hidden)
        self.feed_forward_norm = nn.LayerNorm(hidden)
        self.feed_forward = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))
        self.dropout = nn.Dropout(dropout)

    def forward(self, states: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """``allowed`` is (batch, 1, L, L), True where a query position may read a key position."""
        batch, length, hidden = states.shape
        qkv = self.query_key_value(self.attention_norm(states))
        query, key, value = qkv.view(batch, length, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        attended = functional.scaled_dot_product_attention(query, key, value, attn_mask=allowed)
        attended = attended.transpose(1, 2).reshape(batch, length, hidden)
        states = states + self.dropout(self.attention_output(attended))
        return states + self.dropout(self.feed_forward(self.feed_forward_norm(states)))


class SASRecNetwork(nn.Module):
    """Maps a left-padded batch of item sequences (item index + 1; 0 = padding) to one
    hidden vector per position, each depending only on the items up to that position."""

    def __init__(self, num_items: int, max_len: int, hidden: int, blocks: int, heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} must be divisible by the number of heads {heads}")
        self.num_items, self.max_len, self.hidden = num_items, max_len, hidden
        self.item_embedding = nn.Embedding(num_items + 1, hidden, padding_idx=PADDING)
        self.position_embedding = nn.Embedding(max_len, hidden)
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(CausalSelfAttentionBlock(hidden, heads, dropout) for _ in range(blocks))
        self.final_norm = nn.LayerNorm(hidden)
        nn.init.normal_(self.item_embedding.weight, std=1.0 / math.sqrt(hidden))
        nn.init.normal_(self.position_embedding.weight, std=1.0 / math.sqrt(hidden))
        with torch.no_grad():
            self.item_embedding.weight[PADDING].zero_()

    @staticmethod
    def attention_allowed(sequences: torch.Tensor) -> torch.Tensor:
        """(batch, 1, L, L) boolean mask, True where attention is allowed.

        A position sees itself and earlier real items, never later ones (causal) and never
        padding. A padding position sees only itself, so no softmax row is empty (NaN).
        """
        length = sequences.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=sequences.device).tril()
        real_key = (sequences != PADDING)[:, None, :]
        itself = torch.eye(length, dtype=torch.bool, device=sequences.device)[None]
        return (causal[None] & (real_key | itself))[:, None]

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """(batch, L) item indices + 1 -> (batch, L, hidden) states; L <= max_len."""
        length = sequences.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds the model's max_len {self.max_len}")
        positions = torch.arange(self.max_len - length, self.max_len, device=sequences.device)
        states = self.item_embedding(sequences) * math.sqrt(self.hidden) + self.position_embedding(positions)[None]
        states = self.input_dropout(states) * (sequences != PADDING)[..., None]
        allowed = self.attention_allowed(sequences)
        for block in self.blocks:
            states = block(states, allowed)
        return self.final_norm(states)

    def item_logits(self, states: torch.Tensor) -> torch.Tensor:
        """Scores of every real item (column i = item index i) for each state: tied embeddings."""
        return states @ self.item_embedding.weight[1:].T
