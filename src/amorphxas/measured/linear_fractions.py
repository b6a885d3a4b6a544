"""Si0..Si4+ fractions as linear functionals of the spectrum (multi-output ridge).

``f_raw = y_mean + (y - x_mean) @ beta`` (5 outputs), ``y`` the spectrum on the LCF fit points,
``beta`` one multi-output ridge regression (``sklearn.linear_model.Ridge``, intercept fitted).
Default (``own_step=False``, what ``amorphxas invert`` uses): ``y`` on the standards' common edge
step, i.e. the measured spectrum with the LCF's fitted background and edge-step ratio removed
(the same input as the mean-valence functional, :mod:`.linear_mv`); the targets are the atom
fractions, which are linear in that spectrum. Because they sum to one, sum_n f_raw,n = 1 exactly.
The reported fractions are f_raw projected onto the simplex (f >= 0, sum 1; with a given mean
valence also sum_n n f_n = it), ``scipy.optimize.nnls`` with heavily weighted equality rows.

``own_step=True`` reads the sample's own Larch-normalised spectrum instead: the training inputs
are normalised with the exact linear operator of the same Larch call on the standards' grid, the
targets are the edge-step fractions (linear in that spectrum), turned into atom fractions with
the per-valence mean edge steps. On held-out cells it was less accurate (docs/inverse.md).

Training inputs are convex combinations of the standards' real DFT site spectra only (no
synthetic spectra): Dirichlet fractions over Si0..Si4+, each valence's part the mean of 1-8
random sites of that valence, and Dirichlet mixtures of whole-cell averages (fractions = the
cells' own site counts). Each gets what the fit does not undo: an extra Gaussian broadening (std
uniform in 0..:data:`TRAIN_BROADENING` eV), a residual energy shift (std :data:`TRAIN_SHIFT` eV,
the calibrated uncertainty) and white noise.

The ridge strength is chosen by ``GridSearchCV`` over groups of cells: each split trains on
mixtures of the other groups' sites and scores on the held-out group's site mixtures and cell
averages only. The stated covariance of the fractions is that of their held-out errors (after
the projection); for the mean valence the larger of the RMS error on the held-out mixtures and
on the held-out cell averages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import nnls
from sklearn.linear_model import Ridge
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV

from amorphxas.core.errors import AmorphxasError

ALPHAS = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
N_TRAIN = 1200
CV_GROUPS = 3
TRAIN_NOISE = 0.01  # edge-step units, white noise on the training mixtures
TRAIN_BROADENING = 1.0  # eV, extra Gaussian std drawn uniformly in 0..this
TRAIN_SHIFT = 0.1  # eV, std of a residual energy shift (calibrated scale)
CELL_SHARE = 0.5  # share of training mixtures that are mixtures of whole-cell averages
EQUALITY_WEIGHT = 1e4
VALENCES = np.arange(5)


def normalisation_operator(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Larch's normalisation (:func:`amorphxas.measured.normalise.normalise`) on ``grid`` (m,) eV
    as linear operators: ``pre = mu @ P.T``, ``post = mu @ Q.T`` (both (m, m)), and the index of
    E0, so that ``norm = (mu - pre) / (post - pre)[E0]`` for any rows mu (k, m)."""
    from amorphxas.measured.normalise import normalise

    m = grid.size
    P, Q = np.zeros((m, m)), np.zeros((m, m))
    for j in range(m):
        unit = np.zeros(m)
        unit[j] = 1.0
        out = normalise(grid, unit, step=1.0, check_edge=False)
        P[:, j], Q[:, j] = out.pre_edge, out.post_edge
    from amorphxas.measured.normalise import NORM_E0

    return P, Q, int(np.argmin(np.abs(grid - NORM_E0)))


def normalise_rows_like_sample(rows: np.ndarray, operator) -> np.ndarray:
    """Rows (k, m) normalised each by its own edge step, as :func:`.normalise.normalise` does."""
    P, Q, i0 = operator
    pre, post = rows @ P.T, rows @ Q.T
    step = np.abs(post[:, i0] - pre[:, i0])
    return (rows - pre) / np.maximum(step, 1e-12)[:, None]


def _mixtures(sites: list, cells: list, steps: list, rng: np.random.Generator, n: int,
              cell_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n convex combinations (n, m) of site rows, their atom fractions (n, 5) and edge-step
    fractions (n, 5); ``cells[v]``/``steps[v]`` the cell and edge step of each row of ``sites[v]``."""
    present = [v for v, s in enumerate(sites) if len(s)]
    all_rows = np.vstack([s for s in sites if len(s)])
    all_val = np.concatenate([np.full(len(s), v) for v, s in enumerate(sites) if len(s)])
    all_cell = np.concatenate([np.asarray(c) for s, c in zip(sites, cells) if len(s)])
    all_step = np.concatenate([np.asarray(r) for s, r in zip(sites, steps) if len(s)])
    ids = sorted(set(all_cell.tolist()))
    cell_mean = np.stack([all_rows[all_cell == c].mean(0) for c in ids])
    cell_frac = np.stack([[np.mean(all_val[all_cell == c] == v) for v in VALENCES] for c in ids])
    cell_step = np.stack([[np.sum(all_step[(all_cell == c) & (all_val == v)]) / np.sum(all_cell == c)
                           for v in VALENCES] for c in ids])
    X, F, S = [], [], []
    for _ in range(n):
        if rng.random() < cell_share:
            w = rng.dirichlet(np.full(len(ids), 0.3))
            X.append(w @ cell_mean)
            F.append(w @ cell_frac)
            S.append(w @ cell_step)
            continue
        f = np.zeros(VALENCES.size)
        f[present] = rng.dirichlet(np.ones(len(present)))
        k = int(rng.integers(1, 9))
        picks = {v: rng.integers(0, len(sites[v]), k) for v in present}
        X.append(sum(f[v] * sites[v][picks[v]].mean(0) for v in present))
        F.append(f)
        S.append(np.array([f[v] * np.mean(steps[v][picks[v]]) if v in picks else 0.0
                           for v in VALENCES]))
    S = np.asarray(S)
    return np.asarray(X), np.asarray(F), S / S.sum(1, keepdims=True)


def _perturb(X: np.ndarray, grid: np.ndarray, rng: np.random.Generator, operator, noise: float,
             broadening: float, shift: float) -> np.ndarray:
    """Broaden, shift, add noise to rows (k, m) on ``grid``, then normalise them like a sample."""
    dx = float(grid[1] - grid[0])
    out = np.empty_like(X)
    for i, x in enumerate(X):
        s = rng.uniform(0.0, broadening) if broadening > 0 else 0.0
        if s > 1e-3:
            x = gaussian_filter1d(x, s / dx, mode="nearest")
        if shift > 0:
            x = np.interp(grid + rng.normal(0.0, shift), grid, x)
        out[i] = x + noise * rng.standard_normal(x.size)
    return out if operator is None else normalise_rows_like_sample(out, operator)


def _cell_averages(sites: list, cells: list, steps: list, group) -> tuple:
    """Each of ``group``'s cells' mean site spectrum (k, m), atom and edge-step fractions (k, 5)."""
    rows = np.vstack([s for s in sites if len(s)])
    val = np.concatenate([np.full(len(s), v) for v, s in enumerate(sites) if len(s)])
    cell = np.concatenate([np.asarray(c) for s, c in zip(sites, cells) if len(s)])
    step = np.concatenate([np.asarray(r) for s, r in zip(sites, steps) if len(s)])
    ids = [c for c in group if np.any(cell == c)]
    S = np.stack([[np.sum(step[(cell == c) & (val == v)]) for v in VALENCES] for c in ids])
    return (np.stack([rows[cell == c].mean(0) for c in ids]),
            np.stack([[np.mean(val[cell == c] == v) for v in VALENCES] for c in ids]),
            S / S.sum(1, keepdims=True))


@dataclass
class LinearFractions:
    """Multi-output ridge on ``energy`` (n,) eV: raw fractions ``y_mean + (y - x_mean) @ beta``
    (beta (n, 5)), atom fractions on the common edge step (``step_ratio`` all 1) or, with
    ``own_step``, edge-step fractions turned into atom fractions with the per-valence edge steps
    ``step_ratio`` (5,, x the standards' common step); ``std`` (5,) and ``mv_std`` the
    held-out-cell RMS errors of the fractions and of the mean valence; ``cv_mse`` {alpha: CV mean
    squared error of the edge-step fractions}."""

    energy: np.ndarray
    x_mean: np.ndarray
    beta: np.ndarray
    y_mean: np.ndarray
    step_ratio: np.ndarray
    alpha: float
    std: np.ndarray
    mv_std: float
    mv_std_mixtures: float = 0.0
    mv_std_cells: float = 0.0
    cov: np.ndarray | None = None  # (5, 5) held-out covariance of the fraction errors
    cv_mse: dict = field(default_factory=dict)
    cv_groups: list = field(default_factory=list)

    def raw(self, y_on_energy: np.ndarray) -> np.ndarray:
        """Unprojected (edge-step) fractions (5,) (sum exactly 1, may be negative) of a normalised
        spectrum sampled on :attr:`energy`."""
        y = np.asarray(y_on_energy, float)
        if y.shape != self.energy.shape or not np.all(np.isfinite(y)):
            raise AmorphxasError(f"linear fractions: need {self.energy.size} finite values on the "
                                 f"fit points, got shape {y.shape}")
        return (y - self.x_mean) @ self.beta + self.y_mean

    def predict(self, y_on_energy: np.ndarray, mean_valence: float | None = None) -> np.ndarray:
        """Atom fractions (5,) on the simplex: the raw fractions projected
        (:func:`project_simplex`, with sum_n n f_n = ``mean_valence`` if given; common step
        only), divided by each valence's edge step and renormalised (own step)."""
        raw = self.raw(y_on_energy)
        if mean_valence is not None and np.allclose(self.step_ratio, 1.0):
            return project_simplex(raw, mean_valence)
        return to_atom_fractions(project_simplex(raw), self.step_ratio)

    def mean_valence(self, y_on_energy: np.ndarray) -> float:
        """sum_n n f_n of :meth:`predict` (valence units, 0..4)."""
        return float(self.predict(y_on_energy) @ VALENCES)


def to_atom_fractions(step_fractions: np.ndarray, step_ratio: np.ndarray) -> np.ndarray:
    """Atom fractions from edge-step fractions (..., 5) and per-valence edge steps (5,)."""
    g = np.clip(np.asarray(step_fractions, float), 0.0, None) / np.asarray(step_ratio, float)
    return g / np.maximum(g.sum(-1, keepdims=True), 1e-30)


def project_simplex(raw: np.ndarray, mean_valence: float | None = None) -> np.ndarray:
    """Nearest (Euclidean) point to ``raw`` (5,) with f >= 0, sum f = 1 and, if given,
    sum_n n f_n = ``mean_valence`` (clipped to 0..4): ``scipy.optimize.nnls`` with the equalities
    as rows of weight :data:`EQUALITY_WEIGHT`."""
    raw = np.asarray(raw, float)
    k = raw.size
    rows, rhs = [np.eye(k), EQUALITY_WEIGHT * np.ones((1, k))], [raw, [EQUALITY_WEIGHT]]
    if mean_valence is not None:
        rows.append(EQUALITY_WEIGHT * np.arange(k, dtype=float)[None, :])
        rhs.append([EQUALITY_WEIGHT * float(np.clip(mean_valence, 0.0, k - 1.0))])
    f, _ = nnls(np.vstack(rows), np.concatenate(rhs))
    return f / f.sum() if f.sum() > 0 else np.full(k, 1.0 / k)


def _mse(F_true: np.ndarray, F_pred: np.ndarray) -> float:
    return float(np.mean((F_pred - F_true) ** 2))


def site_steps(sites: list, operator) -> list:
    """Edge step of each site row (common-step units; the mean over all sites ~1)."""
    P, Q, i0 = operator
    return [(s @ Q.T - s @ P.T)[:, i0] if len(s) else np.zeros(0) for s in sites]


def train_linear_fractions(grid: np.ndarray, sites: list, cell_ids: list, energy: np.ndarray,
                           seed: int = 0, noise: float = TRAIN_NOISE,
                           broadening: float = TRAIN_BROADENING, shift: float = TRAIN_SHIFT,
                           cell_share: float = CELL_SHARE, n_train: int = N_TRAIN,
                           own_step: bool = False) -> LinearFractions:
    """Train on the common-step normalised site spectra ``sites[n]`` (n_n, m) on ``grid`` (m,) eV,
    read on ``energy`` (the fit points, eV); ``cell_ids[n]`` (n_n,) the cell of each site.
    ``noise`` (edge-step units), ``broadening`` (eV, uniform 0..this), ``shift`` (eV std): the
    training perturbations; ``cell_share``: share of whole-cell-average mixtures; ``own_step``:
    read the sample's own normalised spectrum (module docstring) instead of the common step."""
    grid, energy = np.asarray(grid, float), np.asarray(energy, float)
    if len(sites) != VALENCES.size or any(len(s) == 0 for s in sites):
        raise AmorphxasError("linear fractions: need site spectra of each of the 5 valences")
    rng = np.random.default_rng(seed)
    cell_ids = [np.asarray(c) for c in cell_ids]
    op = normalisation_operator(grid) if own_step else None
    # common edge step: atom fractions are the linear targets (every site's step counts 1)
    steps = site_steps(sites, op) if own_step else [np.ones(len(s)) for s in sites]
    step_ratio = np.array([float(np.mean(r)) for r in steps])

    def prepared(X):
        return np.stack([np.interp(energy, grid, x) for x in
                         _perturb(X, grid, rng, op, noise, broadening, shift)])

    cells = sorted(set(np.concatenate(cell_ids).tolist()))
    groups = [cells[i::CV_GROUPS] for i in range(CV_GROUPS)]
    X_parts, P_parts, F_parts, splits, kinds, start = [], [], [], [], [], 0
    for group in groups:
        held = [np.isin(c, group) for c in cell_ids]
        sub = [([s[~h] for s, h in zip(sites, held)], [c[~h] for c, h in zip(cell_ids, held)],
                [r[~h] for r, h in zip(steps, held)]),
               ([s[h] for s, h in zip(sites, held)], [c[h] for c, h in zip(cell_ids, held)],
                [r[h] for r, h in zip(steps, held)])]
        if any(len(s) == 0 for s in sub[0][0]) or not any(len(s) for s in sub[1][0]):
            continue
        Xa, Fa, Pa = _mixtures(*sub[0], rng, n_train // 2, cell_share)
        Xb, Fb, Pb = _mixtures(*sub[1], rng, n_train // 6, 0.0)
        Xc, Fc, Pc = _cell_averages(*sub[1], group)
        idx = {}
        for X, F, Ph, kind in ((Xa, Fa, Pa, "train"), (Xb, Fb, Pb, "mix"), (Xc, Fc, Pc, "cell")):
            idx[kind] = np.arange(start, start + len(F))
            X_parts.append(prepared(X))
            F_parts.append(F)
            P_parts.append(Ph)
            kinds += [kind] * len(F)
            start += len(F)
        splits.append((idx["train"], np.concatenate([idx["mix"], idx["cell"]])))
    scored = {}
    std, mv_m, mv_c, cov = np.full(5, 0.2), 0.2, 0.2, np.diag(np.full(5, 0.04))
    if splits:
        X_all, P_all, F_all = np.vstack(X_parts), np.vstack(P_parts), np.vstack(F_parts)
        search = GridSearchCV(Ridge(fit_intercept=True), {"alpha": list(ALPHAS)}, cv=splits,
                              scoring=make_scorer(_mse, greater_is_better=False), refit=False)
        search.fit(X_all, P_all)
        scores = -np.asarray(search.cv_results_["mean_test_score"], float)
        scored = {float(a): float(s) for a, s in zip(search.cv_results_["param_alpha"], scores)}
    alpha = min(scored, key=scored.get) if scored else ALPHAS[-1]
    if splits:  # held-out predictions at the chosen strength: the stated std
        kinds_arr = np.asarray(kinds)
        res, dmv = [], []
        for tr_idx, te_idx in splits:
            model = Ridge(alpha=alpha, fit_intercept=True).fit(X_all[tr_idx], P_all[tr_idx])
            f = to_atom_fractions(np.stack([project_simplex(p) for p in model.predict(X_all[te_idx])]),
                                  step_ratio)
            res.append(f - F_all[te_idx])
            dmv.append((f - F_all[te_idx]) @ VALENCES)
        res, dmv = np.vstack(res), np.concatenate(dmv)
        test_kinds = np.concatenate([kinds_arr[te] for _, te in splits])
        cov = res.T @ res / len(res)
        std = np.sqrt(np.diag(cov))
        mv_m = float(np.sqrt(np.mean(dmv[test_kinds == "mix"] ** 2)))
        mv_c = float(np.sqrt(np.mean(dmv[test_kinds == "cell"] ** 2)))
    X, _, Ph = _mixtures(sites, cell_ids, steps, rng, n_train, cell_share)
    X = prepared(X)
    model = Ridge(alpha=alpha, fit_intercept=True).fit(X, Ph)
    x_mean = X.mean(0)
    beta = np.asarray(model.coef_, float).T  # (n, 5)
    y_mean = np.asarray(model.intercept_, float) + x_mean @ beta
    return LinearFractions(energy=energy, x_mean=x_mean, beta=beta, y_mean=y_mean,
                           step_ratio=step_ratio, alpha=float(alpha), std=std, mv_std=max(mv_m, mv_c),
                           mv_std_mixtures=mv_m, mv_std_cells=mv_c, cov=cov, cv_mse=scored, cv_groups=groups)
