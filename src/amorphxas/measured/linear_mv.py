"""Mean valence as a linear functional of the normalised spectrum, with a held-out-cell error.

``mv = b0 + sum_E beta(E) y(E)`` on the LCF fit points (y on the standards' common edge step:
the LCF divides the data by its fitted edge-step ratio and removes its background first),
``beta`` a ridge regression (``sklearn.linear_model.Ridge``, intercept fitted) trained on
convex combinations of the standards' real DFT site spectra (Dirichlet fractions over Si0..Si4+,
1-8 sites per valence, 1 % white noise; optionally an extra Gaussian broadening and a residual
energy shift, off by default: on held-out cells they did not lower the error; their exact mean
valence is the target). The ridge
strength is chosen by cross-validation over groups of cells (``sklearn.model_selection.
GridSearchCV`` on explicit grouped splits: each split trains on mixtures of the other groups'
sites and scores on mixtures of the held-out group's sites only, no cell on both sides). The
stated std is the larger of the cross-validated RMS error of the chosen strength on those
held-out mixtures and on the held-out cells' own averages (a measured sample is closer to a cell
average than to a random mixture of sites): it contains the site-to-site spread and the transfer
to cells the standards never saw.

The LCF (:mod:`.lcf`) uses the value as a prior on sum_n n f_n: its fractions stay a fit of the
data, the mean valence follows the better-measured functional (docs/inverse.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d
from sklearn.linear_model import Ridge
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV

ALPHAS = (1e-2, 1e-1, 1.0, 10.0)
N_TRAIN = 600
CV_GROUPS = 3
TRAIN_NOISE = 0.01  # edge-step units, white noise added to the training mixtures
TRAIN_BROADENING = 0.0  # eV, extra Gaussian std of a training mixture, uniform in 0..this (off:
# on held-out cells it did not lower the error, docs/inverse.md)
TRAIN_SHIFT = 0.0  # eV, std of a residual energy shift of a training mixture (off, as above)
CELL_SHARE = 0.5  # share of whole-cell-average mixtures in the training set
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
    std_mixtures: float = 0.0  # grouped-CV RMS error on held-out site mixtures
    std_cells: float = 0.0  # and on the held-out cells' own averages (std = the larger)

    def predict(self, y_on_energy: np.ndarray) -> float:
        """Mean valence (bounded to 0..4) of a normalised spectrum sampled on :attr:`energy`."""
        return float(np.clip((y_on_energy - self.x_mean) @ self.beta + self.y_mean, 0.0, 4.0))


def _mixtures(sites: list, rng: np.random.Generator, n: int, broaden=None, cells=None,
              cell_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n mixtures (n, m) of site rows and their mean valence (n,): Dirichlet over the valences
    with 1-8 sites each, or (a share ``cell_share``, needs ``cells``) Dirichlet over whole-cell
    averages; ``broaden(row, rng)`` perturbs (and samples) each."""
    present = [v for v, s in enumerate(sites) if len(s)]
    if cell_share > 0 and cells is not None:
        cm, cv = _cell_means(sites, cells, sorted(set(np.concatenate(
            [np.asarray(c) for c in cells]).tolist())))
    X, y = [], []
    for _ in range(n):
        if cell_share > 0 and cells is not None and rng.random() < cell_share:
            c = rng.dirichlet(np.full(len(cv), 0.3))
            x = c @ cm
            x = broaden(x, rng) if broaden is not None else x
            X.append(x + TRAIN_NOISE * rng.standard_normal(x.size))
            y.append(float(c @ cv))
            continue
        w = np.zeros(len(sites))
        w[present] = rng.dirichlet(np.ones(len(present)))
        k = int(rng.integers(1, 9))
        x = sum(w[v] * sites[v][rng.integers(0, len(sites[v]), k)].mean(0) for v in present)
        if broaden is not None:
            x = broaden(x, rng)
        X.append(x + TRAIN_NOISE * rng.standard_normal(x.size))
        y.append(float(w @ np.arange(len(sites))))
    return np.asarray(X), np.asarray(y)


def _cell_means(sites: list, cell_ids: list, group) -> tuple[np.ndarray, np.ndarray]:
    """The mean spectrum (k, n) and mean valence (k,) of each cell of ``group`` with sites."""
    rows = np.vstack([s for s in sites if len(s)])
    val = np.concatenate([np.full(len(s), v) for v, s in enumerate(sites) if len(s)])
    cell = np.concatenate([np.asarray(c) for s, c in zip(sites, cell_ids) if len(s)])
    ids = [c for c in group if np.any(cell == c)]
    return (np.stack([rows[cell == c].mean(0) for c in ids]) if ids else np.zeros((0, rows.shape[1])),
            np.array([val[cell == c].mean() for c in ids]))


def _clipped_mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error of the prediction bounded to the physical range 0..4."""
    return float(np.mean((np.clip(y_pred, 0.0, 4.0) - y_true) ** 2))


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(x_mean, beta, y_mean) of ``Ridge(alpha)`` with an intercept on X (k, n), y (k,)."""
    model = Ridge(alpha=alpha, fit_intercept=True).fit(X, y)
    x_mean = X.mean(0)
    return x_mean, np.asarray(model.coef_, float), float(model.intercept_ + x_mean @ model.coef_)


def grouped_cv(on: list, cell_ids: list, rng: np.random.Generator,
               prep=None, cell_share: float = 0.0) -> tuple[dict, list, float]:
    """Grouped CV of the ridge strength: ({alpha: mean over splits of the clipped MSE}, groups,
    RMS error on the held-out cell averages at the best strength).

    Cells are dealt into :data:`CV_GROUPS` groups; for each group, mixtures of the other groups'
    sites train and mixtures of the group's own sites score (``GridSearchCV`` with these explicit
    splits). A group whose complement lacks a valence is skipped. ``prep(row, rng)``: the
    training perturbation of a mixture (full-grid row -> fit points)."""
    cells = sorted(set(np.concatenate([np.asarray(c) for c in cell_ids]).tolist()))
    groups = [cells[i::CV_GROUPS] for i in range(CV_GROUPS)]
    X_parts, y_parts, splits, cell_tests, start = [], [], [], [], 0
    for group in groups:
        held = [np.isin(c, group) for c in cell_ids]
        train = [s[~h] for s, h in zip(on, held)]
        test = [s[h] for s, h in zip(on, held)]
        if any(len(s) == 0 for s in train):
            continue
        Xa, ya = _mixtures(train, rng, N_TRAIN // 2, prep,
                           [np.asarray(c)[~h] for c, h in zip(cell_ids, held)], cell_share)
        Xb, yb = _mixtures(test, rng, N_TRAIN // 6, prep)
        Xc, yc = _cell_means(test, [np.asarray(c)[h] for c, h in zip(cell_ids, held)], group)
        Xc = np.stack([prep(x, rng) for x in Xc]) if prep is not None and len(Xc) else Xc
        X_parts += [Xa, Xb]
        y_parts += [ya, yb]
        splits.append((np.arange(start, start + len(ya)),
                       np.arange(start + len(ya), start + len(ya) + len(yb))))
        cell_tests.append((Xa, ya, Xc, yc))
        start += len(ya) + len(yb)
    if not splits:
        return {}, groups, float("nan")
    search = GridSearchCV(Ridge(fit_intercept=True), {"alpha": list(ALPHAS)}, cv=splits,
                          scoring=make_scorer(_clipped_mse, greater_is_better=False), refit=False)
    search.fit(np.vstack(X_parts), np.concatenate(y_parts))
    scores = -np.asarray(search.cv_results_["mean_test_score"], float)
    scored = {float(a): float(s) for a, s in zip(search.cv_results_["param_alpha"], scores)}
    best = min(scored, key=scored.get)
    err = np.concatenate([np.clip(Ridge(alpha=best).fit(Xa, ya).predict(Xc), 0, 4) - yc
                          for Xa, ya, Xc, yc in cell_tests if len(yc)])
    return scored, groups, float(np.sqrt(np.mean(err ** 2))) if err.size else float("nan")


def train_linear_valence(grid: np.ndarray, sites: list, cell_ids: list, energy: np.ndarray,
                         seed: int = 0, broadening: float = TRAIN_BROADENING,
                         shift: float = TRAIN_SHIFT, broadening_min: float = 0.0,
                         cell_share: float = CELL_SHARE) -> LinearValence:
    """Train on the site spectra ``sites[n]`` (n_n, m) on ``grid`` (m,) eV, sampled on ``energy``
    (the fit points, eV); ``cell_ids[n]`` (n_n,) the cell of each site, for the grouped CV.
    ``broadening`` (eV): each training mixture gets an extra Gaussian of std uniform in
    ``broadening_min``..this;
    ``shift`` (eV): and a residual energy shift of this std (0, 0: no perturbation);
    ``cell_share``: share of training mixtures that are Dirichlet mixtures of whole-cell averages."""
    rng = np.random.default_rng(seed)
    grid, energy = np.asarray(grid, float), np.asarray(energy, float)
    dx = float(grid[1] - grid[0])

    def prep(x: np.ndarray, r: np.random.Generator) -> np.ndarray:
        s = r.uniform(broadening_min, broadening) if broadening > 0 else 0.0
        if s > 1e-3:
            x = gaussian_filter1d(x, s / dx, mode="nearest")
        return np.interp(energy + (r.normal(0.0, shift) if shift > 0 else 0.0), grid, x)

    full = [np.asarray(s, float) if len(s) else np.zeros((0, grid.size)) for s in sites]
    scored, groups, cell_rmse = grouped_cv(full, cell_ids, rng, prep, cell_share)
    alpha = min(scored, key=scored.get) if scored else ALPHAS[-1]
    X, y = _mixtures(full, rng, N_TRAIN, prep, cell_ids, cell_share)
    x_mean, beta, y_mean = _ridge(X, y, alpha)
    mix_std = float(np.sqrt(scored[alpha])) if scored else FALLBACK_STD
    std = max(mix_std, cell_rmse) if np.isfinite(cell_rmse) else mix_std
    return LinearValence(energy=energy, x_mean=x_mean, beta=beta, y_mean=y_mean,
                         alpha=float(alpha), std=std, cv_mse=scored, cv_groups=groups,
                         std_mixtures=mix_std, std_cells=cell_rmse)
