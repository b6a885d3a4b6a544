"""Broadening, the common grid, edge position, alignment constant and normalisation.

Raw spectra come from xspectra with a small Lorentzian (``xs_gamma``, HWHM, eV). Broadening here
adds the physical width on top: a Lorentzian of total HWHM ``gamma`` (study 2: 0.8 eV) is made by
convolving with a Lorentzian of HWHM ``gamma - xs_gamma`` (Lorentzians add their widths), and a
Gaussian of standard deviation ``sigma`` (study 1: 1.0 eV) by convolving with that Gaussian.
The convolution is a dense quadrature on the raw (uniform) grid, then linear interpolation onto
the common grid; a few lines of numpy, no library does exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.validation import check_spectrum

COMMON_GRID = np.linspace(1830.0, 1880.0, 256)  # eV, study 2's window and point count
QUARTZ_MAIN_PEAK_EV = 1846.8  # eV, experimental alpha-quartz Si K-edge main peak (see docs)
DIAMOND_SI_EDGE_EV = 1839.0  # eV, experimental c-Si K edge (check only, not fitted)


@dataclass(frozen=True)
class Broadening:
    """``kind`` is 'gaussian' (width = sigma, eV), 'lorentzian' (width = total HWHM gamma, eV)
    or 'voigt' (both: Lorentzian ``gamma`` then Gaussian ``sigma``)."""

    kind: str = "gaussian"
    sigma: float = 1.0
    gamma: float = 0.8

    def as_dict(self) -> dict:
        return {"kind": self.kind, "sigma": self.sigma, "gamma": self.gamma}


STUDY1 = Broadening("gaussian", sigma=1.0)
STUDY2 = Broadening("lorentzian", gamma=0.8)
DEFAULT_BROADENING = STUDY2  # the dataset's: exact on top of the raw 0.3 eV Lorentzian


def broaden(energy: np.ndarray, intensity: np.ndarray, grid: np.ndarray = COMMON_GRID,
            broadening: Broadening = STUDY1, raw_gamma: float = 0.1) -> np.ndarray:
    """Broaden raw data (energy (m,) eV, intensity (..., m)) and sample it on ``grid`` (eV).

    Outside the raw energy range the result is zero. Returns shape (..., len(grid)).
    """
    energy, intensity = check_spectrum(energy, intensity, "raw spectrum", stacked=True, error=AmorphxasError)
    step = np.median(np.diff(energy))
    # kernel +-30 eV, never longer than the raw data (np.convolve "same" keeps the longer length)
    half = min(int(np.ceil(30.0 / step)), (energy.size - 1) // 2)
    offsets = np.arange(-half, half + 1) * step
    kernel = np.zeros_like(offsets)
    kernel[offsets.size // 2] = 1.0
    if broadening.kind in ("lorentzian", "voigt"):
        extra = broadening.gamma - raw_gamma
        if extra > 0:
            lorentz = extra / np.pi / (offsets**2 + extra**2)
            kernel = np.convolve(kernel, lorentz * step, mode="same")
    if broadening.kind in ("gaussian", "voigt"):
        gauss = np.exp(-0.5 * (offsets / broadening.sigma) ** 2)
        gauss /= gauss.sum()
        kernel = np.convolve(kernel, gauss, mode="same")
    if broadening.kind not in ("gaussian", "lorentzian", "voigt"):
        raise AmorphxasError(f"unknown broadening {broadening.kind!r}")
    flat = intensity.reshape(-1, energy.size)
    out = np.empty((flat.shape[0], np.asarray(grid).size))
    for row, values in enumerate(flat):
        smooth = np.convolve(values, kernel, mode="same")
        out[row] = np.interp(grid, energy, smooth, left=0.0, right=0.0)
    return out.reshape(intensity.shape[:-1] + (np.asarray(grid).size,))


def main_peak(energy: np.ndarray, intensity: np.ndarray) -> float:
    """Energy (eV) of the global maximum, refined by a parabola through its neighbours."""
    energy, intensity = check_spectrum(energy, intensity, "raw spectrum", stacked=True, error=AmorphxasError)
    i = int(np.argmax(intensity))
    if 0 < i < intensity.size - 1:
        y0, y1, y2 = intensity[i - 1:i + 2]
        denominator = y0 - 2 * y1 + y2
        if denominator < 0:
            return float(energy[i] + 0.5 * (y0 - y2) / denominator * (energy[i + 1] - energy[i]))
    return float(energy[i])


def edge_energy(energy: np.ndarray, intensity: np.ndarray, fraction: float = 0.5) -> float:
    """Edge position (eV): first crossing of ``fraction`` x the maximum, linearly interpolated."""
    energy, intensity = check_spectrum(energy, intensity, "raw spectrum", stacked=True, error=AmorphxasError)
    top = intensity.max()
    if top <= 0:
        raise AmorphxasError("spectrum has no positive intensity: no edge")
    above = np.nonzero(intensity >= fraction * top)[0][0]
    if above == 0:
        return float(energy[0])
    e0, e1 = energy[above - 1], energy[above]
    y0, y1 = intensity[above - 1], intensity[above]
    return float(e0 + (fraction * top - y0) * (e1 - e0) / (y1 - y0))


def alignment_constant(quartz_energy: np.ndarray, quartz_sigma: np.ndarray,
                       broadening: Broadening = STUDY1, raw_gamma: float = 0.1,
                       target: float = QUARTZ_MAIN_PEAK_EV) -> float:
    """The one global shift (eV) that puts the broadened alpha-quartz main peak at ``target``."""
    quartz_energy, quartz_sigma = check_spectrum(quartz_energy, quartz_sigma, "raw spectrum",
                                                 stacked=True, error=AmorphxasError)
    mean = quartz_sigma.reshape(-1, quartz_energy.size).mean(axis=0)
    fine = np.arange(quartz_energy[0], quartz_energy[-1], 0.02)
    broadened = broaden(quartz_energy, mean, fine, broadening, raw_gamma)
    return float(target - main_peak(fine, broadened))


def normalise_max_of_mean(intensity: np.ndarray, reference_rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Study 1: divide all spectra by the maximum of the mean of ``reference_rows`` (the Si4+ sites).

    ``intensity`` (n, n_energy); ``reference_rows`` boolean (n,) or index array. Independent of
    row order. Returns (normalised copy, the factor divided by).
    """
    intensity = np.asarray(intensity, dtype=float)
    reference = intensity[reference_rows]
    if reference.size == 0:
        raise AmorphxasError("normalisation: no reference (Si4+) spectra to normalise by")
    scale = float(reference.mean(axis=0).max())
    if not np.isfinite(scale) or scale <= 0:
        raise AmorphxasError("normalisation: the mean reference spectrum has no positive maximum")
    return intensity / scale, scale


def normalise_edge_step(energy: np.ndarray, intensity: np.ndarray,
                        post_edge: tuple[float, float] = (1865.0, 1880.0)) -> np.ndarray:
    """Edge-step normalisation: divide each spectrum (..., n_energy) by its mean over ``post_edge`` (eV).

    This is what a measured spectrum is usually normalised by; the pre-edge of a computed
    spectrum is zero by construction, so no pre-edge line is subtracted.
    """
    energy = np.asarray(energy, dtype=float)
    intensity = np.asarray(intensity, dtype=float)
    window = (energy >= post_edge[0]) & (energy <= post_edge[1])
    if not window.any():
        raise AmorphxasError(f"edge-step normalisation: no grid points in {post_edge} eV")
    step = intensity[..., window].mean(axis=-1, keepdims=True)
    if np.any(~np.isfinite(step)) or np.any(step <= 0):
        raise AmorphxasError("edge-step normalisation: a spectrum has no positive post-edge step")
    return intensity / step
