"""The Dataset object: one open, plain arrays out, the stored protocol, the descriptor sidecar."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from amorphxas.core.errors import DatasetError
from amorphxas.dataset import Dataset, embedded_path, info, load_reference, load_sites, load_spectra
from amorphxas.dataset.loader import load_structure


@pytest.fixture(scope="module")
def shipped_copy(tmp_path_factory):
    """A copy of the embedded (real, DFT) dataset: the campaign may be writing the original."""
    path = tmp_path_factory.mktemp("ds") / "siox_copy.h5"
    shutil.copyfile(embedded_path(), path)
    return path


@pytest.fixture
def count_opens(monkeypatch):
    opened = []
    real = h5py.File

    def counting(*args, **kwargs):
        opened.append(args[0] if args else kwargs.get("name"))
        return real(*args, **kwargs)

    monkeypatch.setattr(h5py, "File", counting)
    return opened


def test_one_dataset_opens_the_file_once_for_sites_spectra_info_and_protocol(shipped_copy,
                                                                            count_opens):
    ds = Dataset(shipped_copy)
    sites, spectra, every_row = ds.sites, ds.spectra(), ds.spectra(fidelity=None)
    summary = ds.info()
    ds.alignment_constant(), ds.protocol(), ds.broadening(), ds.reference("alpha-quartz")
    ds.test_reserved(), ds.done_keys(), ds.failure_attempts()
    assert len(count_opens) == 1
    assert sites.valence.size == summary["n_si_sites_analysed"] > 0
    assert every_row.intensity.shape[0] == summary["n_sites"] >= spectra.intensity.shape[0] > 0
    # the one-call functions given the object read nothing again
    assert Dataset.open(ds) is ds and load_sites(ds) is ds.sites
    assert np.array_equal(load_spectra(ds).intensity, spectra.intensity)
    assert info(ds) == summary
    assert len(count_opens) == 1
    # the old way (each function opens the file) costs one open per call
    load_sites(shipped_copy), load_spectra(shipped_copy), info(shipped_copy)
    assert len(count_opens) == 4


def test_accessors_equal_the_stored_bytes_and_the_loader_functions(shipped_copy):
    ds = Dataset.open(shipped_copy)
    with h5py.File(shipped_copy, "r") as h5:
        attrs = h5["spectra"].attrs
        assert ds.alignment_constant() == float(attrs["alignment_constant_eV"])
        assert ds.protocol() == json.loads(attrs["settings"]) and ds.protocol()["ecutwfc"] > 0
        assert ds.broadening() == json.loads(attrs["broadening"])
        assert ds.pseudopotentials() == json.loads(attrs["pseudopotentials"])
        n_rows = h5["spectra/intensity"].shape[0]
        n_sites = sum(g["atom_index"].shape[0] for g in h5["sites"].values())
        quartz = h5["references/alpha-quartz/intensity"][()]
        cells = sorted(h5["structures"])
        positions = h5["structures"][cells[0]]["positions"][()]
        done = set(h5["spectra/raw"])
    assert ds.primary_fidelity == "v4"
    assert ds.spectra(None).intensity.shape[0] == n_rows == len(done) == len(ds.done_keys())
    assert ds.sites.valence.size == n_sites and ds.cell_ids == cells
    assert np.array_equal(ds.reference("alpha-quartz")[1], quartz)
    assert np.array_equal(ds.structure(cells[0]).positions, positions)
    assert np.array_equal(ds.structures()[cells[0]].positions, positions)
    # the module functions (each opening the file) give the same arrays
    sites = load_sites(shipped_copy)
    for name in ("cell_id", "atom_index", "valence", "motif", "rdf", "rdf_r"):
        assert np.array_equal(getattr(sites, name), getattr(ds.sites, name))
    for fidelity in ("primary", None, "gamma", ["v4", "gamma"]):
        old, new = load_spectra(shipped_copy, fidelity), ds.spectra(fidelity)
        assert np.array_equal(old.intensity, new.intensity)
        assert list(old.cell_id) == list(new.cell_id) and list(old.fidelity) == list(new.fidelity)
    # the embedded file's rows: v4, and Gamma-only rows of training sites (screening campaign)
    every = ds.spectra(None)
    assert ds.spectra("gamma").intensity.shape[0] == int((every.fidelity == "gamma").sum())
    assert ds.spectra(["v4", "gamma"]).intensity.shape[0] == every.intensity.shape[0]
    assert np.array_equal(load_reference(shipped_copy, "diamond-si")[0], ds.reference("diamond-si")[0])
    assert np.array_equal(load_structure(shipped_copy, cells[-1]).numbers,
                          ds.structure(cells[-1]).numbers)
    assert info(shipped_copy) == ds.info()
    mask = ds.test_reserved(ds.spectra())
    assert mask.shape == (ds.spectra().intensity.shape[0],) and 0 < mask.sum() < mask.size
    with pytest.raises(DatasetError, match="no reference spectrum /references/nope"):
        ds.reference("nope")
    with pytest.raises(DatasetError, match="no cell 'nope'"):
        ds.structure("nope")


@pytest.mark.parametrize("make", ["text", "missing", "directory", "foreign_hdf5"])
def test_bad_file_one_line_error_naming_it(tmp_path, make):
    path = tmp_path / "bad.h5"
    if make == "text":
        path.write_text("not a dataset\n")
    elif make == "directory":
        path.mkdir()
    elif make == "foreign_hdf5":
        with h5py.File(path, "w") as h5:
            h5.create_group("x")
    with pytest.raises(DatasetError) as err:
        Dataset(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message


def test_transaction_appends_atomically_and_refreshes_the_snapshot(tmp_path, si8):
    from amorphxas.dataset import create
    from amorphxas.dataset.store import add_structure

    ds = Dataset(create(tmp_path / "ds.h5", np.linspace(1835.0, 1880.0, 8)))
    assert ds.cell_ids == [] and ds.alignment_constant() is None and ds.protocol() == {}
    assert ds.broadening() is None and ds.info()["n_sites"] == 0
    with ds.transaction() as h5:
        add_structure(h5, "si8", si8.numbers, si8.positions, si8.cell[:], si8.pbc,
                      {"composition_x": 0.0})
    assert ds.cell_ids == ["si8"] and ds.info()["n_cells"] == 1
    with pytest.raises(RuntimeError), ds.transaction() as h5:  # an error writes nothing
        add_structure(h5, "again", si8.numbers, si8.positions, si8.cell[:], si8.pbc, {})
        raise RuntimeError("stop")
    assert Dataset(ds.path).cell_ids == ["si8"]


@pytest.fixture
def quartz_dataset(tmp_path, quartz9):
    """Hand-made fixture: one 9-atom alpha-quartz cell, no spectra."""
    from amorphxas.dataset import create, store

    path = create(tmp_path / "quartz.h5", np.linspace(1835.0, 1880.0, 8))
    si = np.flatnonzero(quartz9.numbers == 14)
    with store.transaction(path) as h5:
        store.add_structure(h5, "q0", quartz9.numbers, quartz9.positions, quartz9.cell[:],
                            np.ones(3, bool), {"composition_x": 2.0})
        store.put_sites(h5, "q0", {"atom_index": si, "valence": np.full(si.size, 4),
                                   "motif": np.array(["SiO4"] * si.size),
                                   "rdf": np.zeros((si.size, 16)), "rdf_r": np.linspace(0, 5, 16),
                                   "bader_charge": np.full(si.size, np.nan)})
    return path


def test_sidecar_has_one_name_and_the_old_name_is_still_read(quartz_dataset, monkeypatch):
    import amorphxas.descriptors as descriptors
    from amorphxas.dataset.sidecar import legacy_sidecar_path, read_block, sidecar_path
    from amorphxas.descriptors import describe_dataset, load_descriptors
    from amorphxas.descriptors.cache import fresh_sidecar as descriptor_sidecar

    new, old = sidecar_path(quartz_dataset, "fast"), legacy_sidecar_path(quartz_dataset)
    assert new.name == "quartz.fast.descriptors.h5" and old.name == "quartz.descriptors.h5"
    assert sidecar_path(embedded_path(), "study1").parent != embedded_path().parent  # the cache
    # a sidecar written under the old default name is found and used, not recomputed
    describe_dataset(quartz_dataset, "acsf", old, preset="fast", progress=False)
    X_old = load_descriptors(old, "acsf")[0]

    def no_recompute(*args, **kwargs):
        raise AssertionError("a fresh sidecar was recomputed")

    monkeypatch.setattr(descriptors, "describe_dataset", no_recompute)
    assert descriptor_sidecar(quartz_dataset, "acsf", "fast") == old and not new.exists()
    monkeypatch.undo()
    # another kind is not in the old file: computed into the one current name
    assert descriptor_sidecar(quartz_dataset, "physical", "fast") == new
    block = read_block(new, "physical")
    assert block.attrs["preset"] == "fast" and list(block.cell_id) == ["q0"] * 3
    # describe_dataset's own default is the current name too
    assert describe_dataset(quartz_dataset, "acsf", preset="fast", progress=False) == new
    assert np.array_equal(load_descriptors(new, "acsf")[0], X_old)
    with pytest.raises(DatasetError, match="no descriptors of kind 'snap'"):
        read_block(new, "snap")
    with pytest.raises(DatasetError, match="refusing to write descriptors into the dataset"):
        describe_dataset(quartz_dataset, "acsf", quartz_dataset, preset="fast", progress=False)


@pytest.mark.parametrize("name", ["siox_sik_v1.h5", "siox_sik_v2.h5", "siox_sik_v3.h5"])
def test_datasets_written_before_the_fidelity_column_open_unchanged(name, count_opens):
    path = embedded_path().with_name(name)
    ds = Dataset(path)
    assert len(count_opens) == 1
    with h5py.File(path, "r") as h5:
        n_rows = h5["spectra/intensity"].shape[0]
        assert "fidelity" not in h5["spectra"]
        settings = json.loads(h5["spectra"].attrs["settings"])
    # every row is the file's own protocol, named after the preset its settings match
    assert ds.spectra().intensity.shape[0] == ds.spectra(None).intensity.shape[0] == n_rows > 0
    assert set(ds.spectra().fidelity) == {ds.primary_fidelity} and ds.primary_fidelity != "unknown"
    assert ds.protocol() == settings and ds.info()["n_sites"] == n_rows
