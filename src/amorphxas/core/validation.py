"""Input validation shared by every stage: arrays in, one-line errors out.

Two helpers, both built on scikit-learn's :func:`sklearn.utils.check_array` (conversion to
float64, refusal of strings, complex numbers and ragged lists, fast NaN/inf check):

* :func:`check_matrix` - a numeric array of a given number of dimensions (descriptor rows
  (n_sites, n_features), spectra (n_sites, n_energy), ...), optionally with a fixed number of
  columns; a single row can be promoted to (1, n).
* :func:`check_spectrum` - one spectrum, or a stack of spectra on one energy axis: energy (m,) in
  eV, strictly increasing, and intensity (m,) (or (..., m) with ``stacked=True``).

A failure is one line naming ``source`` (a file, when given), ``what`` (the argument) and what
is wrong; it is raised as ``error``, an :class:`~amorphxas.core.errors.AmorphxasError` subclass
(default :class:`~amorphxas.core.errors.InputError`), so each stage keeps its own error type.
scikit-learn's own messages are multi-line and do not say where the bad value is; this module
says how many values are bad and where the first one sits.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array

from amorphxas.core.errors import AmorphxasError, InputError


def _where(source) -> str:
    return f"{source}: " if source not in (None, "") else ""


def _first_bad(A: np.ndarray) -> str:
    """'first in row r' (2-D and more) or 'first at index i' (1-D) of the first NaN/inf."""
    first = np.argwhere(~np.isfinite(A))[0]
    return f"first in row {int(first[0])}" if A.ndim > 1 else f"first at index {int(first[0])}"


def _as_float(A, what: str, source, error: type[AmorphxasError]) -> np.ndarray:
    """float64 array of any shape with only finite values (check_array), else a one-line error."""
    try:
        return check_array(A, dtype=np.float64, ensure_2d=False, allow_nd=True,
                           ensure_all_finite=True, ensure_min_samples=0, ensure_min_features=0,
                           input_name=what)
    except (TypeError, ValueError) as exc:
        try:  # complex input is "not numeric" here, never silently cast to its real part
            values = np.asarray(A)
            values = None if values.dtype.kind == "c" else values.astype(np.float64)
        except (TypeError, ValueError):
            values = None
        if values is not None and values.size and not np.all(np.isfinite(values)):
            bad = int(np.sum(~np.isfinite(values)))
            raise error(f"{_where(source)}{what}: {bad} NaN or infinite value(s), "
                        f"{_first_bad(values)}") from None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{_where(source)}{what}: not a numeric array ({reason})") from None


def check_matrix(A, what: str, *, ndim: int = 2, n_columns: int | None = None,
                 columns: str = "columns", hint: str = "", promote_1d: bool = False,
                 source: str | None = None,
                 error: type[AmorphxasError] = InputError) -> np.ndarray:
    """``A`` as a float64 array of ``ndim`` dimensions, not empty, every value finite.

    ``n_columns``: required size of the last axis (named ``columns``, e.g. "energy points",
    explained by ``hint``, e.g. " (COMMON_GRID)"). ``promote_1d``: a 1-D input is one row
    (1, n). Raises ``error`` with one line, e.g. ``descriptors X: 2 NaN or infinite value(s),
    first in row 3`` or ``model input: needs 256 energy points per row (COMMON_GRID), got shape
    (4, 100)``.
    """
    A = _as_float(A, what, source, error)
    if promote_1d and A.ndim == 1 and ndim == 2:
        A = A[None, :]
    where = _where(source)
    if A.ndim != ndim:
        raise error(f"{where}{what}: expected a {ndim}-D array, got shape {A.shape}")
    if A.size == 0:
        raise error(f"{where}{what}: empty array (shape {A.shape})")
    if n_columns is not None and A.shape[-1] != n_columns:
        raise error(f"{where}{what}: needs {n_columns} {columns} per row{hint}, got shape {A.shape}")
    return A


def check_same_rows(A: np.ndarray, B: np.ndarray, what_a: str, what_b: str, *,
                    source: str | None = None, error: type[AmorphxasError] = InputError) -> None:
    """Refuse (one line) two arrays that do not have one row per sample in both."""
    if A.shape[0] != B.shape[0]:
        raise error(f"{_where(source)}{what_a} have {A.shape[0]} rows but {what_b} have "
                    f"{B.shape[0]}: one row per site in both")


def check_spectrum(energy, intensity, what: str = "spectrum", *, stacked: bool = False,
                   min_points: int = 3, source: str | None = None,
                   error: type[AmorphxasError] = InputError) -> tuple[np.ndarray, np.ndarray]:
    """(energy (m,) eV, intensity (m,)) as float64, finite, energy strictly increasing.

    ``stacked``: intensity may be (..., m), spectra sharing the energy axis. At least
    ``min_points`` points. One-line ``error`` otherwise, e.g. ``spectrum: 256 energies but 100
    intensities`` or ``data.csv: spectrum: energy must be strictly increasing (step 3: 1832 ->
    1831 eV)``.
    """
    where = _where(source)
    energy = _as_float(energy, f"{what} energy", source, error)
    intensity = _as_float(intensity, f"{what} intensity", source, error)
    if energy.ndim != 1 or (intensity.ndim != 1 and not stacked) or intensity.ndim == 0:
        shape = "(m,)" if not stacked else "(..., m)"
        raise error(f"{where}{what}: energy must be 1-D (m,) and intensity {shape}, got shapes "
                    f"{energy.shape} and {intensity.shape}")
    if intensity.shape[-1] != energy.size:
        raise error(f"{where}{what}: {energy.size} energies but {intensity.shape[-1]} intensities")
    if energy.size < min_points:
        raise error(f"{where}{what} has {energy.size} points; at least {min_points} are needed")
    steps = np.diff(energy)
    if not np.all(steps > 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise error(f"{where}{what}: energy must be strictly increasing (step {k}: "
                    f"{energy[k]:g} -> {energy[k + 1]:g} eV)")
    return energy, intensity
