"""Structure I/O and validation: any ASE-readable file in, extended XYZ (with provenance) out."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from amorphxas.core.errors import StructureError

ALLOWED_ELEMENTS = ("Si", "O")
MIN_DISTANCE = 0.9  # Angstrom: closer than this, two atoms overlap


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_structure(path) -> Atoms:
    """Read the (last) structure in any ASE-readable file and validate it.

    Raises :class:`StructureError` (one line naming the file and the problem) if the file cannot be
    read or the structure is not a periodic Si/O cell without overlapping atoms.
    """
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise StructureError(f"{path}: file not found")
    if path.is_dir():
        raise StructureError(f"{path}: is a directory, not a structure file")
    try:
        atoms = _read_without_bom(path, read)
    except Exception as exc:  # noqa: BLE001 - ASE raises many exception types for bad files
        hint = ""
        if re.search(r"\d,\d", str(exc)):
            hint = "; decimal commas? numbers must use '.' as the decimal separator"
        raise StructureError(f"{path}: cannot read structure ({_one_line(exc)}{hint})") from None
    if isinstance(atoms, list):  # defensive: some readers return lists
        if not atoms:
            raise StructureError(f"{path}: contains no structure")
        atoms = atoms[-1]
    validate_structure(atoms, source=str(path))
    return atoms


def _read_without_bom(path: Path, read):
    """ASE's ``read`` of the last frame; a UTF-8 byte-order mark (which ASE's text readers take for
    part of the first line) is dropped first. CRLF line ends need nothing: Python reads them."""
    with open(path, "rb") as handle:
        bom = handle.read(3) == b"\xef\xbb\xbf"
    if not bom:
        return read(str(path))
    from ase.io.formats import filetype

    text = path.read_bytes()[3:].decode("utf-8")
    return read(io.StringIO(text), format=filetype(str(path), read=False), index=-1)


def validate_structure(atoms: Atoms, source: str = "structure") -> Atoms:
    """Check that ``atoms`` is a usable SiOx cell; raise a one-line :class:`StructureError` if not.

    Checks: at least one atom, only Si and O, at least one Si, finite positions, 3D periodic with a
    non-singular cell, and no two atoms closer than 0.9 A (under periodic boundary conditions).
    """
    if not isinstance(atoms, Atoms):
        raise StructureError(f"{source}: not an ase.Atoms object ({type(atoms).__name__})")
    if len(atoms) == 0:
        raise StructureError(f"{source}: contains no atoms")
    symbols = atoms.get_chemical_symbols()
    unknown = sorted(set(symbols) - set(ALLOWED_ELEMENTS))
    if unknown:
        first = symbols.index(unknown[0])
        raise StructureError(
            f"{source}: element(s) {', '.join(unknown)} not supported (only Si and O); "
            f"first at atom {first}"
        )
    if "Si" not in symbols:
        raise StructureError(f"{source}: no Si atom (nothing to analyse)")
    if not np.all(np.isfinite(atoms.positions)):
        raise StructureError(f"{source}: non-finite atomic positions")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if not pbc.all():
        raise StructureError(
            f"{source}: non-periodic cell (pbc={pbc.tolist()}); need 3D periodic boundary conditions"
        )
    cell = np.asarray(atoms.cell, dtype=float)
    volume = abs(float(np.linalg.det(cell))) if cell.shape == (3, 3) else 0.0
    if not np.isfinite(volume) or volume < 1e-6:
        raise StructureError(f"{source}: singular or missing cell (volume {volume:.3g} A^3)")
    if True:  # overlap check under PBC
        i, j, d = neighbor_list("ijd", atoms, MIN_DISTANCE, self_interaction=False)
        # an atom overlapping its own periodic image also shows up (i == j)
        if len(d):
            k = int(np.argmin(d))
            a, b = int(i[k]), int(j[k])
            what = (f"atom {a} ({symbols[a]}) overlaps its own periodic image" if a == b else
                    f"atoms {min(a, b)} ({symbols[min(a, b)]}) and {max(a, b)} "
                    f"({symbols[max(a, b)]}) overlap")
            raise StructureError(
                f"{source}: {what}: {d[k]:.3f} A apart (minimum {MIN_DISTANCE} A)"
            )
    return atoms


def _jsonable(value):
    """Make ``value`` storable in extxyz ``info``: scalars/strings/number lists, dicts as JSON."""
    if isinstance(value, (bool, int, float, str, np.integer, np.floating, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in value
    ) and value:
        return np.asarray(value)
    return json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def write_structure(atoms: Atoms, path) -> Path:
    """Write ``atoms`` as extended XYZ (ASE), keeping its provenance in the comment line.

    Nested provenance values (dicts, mixed lists) are stored as JSON strings so that the file stays
    readable by any extxyz reader; ``json.loads(atoms.info['protocol'])`` recovers them.
    """
    from ase.io import write

    path = Path(path)
    out = atoms.copy()
    out.calc = None
    out.info = {str(k): _jsonable(v) for k, v in atoms.info.items()}
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        write(str(path), out, format="extxyz")
    except Exception as exc:  # noqa: BLE001
        raise StructureError(f"{path}: cannot write structure ({_one_line(exc)})") from None
    return path
