"""P4: the per-household basket split, the basket metrics, the fast grid against the service's fusion,
and the command's write into domains.json."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.eval import p4
from bench.eval.cli import eval_app
from memory.catalog import CatalogEntry

DAY = 86400


def _purchases() -> pd.DataFrame:
    """h1: four baskets (two on day 3, told apart by basket id); h2: two baskets (too few to evaluate)."""
    rows = [("h1", "milk", 1, 1), ("h1", "bread", 1, 1), ("h1", "milk", 2, 2), ("h1", "eggs", 3, 3),
            ("h1", "milk", 4, 3), ("h1", "jam", 4, 3), ("h2", "milk", 7, 1), ("h2", "tea", 8, 5)]
    return pd.DataFrame([{"household": h, "product": p, "basket": b, "ts": d * DAY} for h, p, b, d in rows])


def test_the_split_keeps_every_held_out_basket_out_of_training():
    split = p4.basket_split(_purchases())
    ids = split.item_ids
    assert [case.user for case in split.test] == ["h1"] and [case.user for case in split.validation] == ["h1"]
    test, validation = split.test[0], split.validation[0]
    assert {ids[i] for i in test.target} == {"milk", "jam"} and test.now == 3 * DAY
    assert {ids[i] for i in validation.target} == {"eggs"}
    assert {ids[i] for i in test.new} == {"jam"}
    trained = {user: [ids[i] for i in items] for user, items in zip(split.train.users, split.train.items, strict=True)}
    assert trained == {"h1": ["milk", "bread", "milk"]}, "h2's two baskets are held out too"
    assert max(split.train.times[0]) < validation.now
    before_test = dict(zip(split.train_validation.users, split.train_validation.items, strict=True))
    assert [ids[i] for i in before_test["h1"]] == ["milk", "bread", "milk", "eggs"]
    assert [ids[i] for i in before_test["h2"]] == ["milk"]
    assert list(test.history) == list(before_test["h1"])


def test_basket_metrics_on_a_hand_computed_case():
    case = p4.BasketCase("h", np.array([0, 1]), np.array([0.0, 1.0]), 2.0, frozenset({0, 2, 3}))
    result = p4.basket_metrics([[0, 5, 2]], [case], k=10)
    assert result["recall@10"] == pytest.approx(round(2 / 3, 4))
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert result["ndcg@10"] == pytest.approx(round((1 + 1 / np.log2(4)) / ideal, 4))
    assert result["new_recall@10"] == pytest.approx(0.5) and result["new_cases"] == 1  # new: {2, 3}
    assert result["new_ndcg@10"] == pytest.approx(round((1 / np.log2(4)) / (1 + 1 / np.log2(3)), 4))


def test_the_fast_grid_orders_as_the_service_fuses_with_distinct_titles():
    rng = np.random.default_rng(0)
    ids = tuple(f"i{n:02d}" for n in range(40))
    titles = {item: f"title {n % 25}" for n, item in enumerate(ids)}  # some share a title
    entries = {item: CatalogEntry(item, titles[item], np.zeros(0), ()) for item in ids}
    rows = []
    for _ in range(5):
        scores = {"popularity": rng.normal(size=40), "repeat": np.where(rng.random(40) < 0.3, rng.random(40), -np.inf),
                  "itemknn": rng.normal(size=40)}
        rows.append(p4.proposals(scores, ids, 12, set()))
    table = p4.FusionTable.build(rows, ("popularity", "repeat", "itemknn"))
    for weights in ({"repeat": 1.0, "popularity": 0.3}, {"repeat": 2.0, "itemknn": 0.25, "popularity": 0.1}):
        fast = table.lists(weights, entries, pool_size=20)
        assert fast == [p4.shipped_list(row, weights, entries, pool_size=20) for row in rows]
        assert all(len({titles[item] for item in listed}) == len(listed) for listed in fast)


def test_the_command_writes_p4_and_keeps_the_other_keys(tmp_path, monkeypatch):
    (tmp_path / "domains.json").write_text(json.dumps({"catalog_items_per_s": 431.2, "p4": {"old": True}}))
    models = {name: {"recall@10": 0.1, "ndcg@10": 0.1, "hit@10": 0.2, "new_recall@10": 0.0, "new_ndcg@10": 0.0,
                     "new_recall@10_unseen_list": 0.0, "train_seconds": 1.0, "peak_rss_mb": 10.0}
              for name in p4.MODELS}
    details = {"households": 10, "households_drawn": 10, "seed": 0, "items": 5, "min_buyers": 3,
               "purchase_lines": 50, "test_cases": 9, "mean_test_basket_items": 3.0, "test_cases_with_new_items": 4,
               "notice": "simulated", "weights": {"repeat": 1.0}, "left_out": "memory sources", "seconds": 1.0}
    seen = {}

    def fake_run(households: int, seed: int, echo) -> dict:
        seen.update(households=households, seed=seed)
        return {"models": models, "details": details}

    monkeypatch.setattr(p4, "run_p4", fake_run)
    outcome = CliRunner().invoke(eval_app, ["p4", "--results", str(tmp_path), "--households", "10"])
    assert outcome.exit_code == 0, outcome.output
    written = json.loads((tmp_path / "domains.json").read_text())
    assert written["catalog_items_per_s"] == 431.2
    assert set(written["p4"]) == set(p4.MODELS), "p4 holds one object per model, nothing else"
    assert all({"recall@10", "ndcg@10", "new_recall@10"} <= set(written["p4"][m]) for m in p4.MODELS)
    assert written["p4_details"]["households"] == 10
    assert seen == {"households": 10, "seed": 0}
    assert "| shiftrec |" in (tmp_path / "domains_p4.md").read_text()
