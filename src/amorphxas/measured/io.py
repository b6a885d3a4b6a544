"""Read what beamlines write: column text (CSV/TSV/whitespace), XDI, Athena project files.

Text and XDI files are read with Larch (``larch.io.read_ascii`` / ``read_xdi``), Athena projects
with ``larch.io.read_athena``. mu(E) is taken from the chosen columns (``--columns``):

- ``E,MU``            mu directly (e.g. ``energy,mu`` or ``1,2``, 1-based indices or names);
- ``E,IF/I0``         fluorescence, mu = If / I0;
- ``E,ln(I0/IT)``     transmission, mu = ln(I0 / It).

Without ``columns`` the first column is the energy and the second mu (an XDI/Athena file: its
``mu``, else ``mutrans``/``mufluor``, else the first column after the energy). Energies must be
absolute, in eV; keV or energies relative to E0 are refused, naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError

MIN_POINTS = 20


class MeasuredInputError(AmorphxasError):
    """A measured spectrum file cannot be used (unreadable, bad columns, keV, no Si K edge...)."""


@dataclass
class MeasuredSpectrum:
    """One measured spectrum: energy (n,) eV absolute, increasing; mu (n,) arbitrary units."""

    energy: np.ndarray
    mu: np.ndarray
    source: str
    label: str = ""


def _one_line(exc: Exception) -> str:
    """A library's message on one line, without repeating the file name."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _column(path: Path, labels: list[str], data: np.ndarray, ref: str) -> np.ndarray:
    ref = ref.strip()
    if re.fullmatch(r"\d+", ref):
        k = int(ref) - 1
        if not 0 <= k < data.shape[0]:
            raise MeasuredInputError(f"{path}: column {ref} does not exist ({data.shape[0]} columns)")
        return data[k]
    lower = [lab.lower() for lab in labels]
    if ref.lower() not in lower:
        raise MeasuredInputError(f"{path}: no column named {ref!r} (columns: {', '.join(labels)})")
    return data[lower.index(ref.lower())]


def mu_from_columns(path: Path, labels: list[str], data: np.ndarray,
                    columns: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(energy, mu) from ``data`` (n_columns, n_rows) and a ``columns`` spec (module docstring)."""
    if data.ndim != 2 or data.shape[0] < 2:
        raise MeasuredInputError(f"{path}: need at least two columns (energy eV, mu)")
    if columns is None:
        return data[0], data[1]
    parts = columns.split(",", 1)
    if len(parts) != 2:
        raise MeasuredInputError(f"{path}: --columns {columns!r}: give 'ENERGY,MU', 'ENERGY,IF/I0' or "
                                 "'ENERGY,ln(I0/IT)'")
    energy = _column(path, labels, data, parts[0])
    expr = parts[1].strip()
    log = re.fullmatch(r"ln\((.+)/(.+)\)", expr, flags=re.IGNORECASE)
    ratio = re.fullmatch(r"([^/()]+)/([^/()]+)", expr)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            mu = np.log(_column(path, labels, data, log.group(1)) / _column(path, labels, data, log.group(2)))
        elif ratio:
            mu = _column(path, labels, data, ratio.group(1)) / _column(path, labels, data, ratio.group(2))
        else:
            mu = _column(path, labels, data, expr)
    return energy, mu


def _read_text(path: Path) -> tuple[list[str], np.ndarray]:
    from larch.io import read_ascii

    text = path.read_bytes()[:4096].decode("utf-8", errors="replace")
    if text.lstrip("\ufeff").startswith("# XDI"):
        from larch.io import read_xdi

        try:
            group = read_xdi(str(path))
        except Exception as exc:  # larch raises bare ValueError/OSError with no file name
            raise MeasuredInputError(f"{path}: not a readable XDI file ({_one_line(exc)})") from None
        labels = list(group.array_labels)
        return labels, np.asarray(group.data, dtype=float)
    try:
        group = read_ascii(str(path))
    except Exception as exc:
        raise MeasuredInputError(f"{path}: not a readable column file ({_one_line(exc)})") from None
    data = np.asarray(getattr(group, "data", np.zeros((0, 0))), dtype=float)
    if data.ndim != 2 or data.size == 0:
        raise MeasuredInputError(f"{path}: no numeric data rows")
    return list(group.array_labels), data


def _read_athena(path: Path, columns: str | None) -> tuple[list[str], np.ndarray, str]:
    from larch.io import read_athena

    try:
        project = read_athena(str(path), do_preedge=False)
    except Exception as exc:
        raise MeasuredInputError(f"{path}: not a readable Athena project ({_one_line(exc)})") from None
    names = [n for n in dir(project) if not n.startswith("_")]
    groups = [(n, getattr(project, n)) for n in names if hasattr(getattr(project, n), "energy")]
    if not groups:
        raise MeasuredInputError(f"{path}: Athena project holds no spectrum")
    name, group = groups[0]
    labels, arrays = [], []
    for key in ("energy", "mu", "i0", "itrans", "ifluor", "i1", "mutrans", "mufluor"):
        if hasattr(group, key) and np.ndim(getattr(group, key)) == 1:
            labels.append(key)
            arrays.append(np.asarray(getattr(group, key), dtype=float))
    return labels, np.stack(arrays), name


def _decimal_commas(path) -> bool:
    """True if a data line of the text file ``path`` writes its numbers with decimal commas
    (``1830,5;0,12``), which a reader splits into the wrong columns."""
    try:
        text = Path(path).read_bytes()[:8192].decode("utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*-?\d+,\d+(\s*[;\t ]\s*-?\d+,\d+)+\s*$", text, flags=re.MULTILINE) is not None


def check_energy(path, energy: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite, strictly increasing, absolute eV; refuse keV and relative energies (one line naming
    ``path``)."""
    energy = np.asarray(energy, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if energy.size < MIN_POINTS:
        raise MeasuredInputError(f"{path}: {energy.size} data points; at least {MIN_POINTS} are needed")
    if not (np.all(np.isfinite(energy)) and np.all(np.isfinite(mu))):
        bad = int(np.sum(~(np.isfinite(energy) & np.isfinite(mu))))
        raise MeasuredInputError(f"{path}: {bad} rows with NaN or infinite values (in mu: a zero I0 or "
                                 "It?)")
    if not np.all(np.diff(energy) > 0):
        hint = ("; decimal commas? numbers must use '.' as the decimal separator"
                if _decimal_commas(path) else "")
        raise MeasuredInputError(f"{path}: energy column must be strictly increasing{hint}")
    lo, hi = float(energy[0]), float(energy[-1])
    if 0.0 < lo and hi < 10.0:
        raise MeasuredInputError(f"{path}: energies {lo:g}-{hi:g} look like keV; give absolute energies "
                                 "in eV (Si K edge ~1839-1847 eV)")
    if lo < 1000.0:
        raise MeasuredInputError(f"{path}: energies {lo:g}-{hi:g} eV look relative to E0; give absolute "
                                 "energies in eV (Si K edge ~1839-1847 eV)")
    return energy, mu


def read_measured(path: str | Path, columns: str | None = None) -> MeasuredSpectrum:
    """Read one measured spectrum (module docstring): CSV/TSV/whitespace text, XDI, Athena .prj."""
    path = Path(path)
    if not path.is_file():
        raise MeasuredInputError(f"{path}: spectrum file not found")
    head = path.read_bytes()[:64]
    label = ""
    if path.suffix.lower() == ".prj" or head[:2] == b"\x1f\x8b" or b"Athena project" in head:
        labels, data, label = _read_athena(path, columns)
        if columns is None:
            preferred = [lab for lab in ("mu", "mutrans", "mufluor") if lab in labels]
            columns = f"energy,{preferred[0]}" if preferred else None
    else:
        labels, data = _read_text(path)
        if columns is None and "mu" in [lab.lower() for lab in labels] and labels[0].lower() != "mu":
            columns = f"1,{[lab.lower() for lab in labels].index('mu') + 1}"
    energy, mu = mu_from_columns(path, labels, data, columns)
    energy, mu = check_energy(path, energy, mu)
    return MeasuredSpectrum(energy=energy, mu=mu, source=str(path), label=label)
