"""Adding structure files (cells) and their site analysis to a dataset, all or nothing.

Here, not in dataset/: the dataset stores records and imports no stage; this module reads the
structures, analyses their sites and hands the records to :mod:`amorphxas.dataset.store`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.core.errors import DatasetError
from amorphxas.dataset import Dataset, store


def _cell_record(path: Path, atoms) -> dict:
    """The structure attributes and site table of one validated structure read from ``path``."""
    from amorphxas.sites import analyse

    analysis = analyse(atoms)
    provenance = {k: v for k, v in atoms.info.items() if isinstance(v, (str, int, float, bool))}
    symbols = atoms.get_chemical_symbols()
    measured_x = symbols.count("O") / max(symbols.count("Si"), 1)
    x = float(atoms.info.get("x_target", measured_x))  # the nominal x labels the cell
    return {
        "atoms": atoms,
        "attrs": {"provenance": provenance, "composition_x": x, "measured_x": measured_x,
                  "n_atoms": len(atoms), "source_file": str(path),
                  "density_g_cm3": float(analysis.density_g_cm3)},
        "sites": {
            "atom_index": np.asarray(analysis.index, dtype=int),
            "valence": np.asarray(analysis.valence, dtype=int),
            "motif": np.asarray(analysis.motif, dtype=str),
            "rdf": np.asarray(analysis.rdf, dtype=float),
            "rdf_r": np.asarray(analysis.rdf_r, dtype=float),
            "bader_charge": np.full(len(analysis.index), np.nan),
        },
    }


def _check_same_cell(dataset: Path, cell_id: str, path: Path, atoms) -> None:
    """A file whose cell id is already in the dataset must hold that cell (same atoms, same
    positions within 1e-6 Angstrom, same cell): else adding would silently keep the old one."""
    from amorphxas.dataset import load_structure

    stored = load_structure(dataset, cell_id)
    same = (len(stored) == len(atoms) and np.array_equal(stored.numbers, atoms.numbers)
            and np.allclose(stored.positions, atoms.positions, atol=1e-6)
            and np.allclose(stored.cell[:], atoms.cell[:], atol=1e-6))
    if not same:
        raise DatasetError(f"{path}: cell id {cell_id!r} (the file stem) is already in {dataset} "
                           "with a different structure; rename the file")


def add_cells(dataset: str | Path, structure_files: list[str | Path]) -> list[str]:
    """Add structure files as cells (with their site analysis) to ``dataset``; returns cell ids.

    The cell id is the file stem; a cell already in the dataset is skipped (idempotent; a
    different structure under an existing id is an error). All or
    nothing: every file is read, validated and analysed first, then all new cells are written in
    one :func:`amorphxas.dataset.store.transaction`, so one bad file (or two different files
    with the same stem) leaves the dataset unchanged, with a one-line error naming the file.
    """
    from amorphxas.structures import read_structure

    dataset = Path(dataset)
    present = set(Dataset(dataset).cell_ids)  # opens and validates the file once
    new: dict[str, tuple[Path, dict]] = {}
    for path in map(Path, structure_files):
        cell_id = path.stem
        if cell_id in new:
            first = new[cell_id][0]
            if first.resolve() == path.resolve():
                continue
            raise DatasetError(f"{path}: cell id {cell_id!r} (the file stem) is also that of "
                               f"{first}; rename one of them")
        atoms = read_structure(path)  # one-line error naming the file
        if cell_id in present:
            _check_same_cell(dataset, cell_id, path, atoms)
            continue
        new[cell_id] = (path, _cell_record(path, atoms))
    if new:
        with store.transaction(dataset) as h5:
            for cell_id, (_, record) in new.items():
                atoms = record["atoms"]
                store.add_structure(h5, cell_id, atoms.numbers, atoms.positions, atoms.cell[:],
                                    atoms.pbc, record["attrs"])
                store.put_sites(h5, cell_id, record["sites"])
    return list(new)
