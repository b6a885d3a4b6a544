"""Read a dataset into plain numpy arrays; needs only h5py and numpy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from amorphxas.dataset.store import validate


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


def _decode(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def load_sites(path: str | Path) -> SiteTable:
    """All per-site rows of the dataset, cells in sorted order."""
    validate(path)
    parts: dict[str, list] = {k: [] for k in SiteTable.__dataclass_fields__}
    rdf_r = np.zeros(0)
    with h5py.File(path, "r") as h5:
        for cell_id in sorted(h5["sites"]):
            group = h5["sites"][cell_id]
            n = group["atom_index"].shape[0]
            parts["cell_id"].append(np.array([cell_id] * n, dtype=object))
            parts["atom_index"].append(group["atom_index"][()])
            parts["valence"].append(group["valence"][()])
            parts["motif"].append(_decode(group["motif"][()]))
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


PRIMARY = "primary"


def load_spectra(path: str | Path, fidelity: str | Sequence[str] | None = PRIMARY) -> SpectraTable:
    """The site spectra of the dataset on its common energy grid, rows of the chosen fidelity.

    ``fidelity``: "primary" (default) = the dataset's own protocol, named by its ``settings``
    (``v4`` for the embedded dataset; every row of a file written before rows carried a
    fidelity); a label ("v4", "gamma", "gamma-corrected") or a list of labels; None = all rows.
    """
    from amorphxas.dataset.fidelity import UNKNOWN, settings_fidelity, stored_fidelity

    validate(path)
    with h5py.File(path, "r") as h5:
        spectra = h5["spectra"]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in spectra.attrs.items()}
        labels = stored_fidelity(spectra)
        if fidelity is None:
            keep = np.ones(labels.size, bool)
        else:
            wanted = {settings_fidelity(spectra)} if fidelity == PRIMARY else (
                {fidelity} if isinstance(fidelity, str) else set(fidelity))
            keep = np.ones(labels.size, bool) if wanted == {UNKNOWN} else np.isin(labels, list(wanted))
        rows = np.flatnonzero(keep)
        return SpectraTable(
            energy=spectra["energy"][()],
            intensity=spectra["intensity"][()][rows],
            edge_energy=spectra["edge_energy"][()][rows],
            cell_id=_decode(spectra["cell_id"][()])[rows],
            atom_index=spectra["atom_index"][()][rows],
            attrs=attrs,
            fidelity=labels[rows],
        )


def spectrum_site_rows(sites: SiteTable, spectra: SpectraTable) -> np.ndarray:
    """Row of ``sites`` for each spectrum row (-1 where the site table lacks it), shape (n_spec,)."""
    row = {(c, int(i)): k for k, (c, i) in enumerate(zip(sites.cell_id, sites.atom_index))}
    return np.array([row.get((c, int(i)), -1) for c, i in zip(spectra.cell_id, spectra.atom_index)],
                    dtype=int)


def load_reference(path: str | Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(energy eV, intensity) of a crystal reference, e.g. ``alpha-quartz``."""
    validate(path)
    with h5py.File(path, "r") as h5:
        if name not in h5["references"]:
            from amorphxas.core.errors import DatasetError

            raise DatasetError(f"{path}: no reference spectrum /references/{name}")
        group = h5["references"][name]
        return group["energy"][()], group["intensity"][()]


def load_structure(path: str | Path, cell_id: str):
    """One stored cell as an ``ase.Atoms``."""
    from ase import Atoms

    with h5py.File(path, "r") as h5:
        group = h5["structures"][cell_id]
        return Atoms(numbers=group["numbers"][()], positions=group["positions"][()],
                     cell=group["cell"][()], pbc=group["pbc"][()])


def info(path: str | Path) -> dict:
    """Counts by composition and valence, and the DFT settings (JSON-serialisable)."""
    from amorphxas.dataset.testset import TEST_FRACTION, TEST_SEED, is_test_reserved

    validate(path)
    sites = load_sites(path)
    spectra = load_spectra(path, fidelity=None)
    by_fidelity = {"v4": 0, "gamma": 0}
    for label in spectra.fidelity:
        by_fidelity[str(label)] = by_fidelity.get(str(label), 0) + 1
    by_valence = {str(v): 0 for v in range(5)}
    by_composition: dict[str, int] = {}
    for j in spectrum_site_rows(sites, spectra):
        valence, x = (int(sites.valence[j]), float(sites.composition_x[j])) if j >= 0 else (-1, np.nan)
        if valence in range(5):
            by_valence[str(valence)] += 1
        key = f"{x:.2f}"
        by_composition[key] = by_composition.get(key, 0) + 1
    with h5py.File(path, "r") as h5:
        engine = h5["spectra"].attrs.get("engine", "none yet")
        settings = h5["spectra"].attrs.get("settings", "{}")
        references = sorted(h5["references"].keys())
        n_cells = len(h5["structures"])
        cells_by_x: dict[str, int] = {}
        for group in h5["structures"].values():
            key = f"{float(group.attrs.get('composition_x', np.nan)):.2f}"
            cells_by_x[key] = cells_by_x.get(key, 0) + 1
        n_failed = len(h5["failures"])
        version = h5.attrs.get("amorphxas_version", "?")
    return {
        "path": str(path),
        "n_sites": int(spectra.intensity.shape[0]),
        "n_si_sites_analysed": int(sites.valence.size),
        "n_bader": int(np.isfinite(sites.bader_charge).sum()),
        "by_valence": by_valence,
        "by_composition": dict(sorted(by_composition.items())),
        "n_sites_by_fidelity": by_fidelity,
        "n_cells": int(n_cells),
        "by_composition_cells": dict(sorted(cells_by_x.items())),
        "n_test_reserved": int(is_test_reserved(spectra.cell_id, spectra.atom_index).sum()),
        "test_reserve": {"fraction": TEST_FRACTION, "seed": TEST_SEED,
                         "n_pool_reserved": int(is_test_reserved(sites.cell_id,
                                                                 sites.atom_index).sum()),
                         "n_pool": int(sites.valence.size)},
        "n_failed": int(n_failed),
        "references": references,
        "engine": engine.decode() if isinstance(engine, bytes) else str(engine),
        "settings": json.loads(settings) if isinstance(settings, str) else {},
        "amorphxas_version": str(version),
    }
