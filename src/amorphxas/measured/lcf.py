"""Linear-combination fit (LCF) of a normalised spectrum with the per-valence DFT standards.

Model on the sample's own energy points E (eV, already on the theory scale after calibration):

    y(E) = sum_n g_n  G_sigma[S_n](E + dE)  +  c0 + c1 (E - 1855 eV) / 25 eV,    g_n >= 0

``S_n`` the standards, ``G_sigma`` an extra Gaussian broadening (std ``sigma`` <= 2 eV), ``dE`` a
residual energy shift (fitted within a prior, or fixed by a calibration), and a linear
background (Athena's optional "linear term") that absorbs what the normalisation's pre-edge line
left. Fractions f_n = g_n / sum g (non-negative, summing to one); their overall scale sum g is
the edge-step ratio (~1). The linear parameters are solved exactly (``scipy.optimize.nnls``) inside
a bounded Nelder-Mead over (dE, sigma^2).

Uncertainty: the covariance of the fit at fixed dE (Jacobian at the optimum, residual variance
times the residual autocorrelation length) propagated to f by the delta method, plus the
sensitivity of f to dE times the std of dE (the calibration's, or the prior's when the shift is
fitted), plus the covariance of f over a bootstrap that redraws the site spectra of each standard.

Mean valence: with a linear functional (:mod:`.linear_mv`) the reported mean valence is its value
mv_L, with std sqrt(cv_std^2 + (dmv_L/ddE std_dE)^2 + read^2) (read: the delta method of the
fitted background and edge-step ratio the functional's input is divided by, through the fit
covariance), and (with ``constrain_mean_valence``) the fractions are fitted
under the equality constraint sum_n n f_n = mv_L (a penalty row of weight
:data:`CONSTRAINT_WEIGHT` x the largest design column norm, so the constraint holds to ~1e-6);
their fit covariance is then the conditional one given sum_n n f_n, plus the fractions'
sensitivity to mv_L times the functional's cv_std.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import minimize, nnls

from amorphxas.measured.io import MeasuredInputError

FIT_WINDOW = (1833.5, 1876.5)  # eV, theory scale; standards cover 1830-1880 eV
MAX_SIGMA = 2.0  # eV, extra Gaussian broadening bound
MIN_FIT_POINTS = 30
MAX_GAP = 2.0  # eV, largest allowed spacing of the data in the fit window
NOISE_FLOOR = 1e-3  # edge-step units, for the reduced chi-square of noise-free input
N_BOOT = 100
CONSTRAINT_WEIGHT = 1e4  # mean-valence equality row, x the largest column norm of the design
E_MID, E_HALF = 1855.0, 25.0


@dataclass
class LCFResult:
    """Fit of one spectrum; arrays over the ``n`` fitted points (eV), (5,) per valence."""

    fractions: np.ndarray
    cov: np.ndarray  # (5, 5) total
    cov_fit: np.ndarray
    cov_boot: np.ndarray
    amplitude: float
    background: tuple
    shift: float
    shift_std: float
    sigma: float
    energy: np.ndarray
    data: np.ndarray
    fit: np.ndarray
    components: np.ndarray  # (5, n) weighted g_n * standard
    r_factor: float
    reduced_chi2: float
    noise: float
    n_points: int
    tau: float
    shift_fitted: bool
    at_bound: list = field(default_factory=list)
    weighting: str = "ordinary least squares"
    mean_valence_linear: float | None = None  # the linear functional's value, if given
    mean_valence_std: float | None = None  # its std (CV error + shift + reading), if given
    mean_valence_constrained: bool = False  # fractions fitted with sum_n n f_n = the functional
    fractions_linear: np.ndarray | None = None  # (5,) the fractions functional's, if given
    fractions_linear_cov: np.ndarray | None = None  # (5, 5) its CV error + energy-scale part

    @property
    def fractions_std(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def moment(self, values) -> tuple[float, float]:
        """sum_n f_n v_n and its std from the full covariance (v (5,), e.g. 0..4 or charges)."""
        v = np.asarray(values, dtype=float)
        return float(self.fractions @ v), float(np.sqrt(max(v @ self.cov @ v, 0.0)))

    def mean_valence(self) -> tuple[float, float]:
        """The linear functional's mean valence and std when one was given, else sum_n n f_n of
        the fractions and its std from their covariance (valence units)."""
        if self.mean_valence_linear is not None:
            return float(self.mean_valence_linear), float(self.mean_valence_std)
        return self.moment(np.arange(self.fractions.size))


def fit_points(energy: np.ndarray, y: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The data points inside :data:`FIT_WINDOW`; refuses too few or too sparse points."""
    inside = (energy >= FIT_WINDOW[0]) & (energy <= FIT_WINDOW[1])
    e, v = energy[inside], y[inside]
    if e.size < MIN_FIT_POINTS:
        raise MeasuredInputError(f"{source}: {e.size} points in the fit window {FIT_WINDOW[0]}-"
                                 f"{FIT_WINDOW[1]} eV; at least {MIN_FIT_POINTS} are needed")
    gaps = np.diff(np.concatenate([[FIT_WINDOW[0]], e, [FIT_WINDOW[1]]]))
    if gaps.max() > MAX_GAP:
        raise MeasuredInputError(f"{source}: a gap of {gaps.max():.1f} eV between points in the fit "
                                 f"window; at most {MAX_GAP:g} eV resolves the edge")
    return e, v


def design(std_mean: np.ndarray, grid: np.ndarray, energy: np.ndarray, shift: float,
           var: float, n_background: int = 2) -> np.ndarray:
    """Design matrix (n, k + 2): broadened standards (k, m on ``grid``) at energy + shift, 1, line."""
    dx = float(grid[1] - grid[0])
    sig = np.sqrt(max(var, 0.0)) / dx
    broad = gaussian_filter1d(std_mean, sig, axis=1, mode="nearest") if sig > 1e-6 else std_mean
    cols = [np.interp(energy + shift, grid, row) for row in broad]
    cols += [((energy - E_MID) / E_HALF) ** j for j in range(n_background)]
    return np.column_stack(cols)


def solve(A: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Linear parameters: g (k) >= 0, background (the remaining columns) free.

    ``scipy.optimize.nnls`` on [A, -B] (a free coefficient is the difference of two
    non-negative ones); exact for this bounded least-squares problem.
    """
    B = A[:, k:]
    x, _ = nnls(np.hstack([A, -B]), y, maxiter=50 * A.shape[1])
    return np.r_[x[:k], x[k:A.shape[1]] - x[A.shape[1]:]]


def _autocorr_length(res: np.ndarray) -> float:
    """1 + 2 sum of the residual autocorrelation up to its first non-positive lag (points)."""
    r = res - res.mean()
    denom = float(r @ r)
    if denom <= 0:
        return 1.0
    tau = 1.0
    for lag in range(1, r.size // 4):
        rho = float(r[:-lag] @ r[lag:]) / denom
        if rho <= 0:
            break
        tau += 2.0 * rho
    return tau


def shrunk_covariance(rows: np.ndarray, shrink: float = 0.5) -> np.ndarray:
    """Covariance (n, n) of site spectra ``rows`` (k, n), shrunk by ``shrink`` towards its diagonal
    (k << n: the sample covariance alone is singular)."""
    if len(rows) < 2:
        return np.zeros((rows.shape[1], rows.shape[1]))
    c = np.cov(rows.T)
    return (1.0 - shrink) * c + shrink * np.diag(np.diag(c))


def fit_lcf(energy, y, std_mean: np.ndarray, grid: np.ndarray, sites=None, *,
            shift_prior: float | None = 1.5, shift_std_fixed: float = 0.0, noise: float = 0.0,
            n_boot: int = N_BOOT, seed: int = 0, source: str = "spectrum",
            n_background: int = 2, max_sigma: float = MAX_SIGMA, gls: bool = True,
            linear=None, constrain_mean_valence: bool = True,
            fractions_linear=None) -> LCFResult:
    """LCF of ``y`` (n,) on ``energy`` (n,) eV with ``std_mean`` (k, m) on ``grid`` (m,).

    ``shift_prior``: fit dE within +-shift_prior eV (uniform prior, std prior/sqrt 3); None keeps
    dE = 0 (calibrated) and adds the fractions' sensitivity to dE times ``shift_std_fixed``.
    ``sites``: list of k arrays (n_k, m) of the site spectra behind each standard, for the bootstrap.
    ``noise``: data noise (edge-step units) for the reduced chi-square. ``n_background``: terms of
    the background polynomial (2: line, 1: constant, 0: none); ``max_sigma``: broadening bound (eV).
    ``gls``: with ``sites``, the final linear fit is weighted by the residual covariance
    sum_n f_n^2 C_n + noise^2 (C_n the site-to-site covariance of standard n, shrunk): energies
    where sites of one valence scatter count less. ``linear``: a :class:`.linear_mv.LinearValence`;
    its value (on the data with the fitted background removed, on the common edge step) is the
    mean valence, its cross-validated error (plus the energy-scale sensitivity) the std;
    ``constrain_mean_valence``: fit the fractions with sum_n n f_n equal to it (module docstring).
    ``fractions_linear``: a :class:`.linear_fractions.LinearFractions`, read on the same
    background-free spectrum and projected onto the simplex with sum_n n f_n = the mean valence
    (``linear``'s when given): :attr:`LCFResult.fractions_linear` and its covariance (the
    functional's held-out error covariance + the energy-scale sensitivity).
    """
    e, v = fit_points(np.asarray(energy, float), np.asarray(y, float), source)
    k = std_mean.shape[0]
    noise_eff = max(noise, NOISE_FLOOR)

    def design_at(shift_ev, var_ev2, standards=std_mean):
        return design(standards, grid, e, shift_ev, var_ev2, n_background)

    def rss(theta):
        A = design_at(theta[0], theta[1])
        p = solve(A, v, k)
        return float(np.sum((A @ p - v) ** 2))

    fit_shift = shift_prior is not None and shift_prior > 0
    shifts = np.arange(-shift_prior, shift_prior + 1e-9, 0.5) if fit_shift else np.zeros(1)
    best = min(((s, w) for s in shifts for w in (0.0, 1.0) if w <= max_sigma ** 2), key=rss)
    bounds = [(-shift_prior, shift_prior) if fit_shift else (0.0, 0.0), (0.0, max_sigma ** 2)]
    opt = minimize(rss, np.array(best), method="Nelder-Mead", bounds=bounds,
                   options={"xatol": 1e-3, "fatol": 1e-10, "maxiter": 400})
    shift, var = (float(opt.x[0]), float(opt.x[1])) if opt.fun <= rss(best) else best
    A = design_at(shift, var)
    p_ols = solve(A, v, k)
    W = None
    if gls and sites is not None and p_ols[:k].sum() > 0:
        f0 = np.clip(p_ols[:k], 0, None) / p_ols[:k].sum()
        cov = sum(f0[n] ** 2 * shrunk_covariance(np.stack([np.interp(e + shift, grid, r)
                                                               for r in sites[n]]))
                  for n in range(k) if f0[n] > 0)
        cov = cov + noise_eff ** 2 * np.eye(e.size)
        W = np.linalg.inv(np.linalg.cholesky(cov))

    constrained = linear is not None and constrain_mean_valence

    lin_f = {}

    def estimate(A_s: np.ndarray, shift_s: float,
                 mv_offset: float = 0.0) -> tuple[np.ndarray, float | None]:
        """Linear parameters at fixed design (GLS weights as set above) and the functional's mean
        valence; with the constraint, sum_n n f_n = that value + ``mv_offset``. The fractions
        functional's value at ``shift_s`` goes to ``lin_f``."""
        p = solve(A_s, v, k)
        mv = None
        if (linear is not None or fractions_linear is not None) and p[:k].sum() > 0:
            clean = (v - A_s[:, k:] @ p[k:]) / p[:k].sum()  # background off, common edge step
            if linear is not None:
                mv = linear.predict(np.interp(linear.energy, e + shift_s, clean))
            if fractions_linear is not None:
                lin_f[shift_s] = fractions_linear.predict(
                    np.interp(fractions_linear.energy, e + shift_s, clean), mv)
        if W is None and not (constrained and mv is not None):
            return p, mv
        Aw, vw = (W @ A_s, W @ v) if W is not None else (A_s, v)
        if constrained and mv is not None:  # equality row: sum_n (n - mv) g_n = 0
            target = float(np.clip(mv + mv_offset, 0.0, k - 1.0))
            row = np.r_[np.arange(k) - target, np.zeros(A_s.shape[1] - k)]
            scale = CONSTRAINT_WEIGHT * float(np.linalg.norm(Aw, axis=0).max())
            Aw, vw = np.vstack([Aw, scale * row]), np.r_[vw, 0.0]
        return solve(Aw, vw, k), mv

    p, mv_linear = estimate(A, shift)
    model = A @ p
    res = v - model
    # covariance at fixed dE: columns g, c0, c1 and sigma^2 (numerical); dE enters below
    hv = 0.05
    dvar = (design_at(shift, var + hv) @ p - design_at(shift, max(var - hv, 0)) @ p) / (
        var + hv - max(var - hv, 0))
    J = np.hstack([A, dvar[:, None]]) if max_sigma > 0 else A
    dof = max(e.size - J.shape[1] - int(fit_shift), 1)
    Jw, res_w = (W @ J, W @ res) if W is not None else (J, res)
    s2w = float(res_w @ res_w) / dof
    tau = _autocorr_length(res_w)
    cov_p = np.linalg.pinv(Jw.T @ Jw / max(s2w * tau, 1e-30))
    gsum = float(p[:k].sum())
    if gsum <= 0:
        raise MeasuredInputError(f"{source}: the fit found no edge from any standard (all fractions 0)")
    fractions = p[:k] / gsum
    mv_read_std = 0.0
    if linear is not None and mv_linear is not None:
        # the functional reads (v - B c) / G: delta method over the fitted c and G = sum g
        nb = A.shape[1] - k
        B = A[:, k:]

        def through(col: np.ndarray) -> float:
            return float(np.interp(linear.energy, e + shift, col) @ linear.beta) / gsum

        jac = np.r_[np.full(k, -through((v - B @ p[k:]) / gsum)),
                    [-through(B[:, j]) for j in range(nb)]]
        mv_read_std = float(np.sqrt(max(jac @ cov_p[:k + nb, :k + nb] @ jac, 0.0)))
    D = (np.eye(k) - fractions[:, None]) / gsum  # df_i/dg_j = (delta_ij - f_i) / G
    cov_fit = D @ cov_p[:k, :k] @ D.T
    vals = np.arange(k, dtype=float)
    if constrained and mv_linear is not None:
        # conditional covariance given sum_n n f_n (fixed by the constraint), plus the fractions'
        # sensitivity to the functional's value times its cross-validated error
        cv = cov_fit @ vals
        if float(vals @ cv) > 0:
            cov_fit = cov_fit - np.outer(cv, cv) / float(vals @ cv)
        f_up = _normed(estimate(A, shift, +linear.std)[0], k)
        f_down = _normed(estimate(A, shift, -linear.std)[0], k)
        dfm = (f_up - f_down) / 2.0
        cov_fit = cov_fit + np.outer(dfm, dfm)
    # the energy scale: fitted dE is not separable from the composition (the chemical shift is
    # what measures valence), so its prior std (uniform +-prior: prior/sqrt 3), or the
    # calibration's std, is propagated through the fractions' sensitivity to dE
    shift_std = shift_prior / np.sqrt(3.0) if fit_shift else float(shift_std_fixed)
    mv_shift_std = 0.0
    if shift_std > 0:
        p_plus, mv_plus = estimate(design_at(shift + shift_std, var), shift + shift_std)
        p_minus, mv_minus = estimate(design_at(shift - shift_std, var), shift - shift_std)
        dfs = (_normed(p_plus, k) - _normed(p_minus, k)) / 2.0  # = df/ddE * std
        cov_fit = cov_fit + np.outer(dfs, dfs)
        mv_shift_std = (abs(mv_plus - mv_minus) / 2.0 if mv_plus is not None and mv_minus is not None
                        else abs(float(dfs @ vals)))
    f_lin, f_lin_cov = lin_f.get(shift), None
    if f_lin is not None:
        f_lin_cov = np.asarray(fractions_linear.cov, float).copy()
        if shift_std > 0 and (shift + shift_std) in lin_f and (shift - shift_std) in lin_f:
            dfl = (lin_f[shift + shift_std] - lin_f[shift - shift_std]) / 2.0
            f_lin_cov = f_lin_cov + np.outer(dfl, dfl)
    cov_boot = np.zeros((k, k))
    if sites is not None and n_boot > 1:
        rng = np.random.default_rng(seed)
        boots = []
        for _ in range(n_boot):
            resampled = np.stack([s[rng.integers(0, len(s), len(s))].mean(axis=0) for s in sites])
            boots.append(_normed(estimate(design_at(shift, var, resampled), shift)[0], k))
        cov_boot = np.cov(np.asarray(boots).T)
    at_bound = []
    if fit_shift and abs(abs(shift) - shift_prior) < 0.02:
        at_bound.append("shift")
    if max_sigma > 0 and var > max_sigma ** 2 - 0.05:
        at_bound.append("broadening")
    cov_total = cov_fit + cov_boot
    mv_std = None
    if mv_linear is not None:
        mv_std = float(np.sqrt(linear.std ** 2 + mv_shift_std ** 2 + mv_read_std ** 2))
        # constrained: the fractions' covariance carries at least the mean valence's error
        var_now = float(vals @ cov_total @ vals)
        if constrained and 0 < var_now < mv_std ** 2:
            cov_total = cov_total * (mv_std ** 2 / var_now)
    return LCFResult(
        fractions=fractions, cov=cov_total, cov_fit=cov_fit, cov_boot=cov_boot,
        amplitude=gsum, background=tuple(float(c) for c in p[k:]), shift=shift, shift_std=shift_std,
        sigma=float(np.sqrt(var)), energy=e, data=v, fit=model, components=(A[:, :k] * p[:k]).T,
        r_factor=float(np.sum(res ** 2) / max(np.sum(v ** 2), 1e-30)),
        reduced_chi2=float(np.sum(res ** 2) / dof / noise_eff ** 2), noise=noise_eff,
        n_points=int(e.size), tau=float(tau), shift_fitted=fit_shift, at_bound=at_bound,
        weighting="generalised least squares (standards' site covariance)" if W is not None
        else "ordinary least squares", mean_valence_linear=mv_linear, mean_valence_std=mv_std,
        mean_valence_constrained=bool(constrained and mv_linear is not None),
        fractions_linear=f_lin, fractions_linear_cov=f_lin_cov)


def _normed(p: np.ndarray, k: int) -> np.ndarray:
    g = np.clip(p[:k], 0.0, None)
    return g / g.sum() if g.sum() > 0 else np.full(k, 1.0 / k)


def _fractions(A: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    p = solve(A, v, k)
    g = p[:k]
    return g / g.sum() if g.sum() > 0 else np.full(k, 1.0 / k)
