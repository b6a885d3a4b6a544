"""DFT results into and out of a dataset: site spectra, crystal references, the protocol stamp,
failures, Bader charges, and the stored raw data (Lanczos chains) a re-evaluation reads back.

The DFT engine (:mod:`amorphxas.spectra`) hands plain values in (arrays, dicts, the JSON form of
its settings), so this module knows the file layout (:mod:`amorphxas.dataset.store`) and nothing
of how a spectrum was computed. Every write is one :func:`amorphxas.dataset.store.transaction`
(all or nothing). What is read back (the alignment constant, the stored protocol, the
pseudopotentials) comes from :class:`amorphxas.dataset.Dataset`'s accessors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.core.spectrum import COMMON_GRID, Broadening
from amorphxas.dataset import store
from amorphxas.dataset.file import Dataset
from amorphxas.dataset.text import as_texts, json_attr

ALIGNMENT_REFERENCE = "alpha-quartz main peak (broadened) at 1846.8 eV"
BADER_METHOD = ("pybader near-grid on the PAW all-electron valence+core density, integrating the "
                "all-electron valence density")


@dataclass
class SiteRecord:
    """One finished site as stored: its broadened, aligned spectrum on :data:`COMMON_GRID` and
    its raw data.

    ``intensity`` (n_energy,) xspectra units; ``edge_energy`` eV; ``raw_energy`` (m,) eV on the
    pre-constant scale; ``raw_sigma`` (n_pol, m); ``attrs`` the provenance (JSON-able);
    ``raw_extra`` further raw arrays (the Lanczos chains) or None; ``fidelity`` the row's label."""

    cell_id: str
    atom_index: int
    intensity: np.ndarray
    edge_energy: float
    raw_energy: np.ndarray
    raw_sigma: np.ndarray
    attrs: dict[str, Any]
    raw_extra: dict[str, np.ndarray] | None = None
    fidelity: str | None = None


@dataclass
class Stamp:
    """What the ``/spectra`` group records of the protocol: the engine, the DFT settings (their
    JSON dict), the broadening and the pseudopotential hashes."""

    engine: str
    settings: dict[str, Any]
    broadening: Broadening
    pseudopotentials: dict[str, str] = field(default_factory=dict)


@dataclass
class StoredRaw:
    """A stored site's or reference's raw data: the raw group's attributes (core-hole SCF
    results, provenance; as h5py returns them), its raw energy grid (m,) eV and its further arrays
    (``lanczos_a``... for the "fermi" cut)."""

    attrs: dict[str, Any]
    energy: np.ndarray
    arrays: dict[str, np.ndarray]


def _check_broadening(dataset: Path, stored: dict | None, broadening: Broadening) -> None:
    if stored and Broadening(**stored) != broadening:
        raise DatasetError(f"{dataset}: its spectra are broadened with {stored}, not "
                           f"{broadening.as_dict()}; one dataset holds one broadening")


def check_broadening(dataset: str | Path | Dataset, broadening: Broadening) -> None:
    """One dataset holds one broadening: refuse ``broadening`` if its spectra have another."""
    _check_broadening(Path(dataset), Dataset.open(dataset).broadening(), broadening)


def _stamp(h5: h5py.File, stamp: Stamp) -> None:
    spectra = h5["spectra"]
    spectra.attrs["engine"] = stamp.engine
    spectra.attrs["settings"] = json.dumps(stamp.settings)
    spectra.attrs["broadening"] = json.dumps(stamp.broadening.as_dict())
    spectra.attrs["pseudopotentials"] = json.dumps(stamp.pseudopotentials)
    spectra.attrs["raw_energy_scale"] = ("E_xspectra + xe0 + (E_total(core hole) - E_total(ground "
                                         "state)), eV; add alignment_constant_eV for the absolute scale")
    spectra.attrs["intensity_units"] = "xspectra cross-section, broadened, not normalised"
    spectra.attrs["edge_definition"] = "first crossing of half the maximum of the broadened spectrum"


def write_sites(dataset: str | Path, records: list[SiteRecord], stamp: Stamp) -> None:
    """Store finished sites and stamp the protocol, in one transaction (all or none); refused if
    the dataset's spectra have another broadening than ``stamp.broadening``."""
    dataset = Path(dataset)
    with store.transaction(dataset) as h5:
        _check_broadening(dataset, json_attr(h5["spectra"].attrs, "broadening"), stamp.broadening)
        for r in records:
            store.add_spectrum(h5, r.cell_id, r.atom_index, r.intensity, r.edge_energy,
                               r.raw_energy, r.raw_sigma, r.attrs, r.raw_extra, fidelity=r.fidelity)
        _stamp(h5, stamp)


def write_reference(dataset: str | Path, name: str, intensity: np.ndarray, raw_energy: np.ndarray,
                    raw_sigma: np.ndarray, attrs: dict[str, Any],
                    raw_extra: dict[str, np.ndarray] | None, broadening: Broadening,
                    constant: float | None = None) -> None:
    """Store (or replace) crystal reference ``name`` (``intensity`` on :data:`COMMON_GRID`) and
    record the dataset's broadening; ``constant`` (eV, given for alpha-quartz) becomes the
    dataset's alignment constant."""
    dataset = Path(dataset)
    with store.transaction(dataset) as h5:
        _check_broadening(dataset, json_attr(h5["spectra"].attrs, "broadening"), broadening)
        h5["spectra"].attrs["broadening"] = json.dumps(broadening.as_dict())
        if constant is not None:
            h5["spectra"].attrs["alignment_constant_eV"] = constant
            h5["spectra"].attrs["alignment_reference"] = ALIGNMENT_REFERENCE
        store.put_reference(h5, name, COMMON_GRID, intensity, raw_energy, raw_sigma, attrs,
                            raw_extra)


def record_failure(dataset: str | Path, cell_id: str, atom_index: int, error: str, log: str) -> int:
    """Record a failed site (its error and log path); returns the number of attempts so far."""
    with store.transaction(dataset) as h5:
        return store.record_failure(h5, cell_id, atom_index, error, log)


def cells_without_bader(dataset: str | Path, cells: list[str] | None = None,
                        with_spectra_only: bool = True) -> list[str]:
    """Cells (of ``cells``, default all) with no Bader charges yet, sorted; with
    ``with_spectra_only`` only those that have site spectra."""
    with h5py.File(dataset, "r") as h5:
        with_spectra = set(as_texts(h5["spectra/cell_id"][()]))
        return [c for c in sorted(h5["sites"])
                if (cells is None or c in cells) and (c in with_spectra or not with_spectra_only)
                and np.all(np.isnan(h5["sites"][c]["bader_charge"][()]))]


def write_bader(dataset: str | Path, cell_id: str, charges: np.ndarray,
                method: str = BADER_METHOD) -> None:
    """Store the Bader charges of the cell's Si sites from ``charges`` (e, one per atom of the
    cell, shape (n_atoms,)) and their sum (should be ~0) in the cell's attributes."""
    charges = np.asarray(charges, dtype=float)
    with store.transaction(dataset) as h5:
        group = h5["sites"][cell_id]
        group["bader_charge"][...] = charges[group["atom_index"][()]]
        group.attrs["bader_total_charge"] = float(charges.sum())
        group.attrs["bader_method"] = method


def _raw(group: h5py.Group, raw: h5py.Group) -> StoredRaw:
    arrays = {name: raw[name][()] for name in raw if name not in ("energy", "sigma")}
    return StoredRaw(dict(group.attrs), raw["energy"][()], arrays)


def read_site_raw(dataset: str | Path, key: str) -> StoredRaw:
    """The stored raw data of site ``key`` (``<cell_id>:<atom_index>``)."""
    with h5py.File(dataset, "r") as h5:
        if key not in h5["spectra/raw"]:
            raise DatasetError(f"{dataset}: no spectrum {key}")
        raw = h5["spectra/raw"][key]
        return _raw(raw, raw)


@dataclass
class StoredResults:
    """Everything a re-evaluation reads of a dataset: pseudopotential hashes, the alignment
    attributes, references (alpha-quartz first) and sites (in row order) by key."""

    pseudopotentials: dict[str, str]
    alignment: dict[str, Any]
    references: dict[str, StoredRaw]
    sites: dict[str, StoredRaw]


def read_results(dataset: str | Path) -> StoredResults:
    """The raw data of every reference and site of ``dataset`` (see :class:`StoredResults`)."""
    with h5py.File(dataset, "r") as h5:
        spectra = h5["spectra"]
        alignment = {name: spectra.attrs[name] for name in
                     ("alignment_constant_eV", "alignment_reference") if name in spectra.attrs}
        references = {name: _raw(group, group["raw"]) for name, group in
                      sorted(h5["references"].items(), key=lambda item: item[0] != "alpha-quartz")}
        keys = [store.site_key(c, i)
                for c, i in zip(as_texts(spectra["cell_id"][()]), spectra["atom_index"][()])]
        sites = {key: _raw(spectra["raw"][key], spectra["raw"][key]) for key in keys}
        return StoredResults(json_attr(spectra.attrs, "pseudopotentials", {}), alignment,
                             references, sites)


def set_alignment(dataset: str | Path, alignment: dict[str, Any]) -> None:
    """Set the ``/spectra`` alignment attributes (``alignment_constant_eV``, ...)."""
    with store.transaction(dataset) as h5:
        h5["spectra"].attrs.update(alignment)
