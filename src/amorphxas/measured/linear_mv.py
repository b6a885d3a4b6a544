"""Mean valence as a linear functional of the normalised spectrum, with a held-out-cell error.

``mv = b0 + sum_E beta(E) y(E)`` on the LCF fit points (y on the standards' common edge step:
the LCF divides the data by its fitted edge-step ratio and removes its background first),
``beta`` a ridge regression (``sklearn.linear_model.Ridge``, intercept fitted) trained on
convex combinations of the standards' real DFT site spectra (Dirichlet fractions over Si0..Si4+,
1-8 sites per valence, 1 % white noise; their exact mean valence is the target). The ridge
strength is chosen by cross-validation over groups of cells (``sklearn.model_selection.
GridSearchCV`` on explicit grouped splits: each split trains on mixtures of the other groups'
sites and scores on mixtures of the held-out group's sites only, no cell on both sides), and the
cross-validated RMS error of the chosen strength is the functional's stated std: it contains the
site-to-site spread and the transfer to cells the standards never saw.

The LCF (:mod:`.lcf`) uses the value as a prior on sum_n n f_n: its fractions stay a fit of the
data, the mean valence follows the better-measured functional (docs/inverse.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV

ALPHAS = (1e-2, 1e-1, 1.0, 10.0)
N_TRAIN = 600
CV_GROUPS = 3
TRAIN_NOISE = 0.01  # edge-step units, white noise added to the training mixtures
FALLBACK_STD = 0.2  # stated std when no grouped split is possible (a valence in one group only)


@dataclass
class LinearValence:
    """Ridge functional on ``energy`` (n,) eV: ``y_mean + (y - x_mean) @ beta``; ``std`` its
    grouped-CV RMS error (valence units), ``cv_mse`` {alpha: CV mean squared error}."""

    energy: np.ndarray
    x_mean: np.ndarray
    beta: np.ndarray
    y_mean: float
    alpha: float
    std: float
    cv_mse: dict = field(default_factory=dict)
    cv_groups: list = field(default_factory=list)  # the cells of each held-out group

    def predict(self, y_on_energy: np.ndarray) -> float:
        """Mean valence (bounded to 0..4) of a normalised spectrum sampled on :attr:`energy`."""
        return float(np.clip((y_on_energy - self.x_mean) @ self.beta + self.y_mean, 0.0, 4.0))


def _mixtures(sites: list, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    present = [v for v, s in enumerate(sites) if len(s)]
    X, y = [], []
    for _ in range(n):
        w = np.zeros(len(sites))
        w[present] = rng.dirichlet(np.ones(len(present)))
        k = int(rng.integers(1, 9))
        x = sum(w[v] * sites[v][rng.integers(0, len(sites[v]), k)].mean(0) for v in present)
        X.append(x + TRAIN_NOISE * rng.standard_normal(x.size))
        y.append(float(w @ np.arange(len(sites))))
    return np.asarray(X), np.asarray(y)


def _clipped_mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error of the prediction bounded to the physical range 0..4."""
    return float(np.mean((np.clip(y_pred, 0.0, 4.0) - y_true) ** 2))


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(x_mean, beta, y_mean) of ``Ridge(alpha)`` with an intercept on X (k, n), y (k,)."""
    model = Ridge(alpha=alpha, fit_intercept=True).fit(X, y)
    x_mean = X.mean(0)
    return x_mean, np.asarray(model.coef_, float), float(model.intercept_ + x_mean @ model.coef_)


def grouped_cv(on: list, cell_ids: list, rng: np.random.Generator) -> tuple[dict, list]:
    """Grouped CV of the ridge strength: ({alpha: mean over splits of the clipped MSE}, groups).

    Cells are dealt into :data:`CV_GROUPS` groups; for each group, mixtures of the other groups'
    sites train and mixtures of the group's own sites score (``GridSearchCV`` with these explicit
    splits). A group whose complement lacks a valence is skipped."""
    cells = sorted(set(np.concatenate([np.asarray(c) for c in cell_ids]).tolist()))
    groups = [cells[i::CV_GROUPS] for i in range(CV_GROUPS)]
    X_parts, y_parts, splits, start = [], [], [], 0
    for group in groups:
        held = [np.isin(c, group) for c in cell_ids]
        train = [s[~h] for s, h in zip(on, held)]
        test = [s[h] for s, h in zip(on, held)]
        if any(len(s) == 0 for s in train):
            continue
        Xa, ya = _mixtures(train, rng, N_TRAIN // 2)
        Xb, yb = _mixtures(test, rng, N_TRAIN // 6)
        X_parts += [Xa, Xb]
        y_parts += [ya, yb]
        splits.append((np.arange(start, start + len(ya)),
                       np.arange(start + len(ya), start + len(ya) + len(yb))))
        start += len(ya) + len(yb)
    if not splits:
        return {}, groups
    search = GridSearchCV(Ridge(fit_intercept=True), {"alpha": list(ALPHAS)}, cv=splits,
                          scoring=make_scorer(_clipped_mse, greater_is_better=False), refit=False)
    search.fit(np.vstack(X_parts), np.concatenate(y_parts))
    scores = -np.asarray(search.cv_results_["mean_test_score"], float)
    return {float(a): float(s) for a, s in zip(search.cv_results_["param_alpha"], scores)}, groups


def train_linear_valence(grid: np.ndarray, sites: list, cell_ids: list, energy: np.ndarray,
                         seed: int = 0) -> LinearValence:
    """Train on the site spectra ``sites[n]`` (n_n, m) on ``grid`` (m,) eV, sampled on ``energy``
    (the fit points, eV); ``cell_ids[n]`` (n_n,) the cell of each site, for the grouped CV."""
    rng = np.random.default_rng(seed)
    on = [np.stack([np.interp(energy, grid, r) for r in s]) if len(s) else np.zeros((0, energy.size))
          for s in sites]
    scored, groups = grouped_cv(on, cell_ids, rng)
    alpha = min(scored, key=scored.get) if scored else ALPHAS[-1]
    X, y = _mixtures(on, rng, N_TRAIN)
    x_mean, beta, y_mean = _ridge(X, y, alpha)
    std = float(np.sqrt(scored[alpha])) if scored else FALLBACK_STD
    return LinearValence(energy=np.asarray(energy, float), x_mean=x_mean, beta=beta, y_mean=y_mean,
                         alpha=float(alpha), std=std, cv_mse=scored, cv_groups=groups)
