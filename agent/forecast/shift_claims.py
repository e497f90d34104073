"""The predicted shift as claims: which nodes will grow or shrink in the horizon, each with its
calibrated probability. A node grows when its share of the next window is above its share of the
last one (the horizon-long window before the forecast), and shrinks when it is below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from agent.forecast.features import UserVectors
from agent.forecast.model import LevelModel, claim_nodes


@dataclass(frozen=True)
class Claim:
    node: int  # position in the level's index
    direction: Literal["grow", "shrink"]
    probability: float
    share_now: float  # the last window's share
    share_expected: float  # the forecast's share of the next window

    def came_true(self, recent: np.ndarray, truth: np.ndarray) -> bool:
        now, then = recent[self.node], truth[self.node]
        return bool(then > now) if self.direction == "grow" else bool(then < now)


def claims(model: LevelModel, user: UserVectors, forecast: np.ndarray) -> list[Claim]:
    """The nodes expected to rise most (share points) and the one expected to fall most, with probabilities."""
    rising, falling = claim_nodes(user, forecast)
    grow = model.grow_probability(user, forecast) if rising else None
    shrink = model.shrink_probability(user, forecast) if falling else None
    made = [Claim(i, "grow", float(grow[i]), float(user.recent[i]), float(forecast[i])) for i in rising]
    made += [Claim(i, "shrink", float(shrink[i]), float(user.recent[i]), float(forecast[i])) for i in falling]
    return made
