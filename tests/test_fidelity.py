"""Fidelity bookkeeping, `dataset info` counts and the fixed test reserve of active learning.

The datasets here are hand-made fixtures (two tiny real cells, constant "spectra"), except where
the shipped files are read (read-only)."""

import json

import h5py
import numpy as np
import pytest
from ase.io import write

from amorphxas.core.errors import DatasetError
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.dataset import create, embedded_path, info, load_spectra, store, transaction
from amorphxas.dataset.fidelity import fidelity_of_settings
from amorphxas.dataset.testset import TEST_FRACTION, hash_uniform, is_test_reserved
from amorphxas.forward.active import (
    select_indices,
    select_ur,
    select_ur_stratified,
    select_with_test_reserve,
)
from amorphxas.spectra.campaign import add_cells
from amorphxas.spectra.qe import PRESETS

V4_CHAINS = {"lanczos_steps": np.full((3, 4), 10, np.int32)}  # 3 polarisations x 4 fcc k-points
GAMMA_CHAINS = {"lanczos_steps": np.full((3, 1), 10, np.int32)}


def _dataset(tmp_path, si8, quartz9, preset="production-v4"):
    write(tmp_path / "si8.extxyz", si8)
    write(tmp_path / "qz9.extxyz", quartz9)
    path = create(tmp_path / "d.h5", COMMON_GRID)
    add_cells(path, [tmp_path / "si8.extxyz", tmp_path / "qz9.extxyz"])
    if preset is not None:
        with transaction(path) as h5:
            h5["spectra"].attrs["settings"] = json.dumps(PRESETS[preset].as_dict())
    return path


def _add(path, cell, index, fidelity=None, chains=V4_CHAINS):
    with transaction(path) as h5:
        store.add_spectrum(h5, cell, index, np.ones(COMMON_GRID.size), 1846.0, np.arange(3.0),
                           np.ones((1, 3)), {}, chains, fidelity=fidelity)


def test_fidelity_of_the_presets():
    assert fidelity_of_settings(PRESETS["production-v4"].as_dict()) == "v4"
    assert fidelity_of_settings(PRESETS["screening-gamma"]) == "gamma"
    assert fidelity_of_settings("production-v3") == "production-v3"
    assert fidelity_of_settings({**PRESETS["production-v4"].as_dict(), "ecutwfc": 99.0}) == "custom"


def test_shipped_datasets_keep_their_rows_and_every_site_has_a_fidelity():
    shipped = load_spectra(embedded_path(), fidelity=None)
    assert shipped.fidelity.size == shipped.intensity.shape[0] >= 104
    assert all(isinstance(f, str) and f for f in shipped.fidelity)
    # the embedded file holds production-v4 rows and screening-gamma rows of training sites only:
    # a test-reserved site is always computed with the dataset's own protocol
    assert set(shipped.fidelity) <= {"v4", "gamma"} and "v4" in set(shipped.fidelity)
    gamma = shipped.fidelity == "gamma"
    assert not is_test_reserved(shipped.cell_id[gamma], shipped.atom_index[gamma]).any()
    assert load_spectra(embedded_path()).intensity.shape[0] == (shipped.fidelity == "v4").sum()
    # a file written before rows carried a fidelity loads unchanged (every row, its protocol)
    v3 = embedded_path().with_name("siox_sik_v3.h5")
    with h5py.File(v3, "r") as h5:
        n_rows = h5["spectra/intensity"].shape[0]
        assert "fidelity" not in h5["spectra"]
    old = load_spectra(v3)
    assert old.intensity.shape[0] == n_rows and set(old.fidelity) == {"production-v3"}


def test_rows_record_their_fidelity_and_readers_select_by_it(tmp_path, si8, quartz9):
    path = _dataset(tmp_path, si8, quartz9)
    _add(path, "si8", 0)  # no label: the dataset's protocol, v4 (it holds v4's chains)
    _add(path, "si8", 1, fidelity="gamma", chains=GAMMA_CHAINS)
    _add(path, "qz9", 0, fidelity="v4")
    every = load_spectra(path, fidelity=None)
    assert list(every.fidelity) == ["v4", "gamma", "v4"]
    default = load_spectra(path)  # the learners' default: v4 only
    assert list(default.atom_index) == [0, 0] and list(default.cell_id) == ["si8", "qz9"]
    assert list(load_spectra(path, fidelity="gamma").atom_index) == [1]
    assert load_spectra(path, fidelity=["v4", "gamma"]).intensity.shape[0] == 3
    with h5py.File(path, "r") as h5:
        assert [v.decode() for v in h5["spectra/fidelity"][()]] == ["v4", "gamma", "v4"]
        assert h5["spectra/raw/si8:1"].attrs["fidelity"] == "gamma"


def test_corrected_gamma_is_never_stored_as_v4(tmp_path, si8, quartz9):
    path = _dataset(tmp_path, si8, quartz9)
    before = path.read_bytes()
    with pytest.raises(DatasetError, match="labelled v4 but holds chains on 1 k-points"):
        _add(path, "si8", 0, fidelity="v4", chains=GAMMA_CHAINS)
    with pytest.raises(DatasetError, match="labelled v4 but holds chains on 0 k-points"):
        _add(path, "si8", 0, chains=None)  # unlabelled into a v4 dataset: taken as v4, refused
    assert path.read_bytes() == before  # nothing half-written
    _add(path, "si8", 0, fidelity="gamma-corrected", chains=None)
    assert load_spectra(path).intensity.shape[0] == 0
    assert list(load_spectra(path, fidelity="gamma-corrected").fidelity) == ["gamma-corrected"]


def test_labelled_row_in_an_older_file_keeps_the_old_rows_fidelity(tmp_path, si8, quartz9):
    path = _dataset(tmp_path, si8, quartz9, preset="production-v3")
    _add(path, "si8", 0)
    with h5py.File(path, "r") as h5:
        assert "fidelity" not in h5["spectra"]  # unlabelled rows write the file as before
    _add(path, "si8", 1, fidelity="gamma", chains=GAMMA_CHAINS)
    with h5py.File(path, "r") as h5:
        assert [v.decode() for v in h5["spectra/fidelity"][()]] == ["production-v3", "gamma"]
    assert list(load_spectra(path).atom_index) == [0]


def _recount(path):
    """The `dataset info` counts recomputed from the file with h5py alone."""
    with h5py.File(path, "r") as h5:
        spectra = h5["spectra"]
        n = spectra["intensity"].shape[0]
        settings = json.loads(spectra.attrs["settings"])
        labels = ([v.decode() for v in spectra["fidelity"][()]] if "fidelity" in spectra
                  else [fidelity_of_settings(settings)] * n)
        cells = {c: float(g.attrs["composition_x"]) for c, g in h5["structures"].items()}
        keys = [f"{c.decode()}:{int(i)}" for c, i in zip(spectra["cell_id"][()],
                                                         spectra["atom_index"][()])]
    by_x: dict = {}
    for x in cells.values():
        by_x[f"{x:.2f}"] = by_x.get(f"{x:.2f}", 0) + 1
    reserved = int(np.sum(hash_uniform(keys) < TEST_FRACTION))
    return n, {f: labels.count(f) for f in set(labels) | {"v4", "gamma"}}, len(cells), by_x, reserved


@pytest.mark.parametrize("which", ["fixture", "shipped"])
def test_info_counts_equal_a_recount_from_the_file(tmp_path, si8, quartz9, which):
    if which == "fixture":
        path = _dataset(tmp_path, si8, quartz9)
        _add(path, "si8", 0)
        _add(path, "si8", 1, fidelity="gamma", chains=GAMMA_CHAINS)
        _add(path, "si8", 2, fidelity="gamma", chains=GAMMA_CHAINS)
    else:
        path = embedded_path()
    summary = info(path)
    n, by_fidelity, n_cells, by_x, reserved = _recount(path)
    assert summary["n_sites"] == n == sum(summary["n_sites_by_fidelity"].values())
    assert summary["n_sites_by_fidelity"] == by_fidelity
    assert summary["n_cells"] == n_cells and summary["by_composition_cells"] == by_x
    assert summary["n_test_reserved"] == reserved
    if which == "fixture":
        assert by_fidelity == {"v4": 1, "gamma": 2} and by_x == {"0.00": 1, "2.00": 1}


def test_info_names_the_md_schedule_of_cells_and_spectra():
    """Cells built with different quench schedules stay apart in the counts (recount with h5py)."""
    path = embedded_path()
    with h5py.File(path, "r") as h5:
        preset = {c: json.loads(g.attrs["provenance"]).get("preset", "unknown")
                  for c, g in h5["structures"].items()}
        spectra_cells = [c.decode() for c in h5["spectra/cell_id"][()]]
        bader_cells = {c for c, g in h5["sites"].items() if np.isfinite(g["bader_charge"][()]).any()}
    summary = info(path)
    assert summary["by_preset_cells"] == {p: list(preset.values()).count(p) for p in set(preset.values())}
    assert sum(summary["by_preset"].values()) == summary["n_sites"]
    assert summary["by_preset"] == {p: [preset[c] for c in spectra_cells].count(p)
                                    for p in {preset[c] for c in spectra_cells}}
    assert summary["n_cells_bader"] == len(bader_cells)
    assert summary["by_preset_cells"].get("dataset") == 18  # the first cells keep their label


def test_info_of_cells_without_provenance_says_unknown(tmp_path, si8, quartz9):
    path = _dataset(tmp_path, si8, quartz9)
    _add(path, "si8", 0)
    summary = info(path)
    assert summary["by_preset_cells"] == {"unknown": 2} and summary["by_preset"] == {"unknown": 1}
    assert summary["n_cells_bader"] == 0


def test_dataset_info_json_cli(tmp_path, si8, quartz9):
    from typer.testing import CliRunner

    from amorphxas.cli import app

    path = _dataset(tmp_path, si8, quartz9)
    _add(path, "qz9", 0)
    result = CliRunner().invoke(app, ["dataset", "info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["n_sites_by_fidelity"] == {"v4": 1, "gamma": 0}
    assert out["n_cells"] == 2 and out["by_composition_cells"] == {"0.00": 1, "2.00": 1}
    assert out["n_test_reserved"] == int(is_test_reserved(["qz9"], [0])[0])


# -------------------------------------------------------------------------------- test reserve

def test_reserve_is_a_fixed_fifth_of_the_sites():
    cells = np.array([f"cell{k // 50}" for k in range(5000)], dtype=object)
    index = np.arange(5000) % 50
    mask = is_test_reserved(cells, index)
    assert 0.18 < mask.mean() < 0.22
    assert np.array_equal(mask, is_test_reserved(list(cells), list(index)))  # deterministic
    # a site's status depends on its key only, not on which other sites are in the pool
    assert np.array_equal(mask[100:200], is_test_reserved(cells[100:200], index[100:200]))


def _pool(n=200, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    valence = np.arange(n) % 5
    has = np.zeros(n, bool)
    has[:40] = True
    reserved = rng.random(n) < 0.2
    return X, valence, has, reserved


@pytest.mark.parametrize("strategy", ["ur", "random", "stratified", "ur-stratified"])
def test_reserved_sites_are_never_selected_for_training(strategy):
    X, valence, has, reserved = _pool()
    picks = select_with_test_reserve(strategy, X, has, 20, reserved, 0.5, valence, seed=1)
    assert len(picks) == len(set(picks)) == 20
    training, test = picks[:16], picks[16:]
    assert not reserved[training].any() and reserved[test].all()  # 20 % of the batch, random
    assert not has[picks].any()


def test_reserved_spectra_are_not_training_data():
    """UR with the reserve equals UR whose training set lacks the computed reserved sites."""
    X, valence, has, reserved = _pool()
    picks = select_with_test_reserve("ur", X, has, 10, reserved, 0.5, valence, test_fraction=0.0)
    assert picks == select_ur(X, has & ~reserved, 10, 0.5, candidate_mask=~reserved & ~has)
    assert picks != select_ur(X, has, 10, 0.5, candidate_mask=~reserved)


def test_ur_stratified_keeps_a_fifth_per_valence_until_sixty():
    rng = np.random.default_rng(7)
    n = 600
    X = rng.normal(size=(n, 4))
    valence = np.repeat([0, 4], n // 2)
    train = np.zeros(n, bool)
    train[:40] = True  # valence 0: 40 training sites, valence 4: none
    picks = select_ur_stratified(X, valence, train, 10, alpha=1.0)
    assert np.sum(valence[picks] == 0) >= 2  # the floor: 0.2 x 10, though valence 0 leads
    assert np.sum(valence[picks] == 4) >= 2
    five = np.repeat(np.arange(5), n // 5)  # five classes, 50 / 20 / 20 / 20 / 20 training
    trained = np.zeros(n, bool)
    for v, k in zip(range(5), (50, 20, 20, 20, 20)):
        trained[np.flatnonzero(five == v)[:k]] = True
    picks = select_ur_stratified(X, five, trained, 32, alpha=1.0)
    assert np.bincount(five[picks], minlength=5).min() >= 6  # floor(0.2 x 32) each
    train[300:360] = True  # valence 4 has 60
    train[:60] = True  # valence 0 has 60: no floor left, plain UR
    assert select_ur_stratified(X, valence, train, 10, alpha=1.0) == select_ur(X, train, 10, 1.0)
    assert select_indices("ur-stratified", X, train, 5, 1.0, valence) == select_ur(X, train, 5, 1.0)
