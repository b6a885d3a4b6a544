"""Input side of the inverse models: validation, resampling, normalisation, windows, averaging.

Every spectrum that enters an inverse model, computed or measured, goes through one function,
:func:`preprocess`:

1. resample onto the model grid (``COMMON_GRID``: 1830-1880 eV, 256 points, study 2) by linear
   interpolation; the input must cover the grid points that are used (see :func:`required_range`);
2. subtract the pre-edge level: the mean over ``PRE_EDGE`` (1830-1833 eV, below the Si(0) edge at
   ~1839 eV; ~0 for a computed spectrum, a flat background for a measured one);
3. edge-step normalisation: divide by the mean over ``POST_EDGE`` (1865-1880 eV), as
   :func:`amorphxas.core.spectrum.normalise_edge_step` does.

After this the pre-edge mean is 0 and the post-edge mean is 1, so the operation is idempotent.
It is per spectrum (no dataset-wide factor), which is what lets a measured spectrum in arbitrary
units be fed to a model trained on computed ones. Energy alignment is not guessed: a measured
spectrum must be on the same absolute scale (alpha-quartz main peak at 1846.8 eV, see
docs/spectra.md), or shifted with ``energy_shift``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import COMMON_GRID, normalise_edge_step
from amorphxas.core.validation import check_spectrum as _check_spectrum

PRE_EDGE = (1830.0, 1833.0)  # eV
POST_EDGE = (1865.0, 1880.0)  # eV
FULL_WINDOW = (1830.0, 1880.0)
SUB_WINDOWS = {  # study 2, Fig. 2/5: eight 6.25 eV sub-windows a-h
    "abcdefgh"[k]: (1830.0 + 6.25 * k, 1830.0 + 6.25 * (k + 1)) for k in range(8)
}
BANDS = {"low": (1830.0, 1855.0), "high": (1855.0, 1880.0)}  # study 2, Figs. S5-S6


class InverseInputError(AmorphxasError):
    """A spectrum cannot be used as model input (NaN, wrong length, energy not increasing, range)."""


def window_mask(energy: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """Boolean mask of the grid points with ``e_min <= E <= e_max`` (eV); None = all points."""
    energy = np.asarray(energy, dtype=float)
    if window is None:
        return np.ones(energy.shape, dtype=bool)
    e_min, e_max = float(window[0]), float(window[1])
    if not e_max > e_min:
        raise InverseInputError(f"energy window {window}: upper bound must exceed lower bound")
    eps = 1e-9
    mask = (energy >= e_min - eps) & (energy <= e_max + eps)
    if mask.sum() < 2:
        raise InverseInputError(f"energy window {window} eV holds fewer than 2 grid points")
    return mask


def required_range(window: tuple[float, float] | None = None) -> tuple[float, float]:
    """Energy range (eV) a spectrum must cover: the window plus the pre- and post-edge regions."""
    lo, hi = window if window is not None else FULL_WINDOW
    return min(lo, PRE_EDGE[0]), max(hi, POST_EDGE[1])


def check_spectrum(energy, intensity, source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One spectrum (energy (m,) eV strictly increasing, intensity (m,)), finite, >= 3 points;
    a one-line :class:`InverseInputError` naming ``source`` otherwise
    (:func:`amorphxas.core.validation.check_spectrum`)."""
    return _check_spectrum(energy, intensity, "spectrum", source=source, error=InverseInputError)


def preprocess(energy, intensity, grid: np.ndarray = COMMON_GRID,
               window: tuple[float, float] | None = None, energy_shift: float = 0.0) -> np.ndarray:
    """Resample + pre-edge subtraction + edge-step normalisation of one spectrum (module docstring).

    Returns the normalised spectrum on ``grid`` (all points; the model slices its window).
    Grid points outside the needed range (:func:`required_range`) that the input does not cover
    are set to 0 and are never used by a model of that window.
    """
    energy, intensity = check_spectrum(energy, intensity)
    energy = energy + float(energy_shift)
    grid = np.asarray(grid, dtype=float)
    lo, hi = required_range(window)
    tol = 1e-6
    if energy[0] > lo + tol or energy[-1] < hi - tol:
        raise InverseInputError(
            f"spectrum covers {energy[0]:.2f}-{energy[-1]:.2f} eV; the model needs {lo:.2f}-{hi:.2f} eV "
            f"(window plus pre-edge {PRE_EDGE} and post-edge {POST_EDGE} eV)")
    out = np.interp(grid, energy, intensity, left=0.0, right=0.0)
    pre = window_mask(grid, PRE_EDGE)
    out = out - out[pre].mean()
    try:
        out = normalise_edge_step(grid, out, POST_EDGE)
    except AmorphxasError as exc:
        raise InverseInputError(f"spectrum: {exc}") from None
    return out


def preprocess_rows(energy, intensity, grid: np.ndarray = COMMON_GRID) -> np.ndarray:
    """:func:`preprocess` for every row of ``intensity`` (n, m) sampled on one ``energy`` (m,)."""
    intensity = np.asarray(intensity, dtype=float)
    if intensity.ndim != 2:
        raise InverseInputError("spectra: intensity must be 2-D (n_spectra, n_energy)")
    return np.stack([preprocess(energy, row, grid) for row in intensity]) if len(intensity) else \
        np.zeros((0, np.asarray(grid).size))


def ensemble_average(cell_id, intensity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean site spectrum per cell: the measured-like spectrum of a sample.

    Averages the raw (aligned, un-normalised) site spectra, as a measurement sums absorption over
    all absorbers; normalise afterwards. Returns (cells (k,) sorted, mean (k, m), n_sites (k,)).
    """
    cell_id = np.asarray(cell_id, dtype=object)
    intensity = np.asarray(intensity, dtype=float)
    if intensity.ndim != 2 or intensity.shape[0] != cell_id.size:
        raise InverseInputError("ensemble_average: need one cell id per spectrum row")
    cells = np.array(sorted(set(cell_id.tolist())), dtype=object)
    mean = np.stack([intensity[cell_id == c].mean(axis=0) for c in cells]) if cells.size else \
        np.zeros((0, intensity.shape[1]))
    counts = np.array([int((cell_id == c).sum()) for c in cells], dtype=int)
    return cells, mean, counts


def read_spectrum(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a measured spectrum: two (or more) columns, energy (eV) then mu.

    Accepts comma, semicolon, tab or space separated text; lines starting with ``#`` (XDI and
    Athena headers) and a non-numeric header line are skipped. Extra columns are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise InverseInputError(f"{path}: spectrum file not found")
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(("#", "!", "%")):
            continue
        fields = text.replace(",", " ").replace(";", " ").replace("\t", " ").split()
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not rows:
                continue  # a column-name header line
            raise InverseInputError(f"{path}:{number}: not a number in {text[:40]!r}") from None
        if len(values) < 2:
            raise InverseInputError(f"{path}:{number}: need two columns (energy eV, mu), found one")
        rows.append(values[:2])
    if not rows:
        raise InverseInputError(f"{path}: no data rows (empty file?)")
    data = np.asarray(rows, dtype=float)
    return check_spectrum(data[:, 0], data[:, 1], source=str(path))
