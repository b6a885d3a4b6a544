"""Dataset store: schema validation, atomic transactions, loader round trip."""

import h5py
import numpy as np
import pytest

from amorphxas.core.errors import DatasetError
from amorphxas.dataset import create, load_sites, load_spectra, store, transaction, validate

GRID = np.linspace(1830.0, 1880.0, 256)


def _cell(h5, cell_id="c1"):
    store.add_structure(h5, cell_id, np.array([14, 8]), np.zeros((2, 3)) + [[0, 0, 0], [1.6, 0, 0]],
                        np.eye(3) * 5, np.ones(3, bool), {"composition_x": 1.0, "provenance": {"a": 1}})
    store.put_sites(h5, cell_id, {"atom_index": np.array([0]), "valence": np.array([1]),
                                  "motif": np.array(["SiO1"]), "rdf": np.zeros((1, 256)),
                                  "rdf_r": np.linspace(0, 5, 256), "bader_charge": np.array([0.8])})


def test_create_validate_and_round_trip(tmp_path):
    path = create(tmp_path / "d.h5", GRID)
    validate(path)
    with transaction(path) as h5:
        _cell(h5)
        h5["structures/c1"].attrs["composition_x"] = 1.0
        store.add_spectrum(h5, "c1", 0, np.linspace(0, 1, 256), 1840.0, np.arange(5.0),
                           np.ones((3, 5)), {"seconds": {"scf": 1.0}})
    sites = load_sites(path)
    spectra = load_spectra(path)
    assert list(sites.motif) == ["SiO1"] and sites.valence.tolist() == [1]
    assert sites.bader_charge[0] == pytest.approx(0.8)
    assert spectra.intensity.shape == (1, 256)
    assert spectra.edge_energy[0] == 1840.0
    assert store.done_keys(path) == {"c1:0"}


def test_transaction_failure_leaves_file_untouched(tmp_path):
    path = create(tmp_path / "d.h5", GRID)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with transaction(path) as h5:
            _cell(h5)
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5", "d.h5.lock"]  # no temporary copy


def test_duplicate_spectrum_refused(tmp_path):
    path = create(tmp_path / "d.h5", GRID)
    with transaction(path) as h5:
        _cell(h5)
        store.add_spectrum(h5, "c1", 0, np.ones(256), 1840.0, np.arange(3.0), np.ones((1, 3)), {})
    with pytest.raises(DatasetError, match="already"):
        with transaction(path) as h5:
            store.add_spectrum(h5, "c1", 0, np.ones(256), 1840.0, np.arange(3.0), np.ones((1, 3)), {})
    assert load_spectra(path).intensity.shape[0] == 1


def test_nan_spectrum_refused(tmp_path):
    path = create(tmp_path / "d.h5", GRID)
    bad = np.ones(256)
    bad[10] = np.nan
    with pytest.raises(DatasetError, match="finite"):
        with transaction(path) as h5:
            _cell(h5)
            store.add_spectrum(h5, "c1", 0, bad, 1840.0, np.arange(3.0), np.ones((1, 3)), {})


@pytest.mark.parametrize("damage, message", [
    (lambda h5: h5.attrs.__setitem__("schema_version", 99), "schema version 99"),
    (lambda h5: h5.__delitem__("references"), "missing group /references"),
    (lambda h5: h5.attrs.__delitem__("schema_version"), "not an amorphxas dataset"),
])
def test_validation_errors_are_one_line(tmp_path, damage, message):
    path = create(tmp_path / "d.h5", GRID)
    with h5py.File(path, "a") as h5:
        damage(h5)
    with pytest.raises(DatasetError, match=message) as info:
        validate(path)
    assert "\n" not in str(info.value)


def test_not_hdf5(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("not hdf5")
    with pytest.raises(DatasetError, match="not a readable HDF5"):
        validate(path)
