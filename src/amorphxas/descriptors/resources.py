"""Memory estimates of descriptor and prediction work, checked against a limit before computing.

A valid-looking cell can make a backend allocate far more than the machine has: DScribe's ACSF
and SOAP bin the periodically extended cell (27 copies of it when the cell is wider than the
cutoff) into a cell list of cubes of one cutoff, so 1 Si atom in a 1e5 Angstrom box asks for
~1e13 empty bins (tens of GB, then the kernel kills the process with no message). The estimate
here is computed from the cell, the atom count, the cutoff and the feature count before any
backend is called, and :func:`check_memory` refuses work above the limit with one line.

Limit: ``AMORPHXAS_MAX_MEMORY`` (bytes, or with a suffix K, M, G, T: ``8G``, ``512M``) if set,
else half of the RAM available now (``MemAvailable`` of /proc/meminfo).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
from ase import Atoms

from amorphxas.core.errors import ResourceError

ENV = "AMORPHXAS_MAX_MEMORY"
#: bytes per empty bin of DScribe's 3-D ``vector<vector<vector<vector<int>>>>`` cell list
#: (24 B), times the copies measured in its ACSF/SOAP paths (the list is passed by value, and
#: SOAP builds a second one over the extended centres): 3 covers both (docs/descriptors.md)
_BIN_BYTES = 3 * 24
#: bytes per atom of DScribe's extended system (positions, numbers, indices, cell indices)
_EXT_ATOM_BYTES = 3 * 8 + 3 * 4
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def parse_size(text: str) -> int:
    """Bytes of ``text``: a number with an optional K/M/G/T suffix (powers of 1024, ``B`` ok)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGT]?)i?B?\s*",
                         str(text), flags=re.IGNORECASE)
    if not match:
        raise ResourceError(f"{ENV}={text!r}: not a size (use e.g. 8G or 512M)")
    value = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if not math.isfinite(value) or value <= 0:
        raise ResourceError(f"{ENV}={text!r}: must be a positive size (use e.g. 8G or 512M)")
    return int(value)


def available_bytes() -> int:
    """RAM available now (``MemAvailable``), or the physical RAM where /proc is absent."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def memory_limit() -> tuple[int, str]:
    """(limit in bytes, how it was set): ``AMORPHXAS_MAX_MEMORY`` or half the available RAM."""
    env = os.environ.get(ENV)
    if env:
        return parse_size(env), f"{ENV}={env}"
    avail = available_bytes()
    return avail // 2, f"half the available RAM of {format_bytes(avail)}"


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human string (``1.2 GB``, powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"  # pragma: no cover


def check_memory(need: float, what: str, source: str) -> None:
    """Raise a one-line :class:`ResourceError` naming ``source`` and the limit if ``need`` (bytes)
    is above :func:`memory_limit`; nothing is allocated here."""
    limit, how = memory_limit()
    if not math.isfinite(need) or need > limit:
        raise ResourceError(
            f"{source}: {what} would need about {format_bytes(need)}, above the memory limit of "
            f"{format_bytes(limit)} ({how}; set {ENV}, e.g. {ENV}=16G, to change it)")


def dscribe_cell_list_bytes(atoms: Atoms, cutoff: float) -> float:
    """Peak bytes of DScribe's periodic extension plus cell list for ``cutoff`` (Angstrom).

    DScribe (``ext/geometry.cpp``) repeats the cell m_i = ceil(cutoff / h_i) times each way
    along cell vector i (h_i: the distance between the cell's faces), then bins the bounding box
    of the copies into cubes of one cutoff (``ext/celllist.cpp``): every bin costs memory,
    empty or not. Float (may exceed int64) so that absurd cells compare cleanly.
    """
    cell = np.asarray(atoms.cell, dtype=float)
    volume = abs(float(np.linalg.det(cell)))
    heights = np.array([volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3]))
                        for i in range(3)])
    m = np.ceil(cutoff / heights)
    n_ext = len(atoms) * float(np.prod(2 * m + 1))
    pos = atoms.get_positions()
    extent = np.ptp(pos, axis=0) + 2.0 * (m[:, None] * np.abs(cell)).sum(axis=0) + 2e-4
    bins = np.maximum(1.0, np.floor(extent / cutoff))
    n_bins = float(np.prod(bins)) + bins[0] * bins[1] + bins[0]
    return n_bins * _BIN_BYTES + n_ext * _EXT_ATOM_BYTES


def neighbours_per_sphere(atoms: Atoms, r_cut: float) -> float:
    """Mean number of atoms within ``r_cut`` (Angstrom) of a site at the cell's mean density."""
    volume = abs(float(np.linalg.det(np.asarray(atoms.cell, dtype=float))))
    return len(atoms) / volume * 4.0 / 3.0 * math.pi * r_cut ** 3
