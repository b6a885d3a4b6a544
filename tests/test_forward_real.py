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


def test_real_posterior_std_shrinks_at_selected_sites(real):
    Z, rows, Y = real
    est = RidgeSpectrum(mode="direct", alpha=1.0).fit(Z[rows], Y)
    has = np.zeros(len(Z), bool)
    has[rows] = True
    pick = select_ur(Z, has, 1, alpha=1.0)[0]
    before = est.leverage(Z[[pick]])[0]
    # refit with the picked site added (its target does not enter the leverage)
    X2 = np.vstack([Z[rows], Z[[pick]]])
    Y2 = np.vstack([Y, Y.mean(axis=0, keepdims=True)])
    after = RidgeSpectrum(mode="direct", alpha=1.0).fit(X2, Y2).leverage(Z[[pick]])[0]
    assert after < before
