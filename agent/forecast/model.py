"""The learned forecast of one tree level: a blend of mixes corrected log-linearly, and two
logistic heads that turn it into calibrated "will grow" / "will shrink" probabilities.

    p(node) ∝ (sum_k w_k * component_k(node)) * exp(adjustments(node) @ gamma),
    w = softmax(a + B @ data_amount)

The blend's weights depend on how much the user has done (a user with three events leans on
everyone, a heavy user on their own mix); the corrections say what a blend cannot (a node
bought in the last window is less likely to be bought again so soon, the season's drift).
All of it is fitted by maximising the likelihood of the next window's mix (its cross-entropy)
on earlier cuts of the log. A node's probability to grow (its share of the next window above its share of the last
one) comes from a logistic regression on that forecast and the recent share, fitted on the
same cuts: logistic regression is calibrated where it was fitted, and the benchmark checks it
on later cuts (expected calibration error).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from agent.forecast.features import (
    ADJUSTMENTS,
    COMPONENTS,
    DATA,
    EPS,
    UserVectors,
    adjustments,
    components,
    data_amount,
)
from agent.forecast.population import LevelIndex, Population

L2 = 1e-3
MAX_FIT_CASES = 3000  # cases the blend is fitted on at most (seeded subsample): big levels stay in memory
TRANSITION_PRIOR = 5.0  # pseudo-cases of everyone's mix behind each leader's row
HEAD_ROWS = 300_000  # (case, node) rows a head is fitted on at most (seeded subsample)
RISING_SHOWN = 2  # claims of a forecast: the nodes expected to rise most
FALLING_SHOWN = 1  # and the one expected to fall most


@dataclass(frozen=True)
class Case:
    """One user at one cut: what the forecast may read, and the next window's mix (the truth)."""

    user: UserVectors
    population: Population
    truth: np.ndarray


@dataclass(frozen=True)
class Head:
    coef: np.ndarray
    intercept: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))


@dataclass(frozen=True)
class Blend:
    """The fitted parameters: blend logits ``a``, their data slopes ``b`` and the corrections ``gamma``."""

    a: np.ndarray  # (components,)
    b: np.ndarray  # (components, data)
    gamma: np.ndarray  # (adjustments,)

    def distribution(self, parts: np.ndarray, corrections: np.ndarray, data: np.ndarray) -> np.ndarray:
        weights = softmax(self.a + self.b @ data)
        return softmax(np.log(parts @ weights + 1e-12) + corrections @ self.gamma)

    def as_dict(self) -> dict:
        return {"blend": {name: round(float(v), 4) for name, v in zip(COMPONENTS, self.a, strict=True)},
                "blend_data_slopes": {name: dict(zip(DATA, np.round(row, 4).tolist(), strict=True))
                                      for name, row in zip(COMPONENTS, self.b, strict=True)},
                "corrections": {name: round(float(v), 4) for name, v in zip(ADJUSTMENTS, self.gamma, strict=True)}}


@dataclass(frozen=True)
class LevelModel:
    level: LevelIndex
    blend: Blend
    transitions: np.ndarray  # row a: what users who led with node a did next (shares)
    grow: Head
    shrink: Head
    change: np.ndarray  # weights of lead_features: which node takes the lead when the leader loses it
    stay: Head  # on stay_features: whether the last window's leader keeps the lead
    leader_discount: float = 1.0  # what a next-leader list multiplies the leader's probability by (ranking.py)

    def lead_probability(self, user: UserVectors, forecast: np.ndarray) -> np.ndarray:
        """Probability that each node leads (has the largest share of) the next window:
        P(the leader stays) for the leader, P(it changes) * P(node | it changes) for the others."""
        scores = lead_features(user, forecast) @ self.change
        leader = user.leader
        if leader is None:
            return softmax(scores)
        scores[leader] = -np.inf
        stay = float(self.stay.probability(stay_features(user, forecast)[None, :])[0])
        lead = (1.0 - stay) * softmax(scores)
        lead[leader] = stay
        return lead

    def distribution(self, user: UserVectors, population: Population) -> np.ndarray:
        leader = user.leader
        row = self.transitions[leader] if leader is not None else population.long_run
        return self.blend.distribution(components(user, population, row), adjustments(user, population),
                                       data_amount(user))

    def grow_probability(self, user: UserVectors, forecast: np.ndarray) -> np.ndarray:
        return self.grow.probability(head_features(user, forecast))

    def shrink_probability(self, user: UserVectors, forecast: np.ndarray) -> np.ndarray:
        return self.shrink.probability(head_features(user, forecast))


def head_features(user: UserVectors, forecast: np.ndarray) -> np.ndarray:
    log_p, log_recent = np.log(forecast + EPS), np.log(user.recent + EPS)
    data = np.full_like(log_p, np.log1p(user.recent_events) / 3.0)
    return np.stack([log_p, log_recent, log_p - log_recent, (user.recent > 0).astype(float),
                     np.isfinite(user.days_since).astype(float), data, np.log(user.long_run + EPS)], axis=1)


LEAD_FEATURES = ("log_forecast", "log_recent", "log_long_run", "current_leader", "in_recent", "leader_margin",
                 "data_x_log_forecast", "data_x_log_long_run", "long_run_leader")


def cross_entropy(p: np.ndarray, q: np.ndarray) -> float:
    """-sum q log p: nats per event of the next window (a zero probability costs ~28 nats, never inf)."""
    return float(-(q * np.log(np.clip(p, 1e-12, None))).sum())


def lead_features(user: UserVectors, forecast: np.ndarray) -> np.ndarray:
    leader, long_leader = np.zeros_like(forecast), np.zeros_like(forecast)
    margin = 0.0
    if user.leader is not None:
        leader[user.leader] = 1.0
        ordered = np.sort(user.recent)[::-1]
        margin = float(ordered[0] - ordered[1]) if len(ordered) > 1 else float(ordered[0])
    if user.long_run.any():
        long_leader[int(np.argmax(user.long_run))] = 1.0
    data = np.log1p(user.recent_events) / 3.0
    log_p, log_long = np.log(forecast + 1e-9), np.log(user.long_run + EPS)
    return np.stack([log_p, np.log(user.recent + EPS), log_long, leader, (user.recent > 0).astype(float),
                     leader * margin, data * log_p, data * log_long, long_leader], axis=1)


def stay_features(user: UserVectors, forecast: np.ndarray) -> np.ndarray:
    """The last window's leader: its margin, its share now, in the long run and in the forecast, and the data."""
    leader = user.leader if user.leader is not None else 0
    ordered = np.sort(user.recent)[::-1]
    margin = float(ordered[0] - ordered[1]) if len(ordered) > 1 else float(ordered[0])
    return np.array([margin, user.recent[leader], np.log(user.long_run[leader] + EPS), np.log(forecast[leader] + 1e-9),
                     np.log1p(user.recent_events) / 3.0, np.log1p(user.events) / 5.0])


def fit_transitions(cases: Sequence[Case], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per leader: the sum of the next windows' mixes and how many cases led with it."""
    sums, counts = np.zeros((size, size)), np.zeros(size)
    for case in cases:
        leader = case.user.leader
        if leader is not None:
            sums[leader] += case.truth
            counts[leader] += 1
    return sums, counts


def transition_table(sums: np.ndarray, counts: np.ndarray, prior: np.ndarray) -> np.ndarray:
    return (sums + TRANSITION_PRIOR * prior) / (counts[:, None] + TRANSITION_PRIOR)


def fit_level(cases: Sequence[Case], level: LevelIndex, seed: int = 0, l2: float = L2) -> LevelModel:
    """The blend on ``cases`` (each case's own window left out of its transition row), then the heads."""
    size = len(level)
    sums, counts = fit_transitions(cases, size)
    prior = np.mean([case.population.long_run for case in cases], axis=0)
    fit_on = list(cases)
    if len(fit_on) > MAX_FIT_CASES:
        chosen = np.random.default_rng(seed).choice(len(fit_on), MAX_FIT_CASES, replace=False)
        fit_on = [fit_on[i] for i in sorted(chosen)]
    parts = np.empty((len(fit_on), size, len(COMPONENTS)), dtype=np.float32)
    corrections = np.empty((len(fit_on), size, len(ADJUSTMENTS)), dtype=np.float32)
    data = np.stack([data_amount(case.user) for case in fit_on]).astype(np.float32)
    for c, case in enumerate(fit_on):
        parts[c] = components(case.user, case.population, _left_out_row(case, sums, counts, prior))
        corrections[c] = adjustments(case.user, case.population)
    blend = _fit_blend(parts, corrections, data, np.stack([case.truth for case in fit_on]).astype(np.float32), l2)
    unfitted = Head(np.zeros(7), 0.0)
    model = LevelModel(level, blend, transition_table(sums, counts, prior), unfitted, unfitted,
                       np.zeros(len(LEAD_FEATURES)), unfitted)
    probabilities = [model.distribution(case.user, case.population) for case in cases]
    grow, shrink = _fit_heads(cases, probabilities, seed)
    change, stay = _fit_lead(cases, probabilities, l2, seed)
    return LevelModel(level, blend, model.transitions, grow, shrink, change, stay)


def _fit_lead(cases: Sequence[Case], probabilities: Sequence[np.ndarray], l2: float,
              seed: int) -> tuple[np.ndarray, Head]:
    """Whether the leader stays (logistic), and who leads when it does not (a conditional logit over the others,
    fitted on the cases where the lead changed)."""
    import torch

    with_leader = [(c, p) for c, p in zip(cases, probabilities, strict=True) if c.user.leader is not None]
    stays = [int(np.argmax(c.truth)) == c.user.leader for c, _ in with_leader]
    stay = _logistic([np.stack([stay_features(c.user, p) for c, p in with_leader])] if with_leader else
                     [np.zeros((0, 6))], [np.array(stays, dtype=bool)], seed)
    changed = [(c, p) for c, p in zip(cases, probabilities, strict=True)
               if c.user.leader is None or int(np.argmax(c.truth)) != c.user.leader]
    if not changed:
        return np.eye(len(LEAD_FEATURES))[0], stay
    features = np.stack([lead_features(c.user, p) for c, p in changed]).astype(np.float32)
    mask = torch.tensor(np.stack([np.arange(len(p)) == (c.user.leader if c.user.leader is not None else -1)
                                  for c, p in changed]))
    x = torch.from_numpy(features)
    target = torch.tensor([int(np.argmax(case.truth)) for case, _ in changed])
    weights = torch.zeros(len(LEAD_FEATURES), requires_grad=True)
    with torch.no_grad():
        weights[0] = 1.0
    optimiser = torch.optim.LBFGS([weights], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        scores = (x @ weights).masked_fill(mask, -1e9)
        loss = torch.nn.functional.cross_entropy(scores, target) + l2 * (weights**2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return weights.detach().double().numpy(), stay


def _left_out_row(case: Case, sums: np.ndarray, counts: np.ndarray, prior: np.ndarray) -> np.ndarray:
    leader = case.user.leader
    if leader is None:
        return case.population.long_run
    return (sums[leader] - case.truth + TRANSITION_PRIOR * prior) / (counts[leader] - 1 + TRANSITION_PRIOR)


def _fit_blend(parts: np.ndarray, corrections: np.ndarray, data: np.ndarray, truth: np.ndarray, l2: float) -> Blend:
    """Maximum likelihood of the next windows' mixes (torch L-BFGS, full batch, fixed start: deterministic)."""
    import torch

    p_t, c_t, d_t, q_t = (torch.from_numpy(x) for x in (parts, corrections, data, truth))
    a = torch.zeros(parts.shape[2], requires_grad=True)
    b = torch.zeros(parts.shape[2], data.shape[1], requires_grad=True)
    gamma = torch.zeros(corrections.shape[2], requires_grad=True)
    optimiser = torch.optim.LBFGS([a, b, gamma], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        weights = torch.softmax(a + d_t @ b.T, dim=1)  # (cases, components)
        mix = torch.einsum("cnk,ck->cn", p_t, weights)
        scores = torch.log(mix + 1e-12) + c_t @ gamma
        loss = -(q_t * torch.log_softmax(scores, dim=1)).sum(dim=1).mean()
        loss = loss + l2 * ((a**2).sum() + (b**2).sum() + (gamma**2).sum())
        loss.backward()
        return loss

    optimiser.step(closure)
    return Blend(a.detach().double().numpy(), b.detach().double().numpy(), gamma.detach().double().numpy())


def claim_nodes(user: UserVectors, forecast: np.ndarray) -> tuple[list[int], list[int]]:
    """The nodes a shift claim speaks of: those expected to rise most (share points), and to fall most."""
    change = forecast - user.recent
    order = np.lexsort((np.arange(len(change)), -change))
    rising = [int(i) for i in order[:RISING_SHOWN] if change[i] > 0]
    falling = [int(i) for i in order[::-1] if change[i] < 0 and user.recent[i] > 0][:FALLING_SHOWN]
    return rising, falling


def _fit_heads(cases: Sequence[Case], probabilities: Sequence[np.ndarray], seed: int) -> tuple[Head, Head]:
    """Fitted on the nodes claims are made about: calibrated on what is shown, not on every node."""
    grow_x, grow_y, shrink_x, shrink_y = [], [], [], []
    for case, p in zip(cases, probabilities, strict=True):
        user = case.user
        features = head_features(user, p)
        rising, falling = claim_nodes(user, p)
        grow_x.append(features[rising])
        grow_y.append(case.truth[rising] > user.recent[rising])
        shrink_x.append(features[falling])
        shrink_y.append(case.truth[falling] < user.recent[falling])
    return _logistic(grow_x, grow_y, seed), _logistic(shrink_x, shrink_y, seed)


def _logistic(xs: list[np.ndarray], ys: list[np.ndarray], seed: int) -> Head:
    x, y = np.concatenate(xs), np.concatenate(ys).astype(int)
    if len(x) > HEAD_ROWS:
        keep = np.random.default_rng(seed).choice(len(x), HEAD_ROWS, replace=False)
        x, y = x[keep], y[keep]
    if len(set(y.tolist())) < 2:  # one outcome only (a tiny log): its rate, whatever the features
        rate = float(np.clip(y.mean() if len(y) else 0.5, 0.01, 0.99))
        return Head(np.zeros(x.shape[1]), float(np.log(rate / (1 - rate))))
    fitted = LogisticRegression(C=1.0, max_iter=500).fit(x, y)
    return Head(fitted.coef_[0].astype(np.float64), float(fitted.intercept_[0]))
