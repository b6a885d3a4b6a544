"""Errors of predicted spectra (study 1, Eq. 8), the valence-mean baseline, and the two splits
(the forward names of :mod:`amorphxas.core.splits`).

* ``RMSE(E)`` (Eq. 8): root mean square over the test sites at each energy point.
* ``rmse_total``: the mean of RMSE(E) over the energy grid (study 1's "total/average RMSE",
  Table II).
* ``rmse_site``: per test site, the root mean square over energy.
* ``rmse_by_valence``: ``rmse_total`` restricted to the test sites of each valence (Fig. 5b).
* ``calibration``: fraction of (site, energy) test points inside the 1-sigma and 2-sigma bands
  (a Gaussian predictive distribution gives 0.683 and 0.954); ``coverage_by_valence`` the same
  per valence.
* Eq. 9/10: ``delta_rmse(a, b) = RMSE_a(E) - RMSE_b(E)`` (negative: a is better).
"""

from __future__ import annotations

import numpy as np

from amorphxas.core.splits import split_cells, split_stratified
from amorphxas.forward.ridge import ForwardError

VALENCES = (0, 1, 2, 3, 4)


def rmse_energy(Y_true, Y_pred) -> np.ndarray:
    Y_true, Y_pred = np.asarray(Y_true, float), np.asarray(Y_pred, float)
    if Y_true.shape != Y_pred.shape:
        raise ForwardError(f"true spectra {Y_true.shape} and predictions {Y_pred.shape} differ in shape")
    return np.sqrt(np.mean((Y_true - Y_pred) ** 2, axis=0))


def delta_rmse(Y_true, Y_a, Y_b) -> np.ndarray:
    """Eq. 9/10: RMSE_a(E) - RMSE_b(E)."""
    return rmse_energy(Y_true, Y_a) - rmse_energy(Y_true, Y_b)


def valence_mean_baseline(Y_train, v_train, v_test) -> np.ndarray:
    """Predict each test site by the mean training spectrum of its valence (the overall training
    mean for a valence absent from training)."""
    Y_train = np.asarray(Y_train, float)
    v_train, v_test = np.asarray(v_train, int), np.asarray(v_test, int)
    overall = Y_train.mean(axis=0)
    means = {int(v): Y_train[v_train == v].mean(axis=0) for v in np.unique(v_train)}
    return np.stack([means.get(int(v), overall) for v in v_test]) if len(v_test) else \
        np.zeros((0, Y_train.shape[1]))


def forward_metrics(Y_true, Y_pred, valence, std=None) -> dict:
    """All numbers for one test set (JSON-able); ``n_test`` is the site count they rest on."""
    Y_true, Y_pred = np.asarray(Y_true, float), np.asarray(Y_pred, float)
    valence = np.asarray(valence, int)
    r = rmse_energy(Y_true, Y_pred)
    out = {
        "n_test": int(Y_true.shape[0]),
        "rmse_total": float(r.mean()),
        "rmse_energy": r.tolist(),
        "rmse_site": np.sqrt(np.mean((Y_true - Y_pred) ** 2, axis=1)).tolist(),
        "rmse_by_valence": {},
        "n_test_by_valence": {},
    }
    for v in VALENCES:
        rows = valence == v
        out["n_test_by_valence"][str(v)] = int(rows.sum())
        out["rmse_by_valence"][str(v)] = (float(rmse_energy(Y_true[rows], Y_pred[rows]).mean())
                                          if rows.any() else None)
    if std is not None:
        z = np.abs(Y_true - Y_pred) / np.maximum(np.asarray(std, float), 1e-300)
        out["calibration"] = {"within_1sigma": float(np.mean(z <= 1.0)),
                              "within_2sigma": float(np.mean(z <= 2.0)),
                              "mean_std": float(np.mean(std))}
    return out


def split_random(valence, seed: int = 0, test_per_valence: int = 50,
                 test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Study 1's split, stratified by valence: :func:`amorphxas.core.splits.split_stratified`.
    Returns (train_idx, test_idx)."""
    return split_stratified(valence, seed, test_per_valence, test_fraction)


def split_cell(cell_id, seed: int = 0, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """No cell in both (:func:`amorphxas.core.splits.split_cells`, train indices shuffled);
    fewer than 2 cells is a ForwardError."""
    return split_cells(cell_id, seed, test_fraction, shuffle_train=True, error=ForwardError)


def coverage_by_valence(Y, P, S, valence) -> dict:
    """{valence: {"within_1sigma", "within_2sigma", "n_test"}} over (site, energy) points."""
    z = np.abs(np.asarray(Y) - np.asarray(P)) / np.maximum(np.asarray(S), 1e-300)
    out = {}
    for k in range(5):
        rows = np.asarray(valence) == k
        if rows.any():
            out[str(k)] = {"within_1sigma": float(np.mean(z[rows] <= 1)),
                           "within_2sigma": float(np.mean(z[rows] <= 2)), "n_test": int(rows.sum())}
    return out
