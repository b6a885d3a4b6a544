"""Shared fixtures: tiny real cells (hand-made test fixtures, not data) and DFT availability."""

import shutil

import numpy as np
import pytest
from ase.build import bulk
from ase.spacegroup import crystal

HAVE_QE = all(shutil.which(x) for x in ("pw.x", "xspectra.x", "ld1.x"))
needs_qe = pytest.mark.skipif(not HAVE_QE, reason="Quantum ESPRESSO not installed")


def si8_atoms():
    """8-atom conventional diamond Si cell (a = 5.431 Angstrom)."""
    return bulk("Si", "diamond", a=5.431, cubic=True)


def quartz9_atoms():
    """9-atom alpha-quartz unit cell (ITA setting of P3_221)."""
    return crystal(["Si", "O"], basis=[(-0.4697, 0.0, 2 / 3), (0.4135, 0.4135 - 0.2669, -0.1191)],
                   spacegroup=154, cellpar=[4.9134, 4.9134, 5.4052, 90, 90, 120])


def write_crystal_cells(path, cells, rattle: float) -> dict:
    """Add hand-made fixture cells to the dataset at ``path`` (fixtures, not data).

    ``cells`` is a list of ``(name, kind)`` with kind ``"quartz"`` (2x2x1 alpha-quartz, every Si
    four-fold, valence 4) or ``"silicon"`` (2x1x1 diamond, valence 0); each copy is rattled by
    ``rattle`` Angstrom with its own seed and stored with its sites (zero RDF, no Bader charge).
    Returns {name: (atoms, Si atom indices)}."""
    from amorphxas.dataset import store, transaction

    crystals = {"quartz": (quartz9_atoms().repeat((2, 2, 1)), 4),
                "silicon": (si8_atoms().repeat((2, 1, 1)), 0)}
    written = {}
    for seed, (name, kind) in enumerate(cells):
        atoms, valence = crystals[kind]
        atoms = atoms.copy()
        atoms.rattle(rattle, seed=seed)
        si = np.flatnonzero(atoms.numbers == 14)
        with transaction(path) as h5:
            store.add_structure(h5, name, atoms.numbers, atoms.positions, np.asarray(atoms.cell),
                                np.ones(3, bool), {"composition_x": 2.0 if valence else 0.0})
            store.put_sites(h5, name, {"atom_index": si, "valence": np.full(si.size, valence),
                                       "motif": np.array(["x"] * si.size),
                                       "rdf": np.zeros((si.size, 256)),
                                       "rdf_r": np.linspace(0, 5, 256),
                                       "bader_charge": np.full(si.size, np.nan)})
        written[name] = (atoms, si)
    return written


@pytest.fixture
def si8():
    return si8_atoms()


@pytest.fixture
def quartz9():
    return quartz9_atoms()


@pytest.fixture(scope="session")
def quick_pipeline_run(tmp_path_factory):
    """One `amorphxas run --quick` on the embedded (real) dataset, shared by the pipeline and
    report tests: (run folder, metrics as returned)."""
    from amorphxas.dataset import embedded_path
    from amorphxas.pipeline import run_pipeline

    out = tmp_path_factory.mktemp("run")
    metrics = run_pipeline(embedded_path(), out, quick=True, log=lambda *a: None)
    return out, metrics
