"""What a dataset holds, as plain numpy arrays in small dataclasses, and the readers that fill
them from an open, validated HDF5 file (:func:`amorphxas.dataset.store.open_valid`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import h5py
import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.dataset.text import as_text, as_texts

PRIMARY = "primary"  # the fidelity of the dataset's own protocol (its ``settings`` attribute)
#: the primary fidelity and its screening subsets (e.g. v4 and gamma: the same SCF, fewer k-points)
WITH_SCREENING = "primary+screening"


@dataclass
class SiteTable:
    """All Si sites of all cells (one row per site); bader_charge is NaN where not computed."""

    cell_id: np.ndarray  # (n_site,) str
    atom_index: np.ndarray  # (n_site,) int
    valence: np.ndarray  # (n_site,) int, number of O neighbours
    motif: np.ndarray  # (n_site,) str, e.g. "SiSi2O2"
    bader_charge: np.ndarray  # (n_site,) e
    rdf: np.ndarray  # (n_site, 256)
    rdf_r: np.ndarray  # (256,) Angstrom
    composition_x: np.ndarray  # (n_site,) O/Si ratio of the cell


@dataclass
class SpectraTable:
    """Site spectra on the common grid (rows aligned with cell_id/atom_index)."""

    energy: np.ndarray  # (n_energy,) eV
    intensity: np.ndarray  # (n_spec, n_energy) xspectra units, broadened, aligned
    edge_energy: np.ndarray  # (n_spec,) eV
    cell_id: np.ndarray  # (n_spec,) str
    atom_index: np.ndarray  # (n_spec,) int
    attrs: dict = field(default_factory=dict)
    fidelity: np.ndarray | None = None  # (n_spec,) str, protocol of each row ("v4", "gamma", ...)

    def rows(self, keep: np.ndarray) -> SpectraTable:
        """The table restricted to the rows ``keep`` (indices or a boolean mask)."""
        return SpectraTable(energy=self.energy, intensity=self.intensity[keep],
                            edge_energy=self.edge_energy[keep], cell_id=self.cell_id[keep],
                            atom_index=self.atom_index[keep], attrs=self.attrs,
                            fidelity=None if self.fidelity is None else self.fidelity[keep])


@dataclass
class Reference:
    """A crystal reference spectrum (e.g. ``alpha-quartz``): energy (n,) eV, intensity (n,)."""

    name: str
    energy: np.ndarray
    intensity: np.ndarray
    attrs: dict = field(default_factory=dict)


def read_sites(h5: h5py.File) -> SiteTable:
    """All per-site rows of an open dataset, cells in sorted order."""
    parts: dict[str, list] = {k: [] for k in SiteTable.__dataclass_fields__}
    rdf_r = np.zeros(0)
    for cell_id in sorted(h5["sites"]):
        group = h5["sites"][cell_id]
        n = group["atom_index"].shape[0]
        parts["cell_id"].append(np.array([cell_id] * n, dtype=object))
        parts["atom_index"].append(group["atom_index"][()])
        parts["valence"].append(group["valence"][()])
        parts["motif"].append(as_texts(group["motif"][()]))
        parts["bader_charge"].append(
            group["bader_charge"][()] if "bader_charge" in group else np.full(n, np.nan)
        )
        parts["rdf"].append(group["rdf"][()])
        rdf_r = group["rdf_r"][()]
        x = float(h5["structures"][cell_id].attrs.get("composition_x", np.nan))
        parts["composition_x"].append(np.full(n, x))
    if not parts["cell_id"]:
        return SiteTable(np.zeros(0, object), np.zeros(0, int), np.zeros(0, int),
                         np.zeros(0, object), np.zeros(0), np.zeros((0, 256)), rdf_r, np.zeros(0))
    merged = {k: np.concatenate(v) for k, v in parts.items() if k != "rdf_r"}
    return SiteTable(rdf_r=rdf_r, **merged)


def read_spectra(h5: h5py.File) -> tuple[SpectraTable, str]:
    """Every row of ``/spectra`` of an open dataset (with each row's fidelity label), and the
    fidelity of the dataset's own protocol (:func:`amorphxas.dataset.fidelity.settings_fidelity`)."""
    from amorphxas.dataset.fidelity import settings_fidelity, stored_fidelity

    spectra = h5["spectra"]
    table = SpectraTable(
        energy=spectra["energy"][()],
        intensity=spectra["intensity"][()],
        edge_energy=spectra["edge_energy"][()],
        cell_id=as_texts(spectra["cell_id"][()]),
        atom_index=spectra["atom_index"][()],
        attrs={k: as_text(v) for k, v in spectra.attrs.items()},
        fidelity=stored_fidelity(spectra),
    )
    return table, settings_fidelity(spectra)


def select_fidelity(table: SpectraTable, primary: str,
                    fidelity: str | Sequence[str] | None = PRIMARY) -> SpectraTable:
    """The rows of ``table`` (all rows, from :func:`read_spectra`) of the chosen fidelity:
    "primary" = ``primary`` (the dataset's own protocol); "primary+screening" = it and its
    screening subsets (:data:`~amorphxas.dataset.fidelity.SCREENING_OF`); a label or a list of
    labels; None = all."""
    from amorphxas.dataset.fidelity import SCREENING_OF, UNKNOWN

    labels = table.fidelity
    if fidelity is None:
        return table.rows(np.arange(labels.size))
    if fidelity == PRIMARY:
        wanted = {primary}
    elif fidelity == WITH_SCREENING:
        wanted = {primary, *SCREENING_OF.get(primary, ())}
    else:
        wanted = {fidelity} if isinstance(fidelity, str) else set(fidelity)
    keep = np.ones(labels.size, bool) if wanted == {UNKNOWN} else np.isin(labels, list(wanted))
    return table.rows(np.flatnonzero(keep))


def read_references(h5: h5py.File) -> dict[str, Reference]:
    """Every crystal reference of an open dataset (energy, intensity, attributes; not the raw data)."""
    return {name: Reference(name, group["energy"][()], group["intensity"][()],
                            {k: as_text(v) for k, v in group.attrs.items()})
            for name, group in h5["references"].items()}


def read_structure(h5: h5py.File, cell_id: str, path=""):
    """One stored cell of an open dataset as an ``ase.Atoms`` (positions, cell in Angstrom)."""
    from ase import Atoms

    if cell_id not in h5["structures"]:
        raise DatasetError(f"{path}: no cell {cell_id!r} in /structures")
    group = h5["structures"][cell_id]
    return Atoms(numbers=group["numbers"][()], positions=group["positions"][()],
                 cell=group["cell"][()], pbc=group["pbc"][()])


def structures_sha256(h5: h5py.File, cell_ids: Sequence[str] | None = None) -> str:
    """SHA-256 of the stored cells ``cell_ids`` (default: all, sorted) of an open dataset: id,
    atomic numbers, positions, cell and pbc of each (the key of a descriptor block)."""
    digest = hashlib.sha256()
    group = h5["structures"]
    for cell_id in sorted(group) if cell_ids is None else cell_ids:
        cell = group[cell_id]
        digest.update(str(cell_id).encode() + b"\0")
        for name, dtype in (("numbers", "<i8"), ("positions", "<f8"), ("cell", "<f8"),
                            ("pbc", "|b1")):
            digest.update(np.ascontiguousarray(cell[name][()], dtype=dtype).tobytes())
    return digest.hexdigest()


def spectrum_site_rows(sites: SiteTable, spectra: SpectraTable) -> np.ndarray:
    """Row of ``sites`` for each spectrum row (-1 where the site table lacks it), shape (n_spec,)."""
    row = {(c, int(i)): k for k, (c, i) in enumerate(zip(sites.cell_id, sites.atom_index))}
    return np.array([row.get((c, int(i)), -1) for c, i in zip(spectra.cell_id, spectra.atom_index)],
                    dtype=int)
