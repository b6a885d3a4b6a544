"""amorphxas.core.persistence: NPZ arrays + JSON header, atomic, no pickle on the way back.

Arrays are hand-made fixtures, not data.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.persistence import (
    check_format,
    model_stem,
    read_arrays,
    read_header,
    save_npz_json,
    stem_files,
)


class StageError(AmorphxasError):
    pass


def test_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"coef": rng.normal(size=(3, 5)), "mask": np.array([1, 0, 1], np.uint8),
              "grid": np.linspace(1830.0, 1880.0, 7), "empty": np.zeros((0, 4))}
    header = {"format": "amorphxas.test/1", "params": {"alpha": 0.5, "hidden": [16, 16]},
              "n": np.int64(3)}
    npz, js = save_npz_json(tmp_path / "sub" / "m.npz", tmp_path / "sub" / "m.json", arrays, header,
                            sort_keys=True, default=int)
    assert (npz.name, js.name) == ("m.npz", "m.json")  # exactly the names given
    back = read_arrays(npz)
    assert sorted(back) == sorted(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and np.array_equal(back[k], v)
    assert read_header(js) == {"format": "amorphxas.test/1", "n": 3,
                               "params": {"alpha": 0.5, "hidden": [16, 16]}}
    assert js.read_text().startswith('{\n "format"')  # indent 1, sorted keys: the old layout
    assert sorted(p.name for p in npz.parent.iterdir()) == ["m.json", "m.npz"]  # no temp files left
    with zipfile.ZipFile(npz) as z:
        assert all(name.endswith(".npy") for name in z.namelist())


def test_pickled_object_array_is_refused_on_read(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weights=np.ones(3), payload=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(StageError, match=r"evil.npz: cannot read the model arrays \(.*allow_pickle") as info:
        read_arrays(path, error=StageError)
    assert "\n" not in str(info.value)


def test_object_array_is_refused_on_write_and_nothing_is_written(tmp_path):
    with pytest.raises(AmorphxasError, match="'bad' holds Python objects"):
        save_npz_json(tmp_path / "m.npz", tmp_path / "m.json",
                      {"ok": np.ones(2), "bad": np.array([object()], dtype=object)}, {"format": "x"})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path):
    save_npz_json(tmp_path / "m.npz", tmp_path / "m.json", {"a": np.ones(2)}, {"format": "x"})
    with pytest.raises(TypeError):
        save_npz_json(tmp_path / "m.npz", tmp_path / "m.json", {"a": np.zeros(2)}, {"format": object()})
    assert np.array_equal(read_arrays(tmp_path / "m.npz")["a"], np.ones(2))  # both files the old ones
    assert read_header(tmp_path / "m.json") == {"format": "x"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]


def test_non_finite_arrays_are_refused_when_asked(tmp_path):
    np.savez(tmp_path / "m.npz", w=np.array([1.0, np.nan]), k=np.arange(3))
    assert np.isnan(read_arrays(tmp_path / "m.npz")["w"][1])
    with pytest.raises(AmorphxasError, match="non-finite values in w"):
        read_arrays(tmp_path / "m.npz", finite=True)


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "a JSON list, not an object"),
])
def test_bad_headers_are_one_line(tmp_path, text, message):
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(StageError, match=message) as info:
        read_header(tmp_path / "m.json", error=StageError)
    assert "m.json" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(StageError, match="cannot read the model header"):
        read_header(tmp_path / "missing.json", error=StageError)
    with pytest.raises(StageError, match="cannot read the model arrays"):
        read_arrays(tmp_path / "m.json", error=StageError)  # not an NPZ file


def test_format_check():
    check_format({"format": "f", "format_version": 2}, "m.json", "f", versions=(1, 2))
    with pytest.raises(AmorphxasError, match="m.json: not an amorphxas forward model"):
        check_format({"format": "other"}, "m.json", "f", what="forward model")
    with pytest.raises(AmorphxasError, match="version 3; expected f version 1 or 2"):
        check_format({"format": "f", "format_version": 3}, "m.json", "f", versions=(1, 2))


def test_stems(tmp_path):
    assert model_stem(tmp_path) == tmp_path / "model"  # a folder holds model.npz + model.json
    assert model_stem(tmp_path, folder=False) == tmp_path
    assert stem_files(tmp_path / "m.json") == (tmp_path / "m.npz", tmp_path / "m.json")


def test_models_written_by_the_old_code_still_load(tmp_path):
    """A forward ridge model in the layout that np.savez + json.dumps wrote before the shared
    helper (<stem>.npz + <stem>.json, indent 1, sorted keys) loads and predicts the same."""
    from amorphxas.descriptors import fit_pca
    from amorphxas.descriptors.pipeline import _ARRAYS as PCA_ARRAYS
    from amorphxas.forward.model import FORMAT, ForwardModel
    from amorphxas.forward.ridge import RidgeSpectrum

    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    pca = fit_pca(X, 0.999)
    Z = pca.transform(X)
    ridge = RidgeSpectrum(alpha=0.3).fit(Z, np.abs(X @ rng.normal(size=(4, 9))))
    r_arrays, r_header = ridge.to_arrays()
    arrays = {f"ridge_{k}": v for k, v in r_arrays.items()}
    arrays.update({f"pca_{k}": np.asarray(getattr(pca, k), np.float64) for k in PCA_ARRAYS})
    arrays["energy"] = np.linspace(1830.0, 1880.0, 9)
    np.savez(tmp_path / "model.npz", **arrays)
    header = {"format": FORMAT, "scale": 2.0, "ridge": r_header, "pca": pca.header,
              "arrays": "model.npz", "kind": "fixture"}
    (tmp_path / "model.json").write_text(json.dumps(header, indent=1, sort_keys=True))
    loaded = ForwardModel.load(tmp_path)
    assert loaded.scale == 2.0
    assert np.array_equal(loaded.predict(X), ridge.predict(Z))
    loaded.save(tmp_path / "again" / "model")  # and the helper writes the same layout back
    assert json.loads((tmp_path / "again" / "model.json").read_text()) == header
    with np.load(tmp_path / "again" / "model.npz", allow_pickle=False) as data:
        assert sorted(data.files) == sorted(arrays)
