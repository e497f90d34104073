"""Per-user, time-ordered item sequences and the leave-one-out split, shared by the rankers.

Every ranker here (SASRec, item-kNN, popularity) reads the same sequences and is measured
on the same split, so their numbers compare: per user, the last item is the test target,
the second-last the validation target, and everything before trains. Items are addressed
by their index in one vocabulary (0-based, in ``item_ids`` order), so score arrays line up.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from memory.movielens import MovieLens

MIN_EVENTS_TO_EVALUATE = 3


@dataclass(frozen=True)
class UserSequences:
    """Each user's items (vocabulary indices) and timestamps, oldest first."""

    item_ids: tuple[Hashable, ...]
    users: tuple[Hashable, ...]
    items: tuple[np.ndarray, ...]
    times: tuple[np.ndarray, ...]

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def item_counts(self) -> np.ndarray:
        """How often each item occurs across users (popularity)."""
        if not self.items:
            return np.zeros(self.num_items, dtype=np.int64)
        return np.bincount(np.concatenate(self.items), minlength=self.num_items)


@dataclass(frozen=True)
class EvaluationCases:
    """One held-out target per user, with the history the ranker may look at."""

    users: tuple[Hashable, ...]
    histories: tuple[np.ndarray, ...]
    history_times: tuple[np.ndarray, ...]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """Training sequences plus validation (second-last item) and test (last item) cases."""

    train: UserSequences
    validation: EvaluationCases
    test: EvaluationCases


def _to_1d(name: str, values: Sequence | np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def build_user_sequences(
    users: Sequence | np.ndarray,
    items: Sequence | np.ndarray,
    timestamps: Sequence | np.ndarray,
    item_ids: Sequence[Hashable] | None = None,
) -> UserSequences:
    """Group events by user and order them by time (ties keep the input order).

    ``item_ids`` fixes the vocabulary (for instance the whole catalog, or a trained model's);
    without it, the vocabulary is the sorted set of items seen. An event whose item is not
    in a given vocabulary is an error, because silently dropping it would shift the split.
    """
    users_arr, items_arr = _to_1d("users", users), _to_1d("items", items)
    times_arr = _to_1d("timestamps", timestamps).astype(np.float64)
    if not len(users_arr) == len(items_arr) == len(times_arr):
        raise ValueError(
            f"users, items and timestamps differ in length: {len(users_arr)}, {len(items_arr)}, {len(times_arr)}"
        )
    vocabulary = tuple(np.unique(items_arr).tolist()) if item_ids is None else tuple(item_ids)
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("item_ids contains duplicates")
    item_index = pd.Index(vocabulary).get_indexer(items_arr).astype(np.int64)
    if (item_index < 0).any():
        unknown = items_arr[np.flatnonzero(item_index < 0)[0]]
        raise ValueError(f"item {unknown!r} is not in the given item_ids vocabulary")

    user_keys, user_codes = np.unique(users_arr, return_inverse=True)
    order = np.lexsort((np.arange(len(users_arr)), times_arr, user_codes))
    boundaries = np.flatnonzero(np.diff(user_codes[order])) + 1
    groups = np.split(order, boundaries) if len(order) else []
    return UserSequences(
        item_ids=vocabulary,
        users=tuple(user_keys.tolist()),
        items=tuple(item_index[group] for group in groups),
        times=tuple(times_arr[group] for group in groups),
    )


def movielens_sequences(data: MovieLens) -> UserSequences:
    """Sequences of a loaded MovieLens set, keyed by its user ids and catalog item ids.

    The vocabulary is the rated items only (3,706 of ML-1M's 3,883): the standard full-ranking
    protocol ranks those, and a never-rated item has nothing for these rankers to learn from.
    """
    ratings = data.ratings
    rated = np.unique(ratings.item)
    sequences = build_user_sequences(ratings.user, ratings.item, ratings.timestamp, item_ids=rated.tolist())
    return replace(
        sequences,
        item_ids=tuple(data.items[code].id for code in rated.tolist()),
        users=tuple(data.user_ids[code] for code in sequences.users),
    )


def leave_one_out(sequences: UserSequences) -> LeaveOneOutSplit:
    """Split off each user's last item (test) and second-last (validation).

    Users with fewer than three events stay whole in training and are not evaluated.
    """
    train, (validation, test) = _hold_out(sequences, 2)
    return LeaveOneOutSplit(train=train, validation=validation, test=test)


def hold_out_last(sequences: UserSequences) -> tuple[UserSequences, EvaluationCases]:
    """Split off each user's newest item as a held-out case (users with fewer than three events stay whole).

    What the served SASRec trains on, so that the held-out events can check it (and tune the fusion).
    """
    train, (held,) = _hold_out(sequences, 1)
    return train, held


def _hold_out(sequences: UserSequences, count: int) -> tuple[UserSequences, list[EvaluationCases]]:
    """Training sequences without each user's newest ``count`` items, and one set of cases per held-out
    position, oldest first (each case's history is everything before its target)."""
    train_items, train_times = [], []
    parts = [{"users": [], "histories": [], "times": [], "targets": []} for _ in range(count)]
    for user, items, times in zip(sequences.users, sequences.items, sequences.times, strict=True):
        if len(items) < MIN_EVENTS_TO_EVALUATE:
            train_items.append(items)
            train_times.append(times)
            continue
        train_items.append(items[:-count])
        train_times.append(times[:-count])
        for cases, cut in zip(parts, range(-count, 0), strict=True):
            cases["users"].append(user)
            cases["histories"].append(items[:cut])
            cases["times"].append(times[:cut])
            cases["targets"].append(items[cut])
    train = UserSequences(sequences.item_ids, sequences.users, tuple(train_items), tuple(train_times))
    return train, [_cases(cases) for cases in parts]


def _cases(parts: dict[str, list]) -> EvaluationCases:
    return EvaluationCases(
        users=tuple(parts["users"]),
        histories=tuple(parts["histories"]),
        history_times=tuple(parts["times"]),
        targets=np.asarray(parts["targets"], dtype=np.int64),
    )
