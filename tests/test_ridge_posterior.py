"""The ridge's predictive standard deviation (forward/ridge.py) against a computation by hand, and
its calibration on a Gaussian-noise fixture.

All arrays named ``fixture_*`` are hand-made test fixtures (a known linear model plus Gaussian
noise), not data.
"""

import numpy as np
import pytest
from scipy import stats

from amorphxas.forward import RidgeSpectrum


def fixture_gaussian(n, d=8, n_energy=20, sigma=0.1, seed=0, W=None):
    """(X (n, d), Y (n, n_energy), W): Y = 0.5 + X W + N(0, sigma^2), noise per energy point."""
    rng = np.random.default_rng(seed)
    if W is None:
        W = np.random.default_rng(1000).normal(size=(d, n_energy))
    X = rng.normal(size=(n, d))
    return X, 0.5 + X @ W + rng.normal(0.0, sigma, (n, n_energy)), W


def _by_hand(X, Y, alpha, X_new):
    """Ridge with intercept = centred ridge; s2(E) = RSS(E) / (n - 1 - tr(Xc M^-1 Xc^T));
    var = s2 (1 + 1/n + (x - xbar)^T M^-1 (x - xbar)); solved with np.linalg.solve, no inverse."""
    n, d = X.shape
    xbar, ybar = X.mean(axis=0), Y.mean(axis=0)
    Xc = X - xbar
    M = Xc.T @ Xc + alpha * np.eye(d)
    W = np.linalg.solve(M, Xc.T @ (Y - ybar))
    fitted = Xc @ W + ybar
    hat = Xc @ np.linalg.solve(M, Xc.T)  # centred hat matrix; the full one adds 11^T / n
    dof = np.trace(hat)
    s2 = np.sum((Y - fitted) ** 2, axis=0) / (n - 1.0 - dof)
    D = X_new - xbar
    lev = np.einsum("ij,ji->i", D, np.linalg.solve(M, D.T))
    var = s2[None, :] * (1.0 + 1.0 / n + lev)[:, None]
    return (X_new - xbar) @ W + ybar, var, s2, dof, lev


@pytest.mark.parametrize("alpha", [1e-6, 0.3, 5.0])
def test_direct_std_equals_the_formula_by_hand(alpha):
    X, Y, _ = fixture_gaussian(25, d=6, n_energy=7, sigma=0.2, seed=3)
    X_new = np.random.default_rng(4).normal(0, 2.0, (9, 6))
    est = RidgeSpectrum(mode="direct", alpha=alpha).fit(X, Y)
    pred, var, s2, dof, lev = _by_hand(X, Y, alpha, X_new)
    mean, std = est.predict(X_new, return_std=True)
    np.testing.assert_allclose(mean, pred, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.noise_var_, s2, rtol=1e-9)
    assert est.dof_ == pytest.approx(dof, rel=1e-9)
    np.testing.assert_allclose(est.leverage(X_new), lev, rtol=1e-9)
    np.testing.assert_allclose(std**2, var, rtol=1e-9)
    # the trace of the centred hat matrix is d for alpha -> 0 (ordinary least squares)
    if alpha < 1e-3:
        assert dof == pytest.approx(6.0, abs=1e-4)


def test_pca_std_has_the_same_leverage_and_its_own_decoded_residuals():
    X, Y, _ = fixture_gaussian(30, d=5, n_energy=12, sigma=0.05, seed=5)
    X_new = np.random.default_rng(6).normal(size=(4, 5))
    direct = RidgeSpectrum(mode="direct", alpha=0.5).fit(X, Y)
    pca = RidgeSpectrum(mode="pca", alpha=0.5, n_components=3).fit(X, Y)
    np.testing.assert_allclose(pca.leverage(X_new), direct.leverage(X_new), rtol=1e-10)
    resid = Y - pca.predict(X)
    s2 = np.sum(resid**2, axis=0) / (30 - 1.0 - direct.dof_)
    _, std = pca.predict(X_new, return_std=True)
    h = 1 + 1 / 30 + direct.leverage(X_new)
    np.testing.assert_allclose(std**2, h[:, None] * s2[None, :], rtol=1e-9)
    # 3 components cannot carry 12 independent noisy outputs: more residual than direct mode
    assert np.all(pca.noise_var_.mean() > direct.noise_var_.mean())


def test_one_and_two_sigma_coverage_on_gaussian_noise():
    """With alpha -> 0 the ridge is least squares and (y_new - prediction) / std follows Student's
    t with n - 1 - d degrees of freedom exactly: 1 sigma covers 67.1 %, 2 sigma 94.1 % for
    n = 30, d = 8 (measured on this fixture: 67.4 %). Dropping the dof correction (s2 = RSS / n)
    gives 59.0 %, dropping the leverage term 59.8 %, dropping the "1 +" (std of the mean only)
    39.8 %: all outside the tolerance."""
    n, d, n_energy, sigma = 30, 8, 20, 0.1
    inside1 = inside2 = total = 0
    _, _, W = fixture_gaussian(2, d, n_energy)
    for trial in range(200):
        X, Y, _ = fixture_gaussian(n, d, n_energy, sigma, seed=trial, W=W)
        X_new, Y_new, _ = fixture_gaussian(50, d, n_energy, sigma, seed=10_000 + trial, W=W)
        mean, std = RidgeSpectrum(mode="direct", alpha=1e-8).fit(X, Y).predict(X_new, return_std=True)
        z = np.abs(Y_new - mean) / std
        inside1 += int(np.sum(z < 1))
        inside2 += int(np.sum(z < 2))
        total += z.size
    dof = n - 1 - d
    expected1 = stats.t.cdf(1, dof) - stats.t.cdf(-1, dof)
    expected2 = stats.t.cdf(2, dof) - stats.t.cdf(-2, dof)
    assert expected1 == pytest.approx(0.671, abs=1e-3)
    assert inside1 / total == pytest.approx(expected1, abs=0.015)
    assert inside2 / total == pytest.approx(expected2, abs=0.01)


def test_calibration_holds_with_regularisation_at_moderate_n():
    """alpha = 1 on 60 sites with 10 features: the shrinkage bias is small against the noise,
    the 1-sigma coverage is within 3 points of the Gaussian 68.3 %."""
    n, d, n_energy, sigma = 60, 10, 15, 0.3
    _, _, W = fixture_gaussian(2, d, n_energy)
    z = []
    for trial in range(100):
        X, Y, _ = fixture_gaussian(n, d, n_energy, sigma, seed=trial, W=W)
        X_new, Y_new, _ = fixture_gaussian(40, d, n_energy, sigma, seed=5000 + trial, W=W)
        mean, std = RidgeSpectrum(mode="direct", alpha=1.0).fit(X, Y).predict(X_new, return_std=True)
        z.append(np.abs(Y_new - mean) / std)
    z = np.concatenate(z)
    assert np.mean(z < 1) == pytest.approx(0.683, abs=0.03)
