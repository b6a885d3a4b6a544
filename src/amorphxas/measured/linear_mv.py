"""Mean valence as a linear functional of the normalised spectrum, with a held-out-cell error.

``mv = b0 + sum_E beta(E) y(E)`` on the LCF fit points (y on the standards' common edge step:
the LCF divides the data by its fitted edge-step ratio and removes its background first),
``beta`` a ridge regression trained on
convex combinations of the standards' real DFT site spectra (Dirichlet fractions over Si0..Si4+,
1-8 sites per valence, 1 % white noise; their exact mean valence is the target). The ridge
strength is chosen by cross-validation over groups of cells (mixtures of the held-out group's
sites only), and the cross-validated RMS error is the functional's stated std: it contains the
site-to-site spread and the transfer to cells the standards never saw.

The LCF (:mod:`.lcf`) uses the value as a prior on sum_n n f_n: its fractions stay a fit of the
data, the mean valence follows the better-measured functional (docs/inverse.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHAS = (1e-2, 1e-1, 1.0, 10.0)
N_TRAIN = 600
CV_GROUPS = 3
TRAIN_NOISE = 0.01  # edge-step units, white noise added to the training mixtures


@dataclass
class LinearValence:
    """Ridge functional on ``energy`` (n,) eV: ``mean + (y - x_mean) @ beta``; ``std`` its CV error."""

    energy: np.ndarray
    x_mean: np.ndarray
    beta: np.ndarray
    y_mean: float
    alpha: float
    std: float

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


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float):
    x_mean, y_mean = X.mean(0), float(y.mean())
    Xc = X - x_mean
    beta = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (y - y_mean))
    return x_mean, beta, y_mean


def train_linear_valence(grid: np.ndarray, sites: list, cell_ids: list, energy: np.ndarray,
                         seed: int = 0) -> LinearValence:
    """Train on the site spectra ``sites[n]`` (n_n, m) on ``grid`` (m,) eV, sampled on ``energy``
    (the fit points, eV); ``cell_ids[n]`` (n_n,) the cell of each site, for the grouped CV."""
    rng = np.random.default_rng(seed)
    on = [np.stack([np.interp(energy, grid, r) for r in s]) if len(s) else np.zeros((0, energy.size))
          for s in sites]
    cells = sorted(set(np.concatenate([np.asarray(c) for c in cell_ids]).tolist()))
    groups = [cells[i::CV_GROUPS] for i in range(CV_GROUPS)]
    errors = {a: [] for a in ALPHAS}
    for group in groups:
        held = [np.isin(c, group) for c in cell_ids]
        train = [s[~h] for s, h in zip(on, held)]
        test = [s[h] for s, h in zip(on, held)]
        if any(len(s) == 0 for s in train):
            continue
        Xa, ya = _mixtures(train, rng, N_TRAIN // 2)
        Xb, yb = _mixtures(test, rng, N_TRAIN // 6)
        for a in ALPHAS:
            x_mean, beta, y_mean = _ridge(Xa, ya, a)
            errors[a].append(np.mean((np.clip((Xb - x_mean) @ beta + y_mean, 0, 4) - yb) ** 2))
    scored = {a: float(np.mean(e)) for a, e in errors.items() if e}
    alpha = min(scored, key=scored.get) if scored else ALPHAS[-1]
    X, y = _mixtures(on, rng, N_TRAIN)
    x_mean, beta, y_mean = _ridge(X, y, alpha)
    std = float(np.sqrt(scored[alpha])) if scored else 0.2
    return LinearValence(energy=np.asarray(energy, float), x_mean=x_mean, beta=beta, y_mean=y_mean,
                         alpha=float(alpha), std=std)
