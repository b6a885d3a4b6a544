"""Shared base of all Si-site descriptors: one interface, validated input, JSON-able parameters."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import numpy as np
from ase import Atoms

from amorphxas.core.errors import StructureError
from amorphxas.structures.io import validate_structure

SPECIES = ("Si", "O")
PRESETS = ("study1", "fast")
#: atoms per A^3 below which a cell is refused as mostly vacuum: 1/660 of amorphous SiO2's 0.066
#: (a slab with 95 % vacuum passes); the site descriptors of such a cell describe empty space,
#: and its periodic extension is what makes DScribe's cell list explode (issue: 1 Si in 1e5 A)
MIN_NUMBER_DENSITY = 1e-4


def si_indices(atoms: Atoms) -> np.ndarray:
    """Indices of the Si atoms (the centres), in atom order."""
    return np.flatnonzero(np.asarray(atoms.get_chemical_symbols()) == "Si").astype(int)


def check_structure(atoms: Atoms, source: str = "structure") -> Atoms:
    """Validate a structure for description: only Si/O, at least one Si, 3D periodic, no overlaps.

    Also refuses a cell with fewer than :data:`MIN_NUMBER_DENSITY` atoms per A^3 (vacuum).
    Raises a one-line :class:`StructureError` otherwise (never returns a silent zero row).
    """
    validate_structure(atoms, source=source)
    volume = abs(float(np.linalg.det(np.asarray(atoms.cell, dtype=float))))
    density = len(atoms) / volume
    if density < MIN_NUMBER_DENSITY:
        raise StructureError(
            f"{source}: {len(atoms)} atoms in {volume:.3g} A^3 ({density:.2g} atoms/A^3, below "
            f"{MIN_NUMBER_DENSITY:g}; amorphous SiO2 has 0.066): the cell is mostly vacuum")
    return atoms


def check_centres(atoms: Atoms, centres, source: str = "structure") -> np.ndarray:
    """Centres as an int array; ``None`` means all Si atoms. Every centre must be a Si atom."""
    if centres is None:
        return si_indices(atoms)
    centres = np.asarray(centres)
    if centres.ndim != 1 or (centres.size and centres.dtype.kind not in "iu"):
        raise StructureError(f"{source}: centres must be a 1-D list of atom indices")
    centres = centres.astype(int)
    if centres.size and (centres.min() < 0 or centres.max() >= len(atoms)):
        raise StructureError(f"{source}: centre index out of range 0..{len(atoms) - 1}")
    symbols = np.asarray(atoms.get_chemical_symbols())
    bad = centres[symbols[centres] != "Si"] if centres.size else centres
    if bad.size:
        raise StructureError(
            f"{source}: centre {int(bad[0])} is {symbols[bad[0]]}, not Si (descriptors are Si-centred)"
        )
    return centres


class Descriptor:
    """Base class: subclasses set ``kind``, build ``params`` from a preset and implement
    :meth:`_compute_one` (one periodic cell, given Si centres -> (n_centre, n_features))."""

    kind: str = ""
    backend: str = ""
    #: centres per backend call (None: all at once). Chunks are spatially compact (centres sorted
    #: by fractional coordinates), which bounds the backend's extended-system memory in large
    #: cells (measured in docs/descriptors.md); results do not depend on it (tested)
    site_chunk: int | None = None

    def __init__(self, preset: str = "study1", **overrides):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        self.preset = preset
        params = dict(self.preset_params(preset))
        unknown = set(overrides) - set(params)
        if unknown:
            raise ValueError(f"{self.kind}: unknown parameter(s) {sorted(unknown)}")
        params.update(overrides)
        self.params = params
        self._setup()

    # -- to override -------------------------------------------------------------------------
    @classmethod
    def preset_params(cls, preset: str) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _setup(self) -> None:
        """Build backend objects from ``self.params``."""

    @property
    def n_features(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute_one(self, atoms: Atoms, centres: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    def parameters(self) -> dict:
        """JSON-serialisable description stored with every result."""
        return {"kind": self.kind, "preset": self.preset, "backend": self.backend,
                "species": list(SPECIES), "n_features": int(self.n_features),
                "params": json.loads(json.dumps(self.params))}

    def estimate_memory(self, atoms: Atoms, n_centres: int) -> float:
        """Peak bytes of :meth:`compute` for ``n_centres`` sites of ``atoms`` (before computing).

        The float64 result (n_centres x n_features x 8 B), four chunk-sized copies (the backend's
        output and its work arrays) and the backend's own working set (:meth:`_backend_bytes`:
        e.g. DScribe's cell list of the periodically extended cell, LAMMPS' per-atom arrays).
        Measured against the peak RSS in docs/descriptors.md.
        """
        n_chunk = min(int(n_centres), self.site_chunk or int(n_centres))
        out = float(n_centres) * self.n_features * 8
        return out + 4.0 * n_chunk * self.n_features * 8 + self._backend_bytes(atoms, n_chunk)

    def _backend_bytes(self, atoms: Atoms, n_chunk: int) -> float:
        """Backend working set (bytes) for one chunk of ``n_chunk`` sites; 0 unless overridden."""
        return 0.0

    def compute(self, structures: Atoms | Sequence[Atoms], centers=None,
                source: str | None = None) -> np.ndarray:
        """Descriptors of the Si ``centers`` of one structure or of a list of structures.

        ``centers``: ``None`` (all Si atoms of each structure), a list of indices (one structure)
        or a list of such lists (one per structure). ``source``: the name used in error messages
        (e.g. the file). Returns a float64 array ``(n_site, n_features)``; rows follow the
        structures, then the given centre order. Before calling the backend, the memory of the
        work is estimated (:meth:`estimate_memory`) and refused above the limit of
        :func:`amorphxas.descriptors.resources.memory_limit` (one-line ``ResourceError``); a
        non-finite value in the result is a one-line ``StructureError``, never a returned NaN.
        """
        from amorphxas.descriptors.resources import check_memory

        if isinstance(structures, Atoms):
            structures, centers = [structures], [centers]
        else:
            structures = list(structures)
            centers = [None] * len(structures) if centers is None else list(centers)
            if len(centers) != len(structures):
                raise ValueError("need one list of centres per structure")
        blocks = []
        for k, (atoms, cen) in enumerate(zip(structures, centers)):
            if len(structures) > 1:
                source_k = f"{source}: structure {k}" if source else f"structure {k}"
            else:
                source_k = source or "structure"
            check_structure(atoms, source_k)
            cen = check_centres(atoms, cen, source_k)
            if cen.size == 0:
                blocks.append(np.zeros((0, self.n_features)))
                continue
            # backends get a bare copy with positions wrapped into the cell: DScribe's ACSF
            # silently returns zeros for a centre outside the cell (found by the periodic test)
            bare = Atoms(numbers=atoms.numbers, positions=atoms.get_positions(wrap=True),
                         cell=np.asarray(atoms.cell), pbc=True)
            check_memory(self.estimate_memory(bare, cen.size),
                         f"{self.kind} ({self.preset}) descriptors of {cen.size} Si sites "
                         f"x {self.n_features} features in a {len(atoms)}-atom cell", source_k)
            out = self._compute_chunked(bare, cen)
            if out.shape != (cen.size, self.n_features):
                raise RuntimeError(f"{self.kind}: backend returned shape {out.shape}, "
                                   f"expected {(cen.size, self.n_features)}")
            finite = np.isfinite(out).all(axis=1)
            if not finite.all():
                row = int(np.flatnonzero(~finite)[0])
                raise StructureError(
                    f"{source_k}: {self.kind} descriptor of Si atom {int(cen[row])} is not finite "
                    f"({int((~finite).sum())} of {cen.size} sites; backend {self.backend})")
            blocks.append(out)
        if len(blocks) == 1:  # no copy: a 10,000-atom qSNAP block is already 1.2 GB
            return blocks[0]
        return np.concatenate(blocks, axis=0) if blocks else np.zeros((0, self.n_features))

    def _compute_chunked(self, atoms: Atoms, centres: np.ndarray) -> np.ndarray:
        chunk = self.site_chunk
        if not chunk or centres.size <= chunk:
            return np.asarray(self._compute_one(atoms, centres), dtype=np.float64)
        frac = atoms.get_scaled_positions(wrap=True)[centres]
        order = np.lexsort((frac[:, 2], frac[:, 1], frac[:, 0]))
        out = np.empty((centres.size, self.n_features))
        for s in range(0, centres.size, chunk):
            rows = order[s:s + chunk]
            out[rows] = np.asarray(self._compute_one(atoms, centres[rows]), dtype=np.float64)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(preset={self.preset!r}, n_features={self.n_features})"


def geomspace_list(start: float, stop: float, n: int) -> list[float]:
    return [float(v) for v in np.geomspace(start, stop, n)]


def linspace_list(start: float, stop: float, n: int) -> list[float]:
    return [float(v) for v in np.linspace(start, stop, n)]


def as_list(values: Iterable) -> list:
    return [v.tolist() if hasattr(v, "tolist") else v for v in values]
