"""Every fitted level of the forecast, with everyone's mixes at the end of the log it learned from,
saved beside the behaviour models of one artifact version (forecast.npz + forecast.json)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.forecast.features import ADJUSTMENTS, COMPONENTS, DATA
from agent.forecast.horizon import Horizon
from agent.forecast.model import Blend, Head, LevelModel
from agent.forecast.population import LevelIndex, Population

FORMAT = "shiftrec-forecast/1"
ARRAYS, META = "forecast.npz", "forecast.json"


class ForecastFileError(ValueError):
    """The saved forecast is missing, of another format or incomplete."""


@dataclass
class ForecastModel:
    horizon: Horizon
    levels: dict[int, LevelModel]
    populations: dict[int, Population]  # everyone's mixes at ``fitted_until``
    claim_depth: int
    fitted_until: float
    version: str = "unversioned"
    validation: dict = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        for depth, level in self.levels.items():
            arrays.update({
                f"{depth}.nodes": np.array(level.level.nodes, dtype=str), f"{depth}.a": level.blend.a,
                f"{depth}.b": level.blend.b, f"{depth}.gamma": level.blend.gamma,
                f"{depth}.transitions": level.transitions, f"{depth}.change": level.change,
                f"{depth}.stay": np.append(level.stay.coef, level.stay.intercept),
                f"{depth}.leader_discount": np.array([level.leader_discount]),
                f"{depth}.grow": np.append(level.grow.coef, level.grow.intercept),
                f"{depth}.shrink": np.append(level.shrink.coef, level.shrink.intercept),
                **{f"{depth}.population.{k}": v for k, v in self.populations[depth].as_arrays().items()},
            })
        np.savez_compressed(folder / ARRAYS, **arrays)
        (folder / META).write_text(json.dumps({
            "format": FORMAT, "horizon": self.horizon.model_dump(), "depths": sorted(self.levels),
            "claim_depth": self.claim_depth, "fitted_until": self.fitted_until, "validation": self.validation,
        }, indent=2))

    @classmethod
    def load(cls, folder: Path, version: str) -> ForecastModel:
        """The saved model; anything missing, truncated or malformed is a ForecastFileError that says to retrain."""
        try:
            meta = json.loads((folder / META).read_text())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
                raise ForecastFileError(f"{folder / META} is {found!r}, not {FORMAT}: retrain with `shiftrec train`")
            with np.load(folder / ARRAYS) as saved:
                levels = {depth: _level(saved, depth) for depth in meta["depths"]}
                populations = {depth: Population(*(saved[f"{depth}.population.{k}"] for k in POPULATION_KEYS))
                               for depth in meta["depths"]}
            model = cls(Horizon(**meta["horizon"]), levels, populations, int(meta["claim_depth"]),
                        float(meta["fitted_until"]), version, meta.get("validation", {}))
            _check_shapes(model)
        except ForecastFileError:
            raise
        except (OSError, KeyError, ValueError, TypeError, AttributeError, EOFError, zipfile.BadZipFile) as error:
            raise ForecastFileError(f"the forecast in {folder} cannot be read ({type(error).__name__}: {error}): "
                                    "retrain with `shiftrec train`") from error
        return model


POPULATION_KEYS = ("long_run", "recent", "previous")


def _level(saved, depth: int) -> LevelModel:
    def get(name: str) -> np.ndarray:
        return saved[f"{depth}.{name}"]

    grow, shrink, stay = get("grow"), get("shrink"), get("stay")
    return LevelModel(
        LevelIndex(depth, tuple(get("nodes").tolist())), Blend(get("a"), get("b"), get("gamma")),
        get("transitions").astype(np.float64), Head(grow[:-1], float(grow[-1])), Head(shrink[:-1], float(shrink[-1])),
        get("change"), Head(stay[:-1], float(stay[-1])), float(get("leader_discount")[0]))


def _check_shapes(model: ForecastModel) -> None:
    """Arrays of the wrong length would only fail at the first forecast: refuse them at load."""
    for depth, level in model.levels.items():
        size = len(level.level)
        population = model.populations[depth]
        if (level.transitions.shape != (size, size) or len(level.blend.a) != len(COMPONENTS)
                or level.blend.b.shape != (len(COMPONENTS), len(DATA)) or len(level.blend.gamma) != len(ADJUSTMENTS)
                or any(len(v) != size for v in (population.long_run, population.recent, population.previous))):
            raise ValueError(f"depth {depth}: arrays do not match its {size} nodes")
    if model.claim_depth not in model.levels:
        raise ValueError(f"claim depth {model.claim_depth} is not a fitted level")
