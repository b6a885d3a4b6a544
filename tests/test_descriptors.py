"""Descriptors: invariances, periodic images, crystals, dimensions, PCA round trip, bad input."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation
from scipy.special import ndtr

from amorphxas.core.errors import AmorphxasError, StructureError
from amorphxas.descriptors import (
    KINDS,
    TABLE_I,
    PCAPipeline,
    describe_dataset,
    describe_file,
    fit_pca,
    get_descriptor,
    load_descriptors,
)
from amorphxas.descriptors.base import si_indices
from amorphxas.structures import build_reference, write_structure

ALL = list(KINDS)
REL = 1e-8
# CHGNet runs its graph network in float32: invariances hold to float32 round-off, not to 1e-8
FLOAT32_KINDS = {"chgnet"}


def tol(kind):
    return 5e-5 if kind in FLOAT32_KINDS else REL


def rel_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-300))


@pytest.fixture(scope="module")
def amorphous_like():
    """Quartz with 5 O removed and every atom rattled: Si sites of valence 2-4, no symmetry."""
    atoms = build_reference("alpha-quartz")
    o = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "O"]
    del atoms[o[::9][:5]]
    atoms.rattle(stdev=0.08, seed=3)
    atoms.info = {}
    return atoms


@pytest.fixture(scope="module")
def fast():
    return {kind: get_descriptor(kind, "fast") for kind in ALL}


def _some_centres(atoms, n=6):
    return si_indices(atoms)[:n]


@pytest.mark.parametrize("kind", ALL)
def test_rotation_translation_invariance(kind, fast, amorphous_like):
    desc = fast[kind]
    centres = _some_centres(amorphous_like)
    ref = desc.compute(amorphous_like, centres)
    assert ref.shape == (len(centres), desc.n_features)
    assert np.abs(ref).max() > 0
    rot = Rotation.from_euler("zyx", [37.0, -71.0, 113.0], degrees=True).as_matrix()
    turned = Atoms(numbers=amorphous_like.numbers, positions=amorphous_like.positions @ rot.T,
                   cell=np.asarray(amorphous_like.cell) @ rot.T, pbc=True)
    assert rel_diff(ref, desc.compute(turned, centres)) < tol(kind)
    moved = amorphous_like.copy()
    moved.positions += np.array([1.234, -3.21, 7.7])
    moved.wrap()
    assert rel_diff(ref, desc.compute(moved, centres)) < tol(kind)


@pytest.mark.parametrize("kind", ALL)
def test_permutation_invariance(kind, fast, amorphous_like):
    desc = fast[kind]
    ref = desc.compute(amorphous_like)  # all Si, in index order
    perm = np.random.default_rng(0).permutation(len(amorphous_like))
    shuffled = amorphous_like[perm]
    out = desc.compute(shuffled)  # rows in the shuffled Si order
    new_of_old = np.argsort(perm)
    rows = [list(si_indices(shuffled)).index(new_of_old[i]) for i in si_indices(amorphous_like)]
    assert rel_diff(ref, out[rows]) < tol(kind)


@pytest.mark.parametrize("kind", ALL)
def test_periodic_images(kind, fast, amorphous_like):
    """A site next to the boundary: same vector after moving it by a lattice vector, and after
    shifting the whole cell so that it sits in the middle (wrapped)."""
    desc = fast[kind]
    frac = amorphous_like.get_scaled_positions()
    si = si_indices(amorphous_like)
    site = int(si[np.argmin(np.min(np.minimum(frac[si], 1 - frac[si]), axis=1))])
    ref = desc.compute(amorphous_like, [site])
    unwrapped = amorphous_like.copy()
    unwrapped.positions[site] += amorphous_like.cell[0] - 2 * amorphous_like.cell[2]
    assert rel_diff(ref, desc.compute(unwrapped, [site])) < tol(kind)
    centred = amorphous_like.copy()
    centred.positions += amorphous_like.cell.cartesian_positions([0.5, 0.5, 0.5]) - centred.positions[site]
    centred.wrap()
    assert rel_diff(ref, desc.compute(centred, [site])) < tol(kind)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("reference", ["diamond-si", "alpha-quartz"])
def test_crystal_sites_identical(kind, reference, fast):
    atoms = build_reference(reference)
    X = fast[kind].compute(atoms)
    assert X.shape == (len(si_indices(atoms)), fast[kind].n_features)
    assert np.abs(X).max() > 0
    assert float(np.ptp(X, axis=0).max() / np.abs(X).max()) < tol(kind)
    # and the two crystals are told apart
    other = build_reference("alpha-quartz" if reference == "diamond-si" else "diamond-si")
    assert rel_diff(X[0], fast[kind].compute(other, [si_indices(other)[0]])[0]) > 1e-3


def test_study1_dimensions_match_table_i():
    for kind, dim in TABLE_I.items():
        assert get_descriptor(kind, "study1").n_features == dim, kind
    assert set(TABLE_I) <= set(KINDS)


@pytest.mark.parametrize("kind", ALL)
def test_study1_computes_n_features(kind):
    """Dimension of the computed vector equals n_features for the study1 preset (2 diamond sites)."""
    desc = get_descriptor(kind, "study1")
    atoms = build_reference("diamond-si")
    X = desc.compute(atoms, [0, 5])
    assert X.shape == (2, desc.n_features)
    assert np.all(np.isfinite(X))
    assert rel_diff(X[0], X[1]) < tol(kind)
    json.dumps(desc.parameters())  # JSON-serialisable


def test_fast_dimensions():
    expected = {"acsf": 58, "soap-gto": 180, "soap-poly": 180, "lmbtr": 450, "snap": 240,
                "qsnap": 860, "soap-featomic": 375, "chgnet": 64, "physical": 24}
    assert {k: get_descriptor(k, "fast").n_features for k in KINDS} == expected


def test_several_structures_and_centres(fast, amorphous_like):
    desc = fast["soap-gto"]
    d = build_reference("diamond-si")
    both = desc.compute([amorphous_like, d], [[si_indices(amorphous_like)[1]], [3, 4]])
    assert both.shape == (3, desc.n_features)
    assert rel_diff(both[1:], desc.compute(d, [3, 4])) < 1e-12


@pytest.mark.parametrize("kind", ["lmbtr", "soap-poly", "acsf"])
def test_site_chunking_does_not_change_results(kind, amorphous_like):
    whole = get_descriptor(kind, "fast")
    whole.site_chunk = None
    chunked = get_descriptor(kind, "fast")
    chunked.site_chunk = 5
    assert rel_diff(whole.compute(amorphous_like), chunked.compute(amorphous_like)) < 1e-12


def test_qsnap_numpy_products_equal_lammps_quadraticflag(amorphous_like):
    from amorphxas.descriptors.snap import QSNAP

    ours = QSNAP("fast").compute(amorphous_like)
    lammps = QSNAP("fast", quadratic_in="lammps").compute(amorphous_like)
    assert rel_diff(lammps, ours) < 1e-12
    assert ours.shape[1] == 40 + 40 * 41 // 2


# -- LMBTR compatibility shim and a hand computation ---------------------------------------------

def test_lmbtr_shim_builds_system():
    from amorphxas.descriptors._dscribe_compat import install

    cls = install()
    assert install() is cls  # idempotent
    atoms = build_reference("alpha-quartz")
    system = cls.from_atoms(atoms)
    assert np.allclose(system.positions, atoms.positions)
    assert np.allclose(system.cell, atoms.cell)
    assert list(system.numbers) == list(atoms.numbers)


def test_lmbtr_matches_hand_computation():
    """k2: one O at 1.6 A -> the X-O channel is w * (bin-averaged normalised Gaussian), w = exp(-s r);
    k3: O-Si-O at 109.47 deg peaks in the right angle bin of the O-X-O channel."""
    desc = get_descriptor("lmbtr", "fast")
    n = desc.params["k2"]["grid"]["n"]
    r_cut = desc.params["k2"]["grid"]["max"]
    sigma = desc.params["k2"]["grid"]["sigma"]
    s = desc.params["k2"]["weighting"]["scale"]
    dimer = Atoms("SiO", positions=[[5, 5, 5], [6.6, 5, 5]], cell=[20, 20, 20], pbc=True)
    X = desc.compute(dimer)[0]
    k2 = desc._impl[0]
    loc_o, loc_si = k2.get_location(("X", "O")), k2.get_location(("X", "Si"))
    grid = np.linspace(0.0, r_cut, n)
    dx = grid[1] - grid[0]
    cdf = ndtr((grid + dx / 2 - 1.6) / sigma) - ndtr((grid - dx / 2 - 1.6) / sigma)
    hand = math.exp(-s * 1.6) * cdf / dx
    assert np.allclose(X[loc_o], hand, rtol=1e-6, atol=1e-10)
    assert np.abs(X[loc_si]).max() == 0
    angle = math.radians(109.47)
    trimer = Atoms("SiOO", positions=[[5, 5, 5], [6.6, 5, 5],
                                      [5 + 1.6 * math.cos(angle), 5 + 1.6 * math.sin(angle), 5]],
                   cell=[20, 20, 20], pbc=True)
    X3 = desc.compute(trimer)[0][3 * n:]
    k3 = desc._impl[1]
    channel = X3[k3.get_location(("O", "X", "O"))]
    agrid = np.linspace(0.0, 180.0, n)
    assert abs(agrid[int(np.argmax(channel))] - 109.47) <= (agrid[1] - agrid[0]) / 2 + 1e-9


# -- PCA pipeline -------------------------------------------------------------------------------

def test_pca_roundtrip_and_sklearn_agreement(tmp_path, fast, amorphous_like):
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = np.vstack([fast["snap"].compute(amorphous_like),
                   fast["snap"].compute(build_reference("diamond-si"), [0, 1])])
    X = X + np.random.default_rng(1).normal(scale=1e-3, size=X.shape)  # break exact ties
    pipe = fit_pca(X, 0.999, parameters=fast["snap"].parameters())
    Z = StandardScaler().fit_transform(X)
    ref = PCA(n_components=0.999, svd_solver="full").fit(Z)
    assert pipe.n_components == ref.n_components_
    assert np.allclose(np.abs(pipe.transform(X)), np.abs(ref.transform(Z)), atol=1e-6)
    assert pipe.explained_variance_ratio.sum() >= 0.999
    npz, js = pipe.save(tmp_path / "pca_snap")
    assert npz.suffix == ".npz" and js.suffix == ".json"
    with np.load(npz, allow_pickle=False) as data:  # no object arrays inside
        assert all(data[k].dtype.kind == "f" for k in data.files)
    again = PCAPipeline.load(tmp_path / "pca_snap")
    assert np.array_equal(again.transform(X), pipe.transform(X))
    assert again.header["descriptor"]["kind"] == "snap"
    # the Gram route (more features than sites) agrees with the covariance route
    gram = fit_pca(X, 0.999, method="gram")
    cov = fit_pca(X, 0.999, method="covariance")
    assert gram.n_components == cov.n_components
    assert np.allclose(gram.transform(X), cov.transform(X), atol=1e-6)
    with pytest.raises(ValueError):
        again.transform(X[:, :-1])


# -- bad input ----------------------------------------------------------------------------------

def test_bad_input_is_a_clear_error(tmp_path, fast):
    desc = fast["soap-gto"]
    atoms = build_reference("alpha-quartz")
    alien = atoms.copy()
    alien[atoms.get_chemical_symbols().index("O")].symbol = "Al"
    with pytest.raises(StructureError, match="Al"):
        desc.compute(alien)
    no_si = Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.2]], cell=[6, 6, 6], pbc=True)
    with pytest.raises(StructureError, match="no Si"):
        desc.compute(no_si)
    with pytest.raises(StructureError, match="not Si"):
        desc.compute(atoms, [atoms.get_chemical_symbols().index("O")])  # an O centre
    open_cell = atoms.copy()
    open_cell.pbc = False
    with pytest.raises(StructureError, match="periodic"):
        desc.compute(open_cell)
    with pytest.raises(AmorphxasError, match="unknown descriptor"):
        get_descriptor("mace", "fast")
    with pytest.raises(AmorphxasError, match="preset"):
        get_descriptor("snap", "huge")
    with pytest.raises(StructureError, match="not found"):
        describe_file(tmp_path / "missing.extxyz", "snap", preset="fast")
    bad = tmp_path / "alien.extxyz"
    write_structure(alien, bad)
    with pytest.raises(StructureError, match="Al"):
        describe_file(bad, "lmbtr", preset="fast")


def test_describe_file_rows_in_si_order(tmp_path, fast, amorphous_like):
    path = write_structure(amorphous_like, tmp_path / "cell.extxyz")
    X = describe_file(path, "soap-featomic", preset="fast")
    assert X.shape == (len(si_indices(amorphous_like)), 375)
    # extxyz stores positions to ~1e-8 A: agreement to that precision
    assert rel_diff(X, fast["soap-featomic"].compute(amorphous_like)) < 1e-7


# -- dataset sidecar, parallel over cells ----------------------------------------------------------

def test_describe_dataset_two_workers(tmp_path, fast, amorphous_like):
    from amorphxas.dataset import create, transaction
    from amorphxas.dataset.store import add_structure

    path = create(tmp_path / "ds.h5", np.linspace(1835, 1880, 10))
    cells = {"b_quartz": amorphous_like, "a_diamond": build_reference("diamond-si")}
    with transaction(path) as h5:
        for cid, atoms in cells.items():
            add_structure(h5, cid, atoms.numbers, atoms.positions, np.asarray(atoms.cell),
                          atoms.pbc, {"composition_x": 0.0})
    out = describe_dataset(path, "snap", tmp_path / "side.h5", preset="fast", chunk_cells=1,
                           n_jobs=2, progress=False, dtype="float64")
    X, cell_id, atom_index, params = load_descriptors(out, "snap")
    assert params["kind"] == "snap" and params["n_features"] == 240
    expect = np.vstack([fast["snap"].compute(cells["a_diamond"]), fast["snap"].compute(cells["b_quartz"])])
    assert rel_diff(expect, X) < 1e-12
    n_d = len(si_indices(cells["a_diamond"]))
    assert list(cell_id[:n_d]) == ["a_diamond"] * n_d
    assert list(atom_index[n_d:]) == list(si_indices(cells["b_quartz"]))
    # a second kind in the same sidecar keeps the first; rerunning replaces, no partial group left
    describe_dataset(path, "acsf", out, preset="fast", progress=False)
    describe_dataset(path, "acsf", out, preset="fast", progress=False)
    with h5py.File(out, "r") as h5:
        assert sorted(h5) == ["acsf", "snap"]
