"""`shiftrec bench catalog`: the sample, the variants past the real catalog, the result keys."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bench import catalog_bench
from bench.cli import bench_app
from memory.models import Item
from tests.memory_support import BagOfWordsEmbedder


def _products():
    return tuple(Item(id=str(n), title=f"Product {n} (Private brand, 1 OZ)", categories=["Grocery > Shelf > Kind"])
                 for n in range(10))


def test_sample_draws_real_products_then_variants_with_new_ids(monkeypatch):
    monkeypatch.setattr("memory.grocery.all_products", _products)
    small = catalog_bench.catalog_sample(4, seed=1)
    assert len(small) == 4 and [item.id for item in small] == sorted(item.id for item in small)
    assert small == catalog_bench.catalog_sample(4, seed=1)  # seeded
    big = catalog_bench.catalog_sample(25)
    ids = [item.id for item in big]
    assert len(big) == 25 and len(set(ids)) == 25
    variant = big[10]
    assert variant.id == "synthetic-0" and variant.title.startswith("Product ") and "Synthetic brand" in variant.title
    assert variant.categories == ["Grocery > Shelf > Kind"]


def test_results_keep_the_other_keys_of_domains_json(tmp_path):
    (tmp_path / "domains.json").write_text(json.dumps({"p4": {"pop": {"recall@10": 0.1}}}))
    timing = {"items": 100, "seconds": 0.5, "items_per_s": 200.0}
    result = {"catalog_items_per_s": 200.0, "catalog_items_per_s_before": 50.0,
              "catalog": {"before_path": "x", "before": {"10000": timing}, "after": {"10000": timing},
                          "after_one_thread": {"10000": timing}, "load_average_before": [0.1],
                          "load_average_after": [0.2]}}
    catalog_bench._write(tmp_path, result)
    stored = json.loads((tmp_path / "domains.json").read_text())
    assert stored["p4"] == {"pop": {"recall@10": 0.1}} and stored["catalog_items_per_s"] == 200.0
    table = (tmp_path / "domains_catalog.md").read_text()
    assert "| after, one thread | 10000 | 0.5 | 200.0 |" in table


def test_time_add_times_what_follows_the_warm_up_items(monkeypatch):
    monkeypatch.setattr("memory.service.MiniLMEmbedder", lambda **_: BagOfWordsEmbedder())
    items = list(_products()) + [Item(id=f"x{n}", title=f"X {n}") for n in range(70)]
    timing = catalog_bench.time_add(items, {"bulk_threads": 1})
    assert timing["items"] == 80 - 64 and timing["items_per_s"] > 0


def test_the_command_refuses_a_folder_that_is_no_checkout(tmp_path):
    result = CliRunner().invoke(bench_app, ["catalog", "--before-tree", str(tmp_path), "--results", str(tmp_path)])
    assert result.exit_code != 0 and "no ShiftRec checkout" in result.output
