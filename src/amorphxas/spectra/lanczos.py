"""Si K-edge cross-sections from xspectra's Lanczos chains, with a smooth occupied-state cut.

``xspectra.x`` writes, per k-point, the Lanczos coefficients a_i, b_i (Ry) of the dipole
starting vector and its norm to its ``x_save_file``; the spectrum is the continued fraction
built from them. Evaluating it here, rather than taking xspectra's plotted ``xanes.dat``, is
done for one reason that no library covers: **xspectra's occupied-state cut is sharp** (a
contour integral that removes every state below the Fermi level, smoothed only over
``cut_desmooth``), and a sharp cut at an interior energy is ill-conditioned whenever a state
carrying absorber weight lies within ~0.1 eV of the Fermi level (defect and core-exciton states
of near-metallic amorphous cells). Truncating a converged chain to 250 or 300 steps then moved
the plotted white line by 20-30 % of the maximum (site x1.75:51, one polarisation; measured in
session 4), although the uncut spectrum of the same chains agreed to 0.1 %.

Here the occupied part is removed with the empty fraction 1 - f(E - E_F) of a Fermi-Dirac
function whose width is the core-hole SCF's own smearing, applied to the spectral function
broadened by a small ``eta`` and then Lorentzian-broadened to the raw width: the same object as
xspectra's cut, but smooth on the scale on which the SCF itself occupies states.

The continued fraction, its terminator (the mean of the ``xcheck_conv/2`` coefficients before
the last one used, closed with the square-root tail) and the dipole prefactor follow xspectra 6.7
(``xspectra_utils.f90``: ``green``, ``lastterm``; ``plot_xanes_cross_sections.f90``), so the
uncut cross-section equals xspectra's ``cut_occ_states=.false.`` output (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amorphxas.core.errors import EngineError

RY_EV = 13.605693122994  # eV per Rydberg (CODATA 2018, as QE's rytoev)
CORE_LEVEL_EV = 1839.0  # Si 1s binding energy xspectra uses for the photon energy (X-ray data booklet)
FINE_STEP_EV = 0.004  # sampling of the eta-broadened spectral function (eV)
# Chains are kept, and evaluated, at float32 precision: this moved spectra by < 1e-6 of their
# maximum (six chains of two sites, measured in session 5) and halves their storage in the dataset.
CHAIN_PRECISION = np.float32


def _at_chain_precision(values) -> np.ndarray:
    return np.asarray(values, dtype=CHAIN_PRECISION).astype(float)


@dataclass(frozen=True)
class LanczosChains:
    """Lanczos chains of one polarisation: ``a``, ``b`` (n_k, n_max) in Ry, ``norm`` (n_k,),
    ``steps`` (n_k,) coefficients computed per k-point; k-points weigh equally (xspectra's
    unreduced Monkhorst-Pack mesh)."""

    a: np.ndarray
    b: np.ndarray
    norm: np.ndarray
    steps: np.ndarray
    check_conv: int = 50

    def truncated(self, steps: int) -> LanczosChains:
        """The chains as they were after ``steps`` Lanczos iterations (the first coefficients do
        not depend on where a chain stops)."""
        return LanczosChains(self.a, self.b, self.norm, np.minimum(self.steps, steps),
                             self.check_conv)

    def kpoints(self, indices) -> LanczosChains:
        """The chains of the k-points ``indices`` only (the spectrum of that k-sampling)."""
        indices = list(indices)
        return LanczosChains(self.a[indices], self.b[indices], self.norm[indices],
                             self.steps[indices], self.check_conv)


def join_kpoints(parts: list[LanczosChains]) -> LanczosChains:
    """One set of chains from runs over different k-points (same polarisation), in order;
    coefficient arrays are zero-padded to the longest run's width."""
    if not parts or len({p.check_conv for p in parts}) != 1:
        raise EngineError("join_kpoints needs at least one run, all with the same xcheck_conv")
    width = max(p.a.shape[1] for p in parts)

    def padded(x):
        return np.pad(x, ((0, 0), (0, width - x.shape[1])))

    return LanczosChains(np.concatenate([padded(p.a) for p in parts]),
                         np.concatenate([padded(p.b) for p in parts]),
                         np.concatenate([p.norm for p in parts]),
                         np.concatenate([p.steps for p in parts]), parts[0].check_conv)


def read_save_file(path: Path, check_conv: int = 50) -> LanczosChains:
    """Read an xspectra 6.7 ``x_save_file`` (version 2, ``xanes_dipole``, one spin)."""
    path = Path(path)
    try:
        lines = path.read_text().split("\n")
        if "save_file_version=       2" not in lines[0] or "xanes_dipole" not in lines[1]:
            raise ValueError("not a version-2 xanes_dipole save file")
        n_k, n_max = int(lines[7].split()[1]), int(lines[8].split()[0])
        norm = _at_chain_precision(np.array(lines[12].split(), dtype=float))
        steps = np.array(lines[13].split(), dtype=int)
        a = _at_chain_precision(np.array(lines[14].split(), dtype=float).reshape(n_k, n_max))
        b = _at_chain_precision(np.array(lines[15].split(), dtype=float).reshape(n_k, n_max))
    except (OSError, IndexError, ValueError) as exc:
        raise EngineError(f"{path}: cannot read the Lanczos chains ({exc})") from None
    if norm.shape != (n_k,) or steps.shape != (n_k,) or steps.min() < 2 or steps.max() > n_max:
        raise EngineError(f"{path}: inconsistent Lanczos chain lengths {steps.tolist()}")
    if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(norm).all()):
        raise EngineError(f"{path}: non-finite Lanczos coefficients")
    return LanczosChains(a, b, norm, steps, check_conv)


def green(chains: LanczosChains, z: np.ndarray) -> np.ndarray:
    """xspectra's ``green`` for every k-point at complex energies ``z`` (Ry): (n_k, len(z))."""
    z = np.asarray(z, dtype=complex)
    out = np.empty((len(chains.steps), z.size), dtype=complex)
    q = chains.check_conv // 2
    for k, n in enumerate(chains.steps):
        m = int(n) - 1  # xspectra passes ncalcv - 1
        a, b = chains.a[k], chains.b[k]
        # xspectra averages a(m-1..m-q), 1-based
        a_inf = a[m - 2 - np.arange(q)].mean() if m > q + 1 else a[:m].mean()
        b_inf = b[m - 2 - np.arange(q)].mean() if m > q + 1 else b[:m].mean()
        # terminator: the root t of t = (a_inf - z) - b_inf^2 / t on the retarded branch
        w = a_inf - z
        root = np.sqrt(w * w - 4 * b_inf * b_inf)
        t = np.where(((w - root) / 2).imag < 0, (w - root) / 2, (w + root) / 2)
        res = t
        for i in range(1, m):
            res = a[m - i - 1] - z - b[m - i - 1] ** 2 / res
        out[k] = 1.0 / res
    return out


def _spectral(chains: LanczosChains, energy_abs: np.ndarray, width: float) -> np.ndarray:
    """k-averaged (1/pi) Im green at absolute energies (eV) broadened by ``width`` (eV)."""
    z = (energy_abs + 1j * width) / RY_EV
    return np.mean(chains.norm[:, None] ** 2 * green(chains, z).imag, axis=0) / np.pi


def _prefactor(energy_abs_ev: np.ndarray) -> np.ndarray:
    # xspectra: alpha2 = 4 pi / 137.04 times the photon energy (Ry), k weights summing to 2 and
    # the spectral function as Im(green) (pi times the (1/pi) Im used here)
    return 2 * np.pi * 4 * np.pi / 137.04 * (energy_abs_ev + CORE_LEVEL_EV) / RY_EV


def cross_section(chains: LanczosChains, energy: np.ndarray, xe0: float, gamma: float,
                  occupied_width: float | None = None, eta: float = 0.02) -> np.ndarray:
    """Dipole cross-section on ``energy`` (eV relative to ``xe0``, the Fermi level in eV),
    raw Lorentzian HWHM ``gamma`` (eV): xspectra's units, k-averaged.

    ``occupied_width`` None: no cut (xspectra ``cut_occ_states=.false.``). Otherwise states are
    weighted by 1 - f, f a Fermi-Dirac function of width ``occupied_width`` (eV) at ``xe0``,
    applied to the spectral function broadened by ``eta`` (eV) before the remaining
    ``gamma - eta`` of Lorentzian width is added.
    """
    energy = np.asarray(energy, dtype=float)
    if occupied_width is None:
        return _spectral(chains, energy + xe0, gamma) * _prefactor(energy + xe0)
    if not 0 < eta < gamma or occupied_width <= 0:
        raise ValueError("need 0 < eta < gamma and occupied_width > 0 (eV)")
    fine = np.arange(energy[0] - 10 * gamma, energy[-1] + 10 * gamma, FINE_STEP_EV)
    spectral = _spectral(chains, fine + xe0, eta)
    empty = 0.5 * (1 + np.tanh(fine / (2 * occupied_width)))
    width = gamma - eta
    out = np.empty(energy.size)
    weights = spectral * empty * FINE_STEP_EV
    for start in range(0, energy.size, 256):
        rows = energy[start:start + 256, None]
        out[start:start + 256] = (width / np.pi / ((rows - fine) ** 2 + width ** 2)) @ weights
    return out * _prefactor(energy + xe0)


def chains_as_arrays(chains: list[LanczosChains]) -> dict[str, np.ndarray]:
    """The chains of all polarisations as dataset arrays: ``lanczos_a``/``lanczos_b``
    (n_pol, n_k, max steps) Ry, ``lanczos_norm`` and ``lanczos_steps`` (n_pol, n_k); float
    arrays at :data:`CHAIN_PRECISION`."""
    width = int(max(c.steps.max() for c in chains))
    return {"lanczos_a": np.stack([c.a[:, :width] for c in chains]).astype(CHAIN_PRECISION),
            "lanczos_b": np.stack([c.b[:, :width] for c in chains]).astype(CHAIN_PRECISION),
            "lanczos_norm": np.stack([c.norm for c in chains]).astype(CHAIN_PRECISION),
            "lanczos_steps": np.stack([c.steps for c in chains]).astype(np.int32)}


def chains_from_arrays(arrays, check_conv: int = 50) -> list[LanczosChains]:
    """Inverse of :func:`chains_as_arrays` (any mapping of those four arrays, e.g. an HDF5 group)."""
    a, b = _at_chain_precision(arrays["lanczos_a"]), _at_chain_precision(arrays["lanczos_b"])
    norm, steps = _at_chain_precision(arrays["lanczos_norm"]), np.asarray(arrays["lanczos_steps"])
    return [LanczosChains(a[i], b[i], norm[i], steps[i], check_conv) for i in range(len(a))]
