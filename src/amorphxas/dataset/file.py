"""The dataset as one object: open (and validate) the HDF5 file once, then plain arrays out.

>>> ds = Dataset("siox_sik_v4.h5")          # or Dataset.open(path): one open, one validation
>>> ds.sites.valence, ds.spectra().intensity  # SiteTable / SpectraTable (numpy arrays)
>>> ds.alignment_constant(), ds.protocol()["ecutwfc"], ds.broadening()
>>> with ds.transaction() as h5: ...        # atomic append (dataset/store.py), then re-read

A :class:`Dataset` is a snapshot: the site and spectra tables, references, cell attributes,
failures and the file's attributes are read when it is opened; cells (``structure``) and the
structure hash are read on demand. Writes go through :func:`amorphxas.dataset.store.transaction`
(whole-file atomic replacement) and re-read the snapshot afterwards.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.dataset import store
from amorphxas.dataset.tables import (
    PRIMARY,
    Reference,
    SiteTable,
    SpectraTable,
    read_references,
    read_sites,
    read_spectra,
    read_structure,
    select_fidelity,
    spectrum_site_rows,
    structures_sha256,
)
from amorphxas.dataset.text import as_text, json_attr


class Dataset:
    """An amorphxas dataset file (see :mod:`amorphxas.dataset.store` for the layout).

    Attributes (read once, at open): ``path``; ``sites`` (:class:`SiteTable`); ``references``
    (name -> :class:`Reference`); ``cell_ids`` (sorted); ``cell_attrs`` (cell id -> attributes
    of ``/structures/<cell>``); ``attrs`` (root attributes); ``spectra_attrs`` (``/spectra``
    attributes, str). Bad file: :class:`DatasetError`, one line naming it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.reload()

    @classmethod
    def open(cls, path: str | os.PathLike | Dataset) -> Dataset:
        """``Dataset(path)``; a :class:`Dataset` is returned as it is (no second open)."""
        return path if isinstance(path, Dataset) else cls(path)

    def reload(self) -> None:
        """Re-read the file (one open, validated)."""
        with store.open_valid(self.path) as h5:
            self.attrs = {k: as_text(v) for k, v in h5.attrs.items()}
            self.sites: SiteTable = read_sites(h5)
            self._spectra, self.primary_fidelity = read_spectra(h5)
            self.spectra_attrs = self._spectra.attrs
            self.references: dict[str, Reference] = read_references(h5)
            self.cell_attrs = {c: {k: as_text(v) for k, v in g.attrs.items()}
                               for c, g in h5["structures"].items()}
            self.cell_ids = sorted(self.cell_attrs)
            self._done = set(h5["spectra/raw"].keys())
            self._failures = {key: int(g.attrs.get("attempts", 1))
                              for key, g in h5["failures"].items()}

    def __fspath__(self) -> str:  # a Dataset goes wherever a path does
        return os.fspath(self.path)

    def __str__(self) -> str:  # error messages name the file
        return str(self.path)

    def __repr__(self) -> str:
        return (f"Dataset({str(self.path)!r}: {len(self.cell_ids)} cells, {self.sites.valence.size} "
                f"Si sites, {self._spectra.intensity.shape[0]} spectra)")

    # --- tables -------------------------------------------------------------------------------
    @property
    def energy(self) -> np.ndarray:
        """The common energy grid (n_energy,) eV."""
        return self._spectra.energy

    def spectra(self, fidelity: str | Sequence[str] | None = PRIMARY) -> SpectraTable:
        """Site spectra of the chosen fidelity: "primary" (default) = the dataset's own protocol
        (:attr:`primary_fidelity`, e.g. ``v4``); a label ("v4", "gamma", "gamma-corrected") or a
        list of labels; None = every row."""
        return select_fidelity(self._spectra, self.primary_fidelity, fidelity)

    def site_rows(self, spectra: SpectraTable | None = None) -> np.ndarray:
        """Row of :attr:`sites` for each row of ``spectra`` (default: the primary ones); -1 where
        the site table lacks it, shape (n_spec,)."""
        return spectrum_site_rows(self.sites, self.spectra() if spectra is None else spectra)

    def reference(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(energy eV, intensity) of a crystal reference, e.g. ``alpha-quartz``."""
        if name not in self.references:
            raise DatasetError(f"{self.path}: no reference spectrum /references/{name}")
        ref = self.references[name]
        return ref.energy, ref.intensity

    def structure(self, cell_id: str):
        """One stored cell as an ``ase.Atoms`` (read from the file now)."""
        with h5py.File(self.path, "r") as h5:
            return read_structure(h5, cell_id, self.path)

    def structures(self, cell_ids: Sequence[str] | None = None) -> dict:
        """Cell id -> ``ase.Atoms`` of ``cell_ids`` (default: every cell), in one read."""
        wanted = self.cell_ids if cell_ids is None else cell_ids
        with h5py.File(self.path, "r") as h5:
            return {c: read_structure(h5, c, self.path) for c in wanted}

    def structures_sha256(self, cell_ids: Sequence[str] | None = None) -> str:
        """SHA-256 of the stored cells (default: all, sorted): the key of a descriptor block."""
        with h5py.File(self.path, "r") as h5:
            return structures_sha256(h5, cell_ids)

    # --- the stored protocol ------------------------------------------------------------------
    def alignment_constant(self) -> float | None:
        """The global alignment constant added to every raw energy (eV); None before the
        alpha-quartz reference is computed."""
        value = self.spectra_attrs.get("alignment_constant_eV")
        return None if value is None else float(value)

    def protocol(self) -> dict:
        """The DFT settings the spectra were computed with (JSON dict; {} before the first)."""
        return json_attr(self.spectra_attrs, "settings", {})

    def broadening(self) -> dict | None:
        """The broadening of the stored spectra (kind, sigma, gamma in eV); None before the first."""
        return json_attr(self.spectra_attrs, "broadening")

    def pseudopotentials(self) -> dict:
        """File name -> SHA-256 of the pseudopotentials of the stored spectra ({} before the first)."""
        return json_attr(self.spectra_attrs, "pseudopotentials", {})

    def engine(self) -> str:
        """The DFT engine that made the spectra ("none yet" before the first)."""
        return str(self.spectra_attrs.get("engine", "none yet"))

    # --- campaign state and the test set -----------------------------------------------------
    def done_keys(self) -> set[str]:
        """Keys ``<cell_id>:<atom_index>`` of the sites that have a spectrum."""
        return set(self._done)

    def failure_attempts(self) -> dict[str, int]:
        """Number of failed attempts per site key."""
        return dict(self._failures)

    def test_reserved(self, table: SiteTable | SpectraTable | None = None) -> np.ndarray:
        """Boolean mask of the test-reserved rows of ``table`` (default :attr:`sites`), see
        :mod:`amorphxas.dataset.testset`."""
        from amorphxas.dataset.testset import is_test_reserved

        table = self.sites if table is None else table
        return is_test_reserved(table.cell_id, table.atom_index)

    def info(self) -> dict:
        """Counts by composition and valence, and the DFT settings (JSON-serialisable)."""
        from amorphxas.dataset.testset import TEST_FRACTION, TEST_SEED

        sites, spectra = self.sites, self.spectra(fidelity=None)
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
        cells_by_x: dict[str, int] = {}
        preset_of: dict[str, str] = {}
        for cell_id, attrs in self.cell_attrs.items():
            key = f"{float(attrs.get('composition_x', np.nan)):.2f}"
            cells_by_x[key] = cells_by_x.get(key, 0) + 1
            preset_of[cell_id] = _md_preset(attrs)
        cells_by_preset = _count(preset_of.values())
        spectra_by_preset = _count(preset_of.get(str(c), "unknown") for c in spectra.cell_id)
        with_bader = {str(c) for c, q in zip(sites.cell_id, sites.bader_charge) if np.isfinite(q)}
        return {
            "path": str(self.path),
            "n_sites": int(spectra.intensity.shape[0]),
            "n_si_sites_analysed": int(sites.valence.size),
            "n_bader": int(np.isfinite(sites.bader_charge).sum()),
            "by_valence": by_valence,
            "by_composition": dict(sorted(by_composition.items())),
            "n_sites_by_fidelity": by_fidelity,
            "n_cells": len(self.cell_ids),
            "by_composition_cells": dict(sorted(cells_by_x.items())),
            "by_preset_cells": cells_by_preset,
            "by_preset": spectra_by_preset,
            "n_cells_bader": len(with_bader),
            "n_test_reserved": int(self.test_reserved(spectra).sum()),
            "test_reserve": {"fraction": TEST_FRACTION, "seed": TEST_SEED,
                             "n_pool_reserved": int(self.test_reserved(sites).sum()),
                             "n_pool": int(sites.valence.size)},
            "n_failed": len(self._failures),
            "references": sorted(self.references),
            "engine": self.engine(),
            "settings": self.protocol(),
            "amorphxas_version": str(self.attrs.get("amorphxas_version", "?")),
        }

    # --- writing (append-only, atomic: dataset/store.py) ---------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[h5py.File]:
        """A writable copy of the file (:func:`amorphxas.dataset.store.transaction`) that replaces
        the original atomically on clean exit; the snapshot is re-read afterwards."""
        with store.transaction(self.path) as h5:
            yield h5
        self.reload()


def _md_preset(cell_attrs) -> str:
    """The melt-quench schedule a cell was built with (its provenance ``preset``), else its
    builder, else "unknown"."""
    try:
        provenance = json_attr(cell_attrs, "provenance", {})
    except ValueError:
        return "unknown"
    return str(provenance.get("preset") or provenance.get("builder") or "unknown")


def _count(labels) -> dict[str, int]:
    return dict(sorted(Counter(labels).items()))
