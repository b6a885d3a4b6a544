"""Energy calibration of a measured spectrum against the project's own computed crystal references.

A reference (alpha-quartz, or a Si wafer = diamond Si) measured on the same energy scale as the
sample is aligned with the dataset's *computed* spectrum of that crystal (``/references``), the
scale the standards live on. The fit (``scipy.optimize.least_squares``) has a shift, an
amplitude, a linear background and an extra Gaussian broadening; the shift's std comes from the
Jacobian (residual variance times the residual autocorrelation length), combined with a 0.05 eV
alignment-resolution floor.

- one reference: E_theory = E_measured + shift;
- both: a two-point calibration E_theory = offset + scale * E_measured through the quartz main
  peak and the Si edge (anchors on the computed spectra), since one shift cannot align both ends
  of the Si0..Si4+ range (docs/inverse.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import least_squares

from amorphxas.measured.io import MeasuredInputError, MeasuredSpectrum
from amorphxas.measured.lcf import _autocorr_length
from amorphxas.measured.normalise import normalise

MATERIALS = {"alpha-quartz": "alpha-quartz", "silicon": "diamond-si"}  # CLI name -> /references
REF_HALF_WIDTH = 6.0  # eV, the reference is fitted within +-6 eV of its anchor (theory scale)
MIN_REF_POINTS = 20
SEARCH = 10.0  # eV, coarse search range of the reference shift
SAMPLE_ANCHOR = 1845.0  # eV, where the two-point calibration's std is quoted for the sample
SHIFT_STD_FLOOR = 0.05  # eV, alignment resolution (standards on a 0.196 eV grid)


@dataclass
class ReferenceFit:
    material: str
    source: str
    shift: float
    shift_std: float
    anchor: float  # eV, theory scale (quartz main peak, Si edge)
    r_factor: float


@dataclass
class Calibration:
    """E_theory = offset + scale * E_measured; ``shift_std`` (eV) at :data:`SAMPLE_ANCHOR`."""

    method: str  # "none", "one-point (alpha-quartz)", "two-point (alpha-quartz + silicon)"
    offset: float = 0.0
    scale: float = 1.0
    shift_std: float = 0.0
    fits: list = field(default_factory=list)

    @property
    def calibrated(self) -> bool:
        return bool(self.fits)

    def apply(self, energy: np.ndarray) -> np.ndarray:
        return self.offset + self.scale * np.asarray(energy, dtype=float)

    def shift_at(self, energy: float = SAMPLE_ANCHOR) -> float:
        return float(self.apply(energy) - energy)


def computed_reference(dataset: str | Path, material: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(energy, normalised intensity, anchor eV) of the dataset's computed reference spectrum."""
    from amorphxas.core.spectrum import edge_energy, main_peak
    from amorphxas.dataset.loader import load_reference

    energy, intensity = load_reference(dataset, MATERIALS[material])
    norm = normalise(energy, intensity, source=f"{dataset}:/references/{MATERIALS[material]}").norm
    anchor = main_peak(energy, intensity) if material == "alpha-quartz" else edge_energy(energy, intensity)
    return energy, norm, anchor


def fit_reference(spectrum: MeasuredSpectrum, material: str, dataset: str | Path) -> ReferenceFit:
    """Shift (eV) that aligns a measured reference with the computed one (module docstring)."""
    if material not in MATERIALS:
        raise MeasuredInputError(f"unknown reference material {material!r}; choose "
                                 f"{' or '.join(MATERIALS)}")
    grid, ref, anchor = computed_reference(dataset, material)
    dx = float(grid[1] - grid[0])
    window = (anchor - REF_HALF_WIDTH, anchor + REF_HALF_WIDTH)
    energy, mu = spectrum.energy, spectrum.mu

    def model(x, e):
        shift, amp, c0, c1, var = x
        broad = gaussian_filter1d(ref, np.sqrt(max(var, 0.0)) / dx, mode="nearest") if var > 1e-8 else ref
        return amp * np.interp(e + shift, grid, broad) + c0 + c1 * (e + shift - anchor) / REF_HALF_WIDTH

    def select(shift, y):
        inside = (energy + shift >= window[0]) & (energy + shift <= window[1])
        return energy[inside], y[inside]

    def coarse(shift):  # on the raw mu: amplitude and a line absorb scale and background
        e, y = select(shift, mu)
        if e.size < MIN_REF_POINTS:
            return np.inf
        A = np.column_stack([np.interp(e + shift, grid, ref), np.ones_like(e), e - anchor])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        return float(np.mean((A @ coef - y) ** 2) / max(np.var(y), 1e-300))

    trial = np.arange(-SEARCH, SEARCH + 1e-9, 0.1)
    costs = np.array([coarse(s) for s in trial])
    if not np.isfinite(costs).any():
        raise MeasuredInputError(f"{spectrum.source}: reference does not cover {window[0]:.0f}-"
                                 f"{window[1]:.0f} eV (within +-{SEARCH:g} eV) with {MIN_REF_POINTS}+ "
                                 "points")
    s0 = float(trial[int(np.nanargmin(costs))])
    norm = normalise(energy + s0, mu, source=spectrum.source).norm
    e, y = select(s0, norm)
    fit = least_squares(lambda x: model(x, e) - y, x0=[s0, 1.0, 0.0, 0.0, 0.1],
                        bounds=([s0 - 1.0, 0.2, -np.inf, -np.inf, 0.0], [s0 + 1.0, 5.0, np.inf, np.inf, 4.0]))
    res = fit.fun
    dof = max(e.size - 5, 1)
    s2 = float(res @ res) / dof * _autocorr_length(res)
    cov = np.linalg.pinv(fit.jac.T @ fit.jac) * s2
    r_factor = float(res @ res / max(y @ y, 1e-30))
    return ReferenceFit(material=material, source=spectrum.source, shift=float(fit.x[0]),
                        shift_std=float(np.hypot(np.sqrt(max(cov[0, 0], 0.0)), SHIFT_STD_FLOOR)),
                        anchor=float(anchor), r_factor=r_factor)


def calibrate(references: list[tuple[MeasuredSpectrum, str]], dataset: str | Path) -> Calibration:
    """Calibration from 0, 1 or 2 references (at most one per material)."""
    if not references:
        return Calibration(method="none")
    materials = [m for _, m in references]
    if len(set(materials)) != len(materials):
        raise MeasuredInputError("give --reference at most once per --reference-material")
    fits = {m: fit_reference(s, m, dataset) for s, m in references}
    if len(fits) == 1:
        (m, f), = fits.items()
        return Calibration(method=f"one-point ({m})", offset=f.shift, scale=1.0, shift_std=f.shift_std,
                           fits=[f])
    q, si = fits["alpha-quartz"], fits["silicon"]
    # measured anchor positions: E_meas = anchor_theory - shift
    mq, msi = q.anchor - q.shift, si.anchor - si.shift
    scale = (q.anchor - si.anchor) / (mq - msi)
    offset = q.anchor - scale * mq
    w = (SAMPLE_ANCHOR - msi) / (mq - msi)  # linear weights of the two shifts at the sample anchor
    std = float(np.hypot(w * q.shift_std, (1 - w) * si.shift_std))
    return Calibration(method="two-point (alpha-quartz + silicon)", offset=float(offset),
                       scale=float(scale), shift_std=std, fits=[q, si])
