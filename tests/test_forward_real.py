"""The forward estimators on the real spectra of the embedded dataset (its DFT site spectra and
the SOAP descriptors of their sites), each checked against an independent computation."""

import numpy as np
import pytest

from amorphxas.dataset import embedded_path
from amorphxas.descriptors import fit_pca
from amorphxas.forward import RidgeSpectrum, select_ur
from amorphxas.forward.model import labelled_rows, load_pool


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """(Z (n_pool, p) descriptor PCs, rows with spectra, Y (n, 256) normalised real spectra)."""
    cache = tmp_path_factory.mktemp("desc") / "soap.h5"
    pool = load_pool(embedded_path(), "soap-gto", "fast", descriptors=cache)
    rows = labelled_rows(pool)
    assert rows.size >= 12, "the embedded dataset should hold at least 12 site spectra"
    Z = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor).transform(pool.X_raw)
    return Z, rows, pool.Y[rows]


def test_real_direct_ridge_small_alpha_is_least_squares(real):
    Z, rows, Y = real
    X = Z[rows, :5]  # fewer features than spectra: a unique least-squares solution
    est = RidgeSpectrum(mode="direct", alpha=1e-9).fit(X, Y)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    sol, *_ = np.linalg.lstsq(A, Y, rcond=None)
    scale = np.abs(Y).max()
    np.testing.assert_allclose(est.predict(X), A @ sol, atol=1e-6 * scale)


def test_real_pca_and_nmf_bases_reconstruct_the_training_spectra(real):
    from scipy.optimize import nnls

    Z, rows, Y = real
    X = Z[rows, :5]
    pca = RidgeSpectrum(mode="pca", alpha=1e-9).fit(X, Y)
    G, mean = pca.basis_, pca.basis_mean_
    np.testing.assert_allclose(G @ G.T, np.eye(len(G)), atol=1e-8)  # orthonormal components
    recon = (Y - mean) @ G.T @ G + mean  # 99.9 % of the spectral variance kept
    assert np.sum((recon - Y) ** 2) <= 1.001e-3 * np.sum((Y - Y.mean(axis=0)) ** 2)
    nmf = RidgeSpectrum(mode="nmf", alpha=1e-9, n_components=min(9, len(Y) - 1)).fit(X, Y)
    assert np.all(nmf.basis_ >= 0)
    # each real spectrum as a non-negative combination of the basis (scipy's NNLS, independent)
    fit = np.array([nmf.basis_.T @ nnls(nmf.basis_.T, y)[0] for y in Y])
    assert np.linalg.norm(fit - Y) < 0.05 * np.linalg.norm(Y)


def test_real_ur_picks_are_the_brute_force_best_variance_reductions(real):
    """Each greedy UR pick over the real pool (every Si site of the embedded dataset) is the
    candidate whose addition lowers the pool-summed variance V(S) most, V recomputed directly
    (a linear solve per candidate, no Sherman-Morrison update) for every candidate."""
    from amorphxas.forward.active import total_variance

    Z, rows, _ = real
    alpha = 1.0
    has = np.zeros(len(Z), bool)
    has[rows] = True
    picks = select_ur(Z, has, 3, alpha=alpha)
    train = list(rows)
    for pick in picks:
        base = total_variance(Z, Z[train], alpha)
        free = np.setdiff1d(np.arange(len(Z)), train)
        reduction = np.array([base - total_variance(Z, Z[train + [c]], alpha) for c in free])
        assert pick == free[np.argmax(reduction)]
        second = np.sort(reduction)[-2]
        assert reduction.max() > second  # a unique best, so the comparison means something
        train.append(pick)


def test_real_forward_model_beats_the_valence_mean_baseline(tmp_path):
    """docs/forward.md: ACSF (direct ridge) is below the valence-mean baseline on both splits.
    Measured on the 104-spectrum snapshot (seeds 0-2): random split 0.0290 vs 0.0321 (-10 %),
    cell split 0.0282 vs 0.0301 (-6 %), lower on every seed of both. Asserted: lower on average
    over the seeds on both splits, by at least 5 % on the random split."""
    from amorphxas.forward.model import evaluate_split, make_split

    pool = load_pool(embedded_path(), "acsf", "fast", descriptors=tmp_path / "acsf.h5")
    assert labelled_rows(pool).size >= 100, "the embedded dataset holds 104+ site spectra"
    for split, margin in (("random", 0.95), ("cell", 1.0)):
        model, baseline = [], []
        for seed in (0, 1, 2):
            train, test = make_split(pool, split, seed)
            metrics = evaluate_split(pool, train, test, "direct", seed=seed)[1]
            model.append(metrics["rmse_total"])
            baseline.append(metrics["baseline_rmse_total"])
        assert np.mean(model) < margin * np.mean(baseline), (split, model, baseline)
