"""Merge two datasets of one DFT protocol (e.g. computed on two machines): each site once."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.dataset import store
from amorphxas.dataset.text import as_text

# what must agree for two datasets' spectra to sit in one table
SAME = ("settings", "broadening", "pseudopotentials")
ALIGNMENT_TOLERANCE_EV = 1e-3


def _attr(h5: h5py.File, name: str):
    return as_text(h5["spectra"].attrs.get(name))


def _check_compatible(a: h5py.File, b: h5py.File, path_a: Path, path_b: Path) -> None:
    if not np.array_equal(a["spectra/energy"][()], b["spectra/energy"][()]):
        raise DatasetError(f"{path_b}: its energy grid differs from {path_a}'s")
    n_b = b["spectra/intensity"].shape[0]
    for name in SAME:
        va, vb = _attr(a, name), _attr(b, name)
        if n_b and va is not None and vb is not None and json.loads(va) != json.loads(vb):
            raise DatasetError(f"{path_b}: its spectra were computed with other {name} than "
                               f"{path_a}'s; one dataset holds one protocol")
    ca, cb = (h5["spectra"].attrs.get("alignment_constant_eV") for h5 in (a, b))
    if n_b and ca is not None and cb is not None and abs(float(ca) - float(cb)) > ALIGNMENT_TOLERANCE_EV:
        raise DatasetError(f"{path_b}: alignment constant {float(cb):.4f} eV, {path_a} has "
                           f"{float(ca):.4f} eV (different alpha-quartz references)")
    for cell in set(a["structures"]) & set(b["structures"]):
        for name in ("numbers", "positions", "cell"):
            if not np.allclose(a["structures"][cell][name][()], b["structures"][cell][name][()]):
                raise DatasetError(f"{path_b}: cell {cell} differs from {path_a}'s cell {cell} "
                                   f"({name})")


def merge(first: str | Path, second: str | Path, output: str | Path) -> dict:
    """Write ``output``: ``first`` plus what ``second`` has and ``first`` lacks (cells with their
    site tables, references, site spectra with their raw data); a site in both keeps ``first``'s
    spectrum, so every site is there once. Failures of sites without a spectrum are kept (the
    larger attempt count). The two must share the protocol, grid, pseudopotentials, alignment
    constant and the structures of common cells. Returns counts {from_first, added, in_both}."""
    first, second, output = Path(first), Path(second), Path(output)
    for path in (first, second):
        store.validate(path)
    if output.exists():
        raise DatasetError(f"{output}: exists; merge writes a new dataset")
    partial = output.with_name(output.name + ".partial")  # complete or absent
    partial.unlink(missing_ok=True)
    shutil.copyfile(first, partial)
    try:
        with h5py.File(second, "r") as b, store.transaction(partial) as out:
            _check_compatible(out, b, first, second)
            counts = _merge_into(out, b)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
        Path(str(partial) + ".lock").unlink(missing_ok=True)
    return counts


def _merge_into(out: h5py.File, b: h5py.File) -> dict:
    for group in ("structures", "sites", "references"):
        for name in b[group]:
            if name not in out[group]:
                b.copy(b[group][name], out[group], name=name)
    for name in ("settings", "broadening", "pseudopotentials", "engine", "alignment_constant_eV",
                 "alignment_reference", "raw_energy_scale", "intensity_units", "edge_definition"):
        if name in b["spectra"].attrs and name not in out["spectra"].attrs:
            out["spectra"].attrs[name] = b["spectra"].attrs[name]
    have = set(out["spectra/raw"])
    counts = {"from_first": len(have), "added": 0, "in_both": 0}
    spectra_b = b["spectra"]
    for row, (cell, index) in enumerate(zip(spectra_b["cell_id"][()], spectra_b["atom_index"][()])):
        cell = str(as_text(cell))
        key = store.site_key(cell, index)
        if key in have:
            counts["in_both"] += 1
            continue
        raw = spectra_b["raw"][key]
        extra = {name: raw[name][()] for name in raw if name not in ("energy", "sigma")}
        kwargs = {}
        if "fidelity" in spectra_b:  # the row's protocol label, where the file has one
            label = spectra_b["fidelity"][row]
            label = str(as_text(label))
            kwargs = {"fidelity": label} if label else {}
        # the store's own append: every row-aligned table and the raw group stay consistent
        store.add_spectrum(out, cell, int(index), spectra_b["intensity"][row],
                           float(spectra_b["edge_energy"][row]), raw["energy"][()], raw["sigma"][()],
                           dict(raw.attrs), extra or None, **kwargs)
        have.add(key)
        counts["added"] += 1
    for key, group in b["failures"].items():
        if key in have:
            if key in out["failures"]:
                del out["failures"][key]
            continue
        mine = out["failures"].get(key)
        if mine is None or int(mine.attrs.get("attempts", 1)) < int(group.attrs.get("attempts", 1)):
            if mine is not None:
                del out["failures"][key]
            b.copy(group, out["failures"], name=key)
    return counts
