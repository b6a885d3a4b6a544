"""Shared fixtures: tiny real cells (hand-made test fixtures, not data) and DFT availability."""

import shutil

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
