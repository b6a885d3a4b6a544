"""Athena/Larch normalisation, applied identically to measured spectra and to the DFT standards.

``larch.xafs.pre_edge.preedge`` with fixed, documented parameters (:data:`NORM_PARAMS`, absolute
energies so that the result does not depend on the composition of the sample):

- E0 for the normalisation is fixed at 1845 eV (between the Si0 edge, ~1839 eV, and the
  alpha-quartz white line, 1846.8 eV); the edge step is evaluated there. The E0 that Larch finds
  (maximum of the derivative) is reported separately;
- pre-edge line (``npre=1``) fitted from the first point (not below 1800 eV) to 1833 eV;
- post-edge line (``nnorm=1``) fitted over 1865-1880 eV (where the DFT standards end);
- ``norm = (mu - pre_edge) / edge_step``.

The standards are normalised with the same call but one common edge step for all of them (the
step of the mean of all site spectra), so that a fitted fraction is a fraction of Si atoms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amorphxas.measured.io import MeasuredInputError

NORM_E0 = 1845.0  # eV
PRE_EDGE_RANGE = (1800.0, 1833.0)  # eV; the lower bound is clipped to the first data point
POST_EDGE_RANGE = (1865.0, 1880.0)  # eV
NORM_PARAMS = {"e0": NORM_E0, "pre1": PRE_EDGE_RANGE[0] - NORM_E0, "pre2": PRE_EDGE_RANGE[1] - NORM_E0,
               "norm1": POST_EDGE_RANGE[0] - NORM_E0, "norm2": POST_EDGE_RANGE[1] - NORM_E0,
               "npre": 1, "nnorm": 1, "nvict": 0}
EDGE_SNR_MIN = 10.0  # edge step / noise below this: "no Si K edge"


@dataclass
class Normalised:
    """Result of :func:`normalise`: arrays (n,) on the input energies (eV)."""

    energy: np.ndarray
    mu: np.ndarray
    norm: np.ndarray
    pre_edge: np.ndarray
    post_edge: np.ndarray
    edge_step: float
    e0_found: float
    noise: float  # noise of ``norm`` (edge-step units) from second differences
    params: dict


def noise_level(energy: np.ndarray, y: np.ndarray) -> float:
    """White-noise std of ``y`` (n,) from the MAD of its second differences (var = 6 sigma^2)."""
    d2 = y[2:] - 2.0 * y[1:-1] + y[:-2]
    if d2.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def normalise(energy, mu, step: float | None = None, source: str = "spectrum",
              check_edge: bool = True) -> Normalised:
    """Larch ``preedge`` with :data:`NORM_PARAMS`; energy (n,) eV absolute, mu (n,).

    ``step``: a given edge step (standards: the common one), else Larch's, evaluated at 1845 eV.
    Refuses (one line naming ``source``) a spectrum that does not span the pre-edge end and the
    post-edge range, or whose edge step is not positive and clear of the noise.
    """
    from larch.xafs.pre_edge import find_e0, preedge

    energy = np.asarray(energy, dtype=float)
    mu = np.asarray(mu, dtype=float)
    lo_needed, hi_needed = PRE_EDGE_RANGE[1], POST_EDGE_RANGE[1] - 2.0
    if energy[0] > lo_needed or energy[-1] < hi_needed:
        raise MeasuredInputError(
            f"{source}: covers {energy[0]:.1f}-{energy[-1]:.1f} eV; normalisation needs at least "
            f"{lo_needed:.0f}-{hi_needed:.0f} eV (pre-edge below {PRE_EDGE_RANGE[1]:.0f} eV, post-edge "
            f"{POST_EDGE_RANGE[0]:.0f}-{POST_EDGE_RANGE[1]:.0f} eV)")
    for name, (a, b) in (("pre-edge", (energy[0], PRE_EDGE_RANGE[1])), ("post-edge", POST_EDGE_RANGE)):
        if int(((energy >= a) & (energy <= b)).sum()) < 3:
            raise MeasuredInputError(f"{source}: fewer than 3 points in the {name} range "
                                     f"{a:.0f}-{b:.0f} eV")
    params = dict(NORM_PARAMS)
    params["pre1"] = max(PRE_EDGE_RANGE[0], float(energy[0])) - NORM_E0
    out = preedge(energy, mu, e0=NORM_E0, step=step, nnorm=params["nnorm"], nvict=params["nvict"],
                  npre=params["npre"], pre1=params["pre1"], pre2=params["pre2"],
                  norm1=params["norm1"], norm2=params["norm2"])
    edge_step = float(out["edge_step"])
    raw_step = float(out["post_edge"][np.argmin(np.abs(energy - NORM_E0))]
                     - out["pre_edge"][np.argmin(np.abs(energy - NORM_E0))])
    norm = (mu - out["pre_edge"]) / edge_step
    window = (energy >= PRE_EDGE_RANGE[1]) & (energy <= POST_EDGE_RANGE[1])
    noise = noise_level(energy[window], norm[window])
    if check_edge and (raw_step <= 0 or not np.isfinite(raw_step) or
                       (noise > 0 and 1.0 / noise < EDGE_SNR_MIN)):
        raise MeasuredInputError(
            f"{source}: no Si K edge: edge step {raw_step:.3g} at {NORM_E0:.0f} eV against noise "
            f"{noise * abs(edge_step):.3g} (need a positive step > {EDGE_SNR_MIN:.0f}x the noise)")
    e0_found = float("nan")
    if check_edge:  # Larch's E0 search is a report only (skipped for the standards' rows)
        try:
            e0_found = float(find_e0(energy, mu))
        except Exception:
            pass
    params["pre_edge_eV"] = [NORM_E0 + params["pre1"], NORM_E0 + params["pre2"]]
    params["post_edge_eV"] = list(POST_EDGE_RANGE)
    return Normalised(energy=energy, mu=mu, norm=norm, pre_edge=np.asarray(out["pre_edge"]),
                      post_edge=np.asarray(out["post_edge"]), edge_step=edge_step,
                      e0_found=e0_found, noise=noise, params=params)
