"""Inverse models. All spectra here are HAND-MADE TEST FIXTURES (a step plus a Gaussian white line
whose position and height follow a made-up "valence"), never data and never presented as such."""

import json
import zipfile

import numpy as np
import pytest
from scipy.special import erf

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.inverse import (
    SUB_WINDOWS,
    EdgeBaseline,
    LinearBaseline,
    edge_position,
    ensemble_average,
    heuristic_features,
    invert_spectrum,
    load_model,
    preprocess,
    read_spectrum,
    save_model,
    window_mask,
)
from amorphxas.inverse.nn import SpectrumToRDF, SpectrumToValence

FAST = {"hidden": (64, 64, 64), "max_epochs": 150, "patience": 30, "n_members": 2}


def fixture_spectrum(v, energy=COMMON_GRID, scale=1.0, background=0.0):
    """Hand-made fixture: erf edge at 1839 + 1.5 v eV, white line of height 0.4 + 0.35 v."""
    e0 = 1839.0 + 1.5 * v
    step = 0.5 * (1 + erf((energy - e0) / 0.8))
    line = (0.4 + 0.35 * v) * np.exp(-0.5 * ((energy - e0 - 2.5) / 1.3) ** 2)
    return scale * (step + line) + background


def fixture_set(n, seed):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0, 4, n)
    X = np.stack([preprocess(COMMON_GRID, fixture_spectrum(x) + 0.01 * rng.standard_normal(256))
                  for x in v])
    return X, v


@pytest.fixture(scope="module")
def trained():
    pytest.importorskip("torch")
    X, v = fixture_set(260, 0)
    model = SpectrumToValence(**FAST, seed=3).fit(X[:200], v[:200])
    return model, X, v


def test_mlp_learns_fixture_mapping(trained):
    model, X, v = trained
    pred, std = model.predict(X[200:], return_std=True)
    rmse = np.sqrt(np.mean((pred - v[200:]) ** 2))
    const = np.sqrt(np.mean((v[:200].mean() - v[200:]) ** 2))
    assert rmse < 0.15, rmse  # range 0-4; a constant predictor gives ~1.15
    assert rmse < 0.2 * const
    assert np.all(std > 0)


def test_ensemble_uncertainty_larger_out_of_distribution(trained):
    model, X, _ = trained
    flat = preprocess(COMMON_GRID, np.clip((COMMON_GRID - 1834) / 2, 0, 1))  # no white line
    _, std_in = model.predict(X[200:], return_std=True)
    _, std_out = model.predict(flat, return_std=True)
    assert std_out[0] > np.median(std_in)


def test_deterministic_with_seed():
    pytest.importorskip("torch")
    X, v = fixture_set(60, 1)
    params = {**FAST, "max_epochs": 20, "n_members": 1}
    a = SpectrumToValence(**params, seed=5).fit(X, v).predict(X)
    b = SpectrumToValence(**params, seed=5).fit(X, v).predict(X)
    c = SpectrumToValence(**params, seed=6).fit(X, v).predict(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_rdf_model_shapes_and_clip():
    pytest.importorskip("torch")
    X, v = fixture_set(40, 2)
    r = np.linspace(0, 5, 256)
    y = np.exp(-((r[None, :] - 1.6 - 0.1 * v[:, None]) ** 2) / 0.02) * 3
    model = SpectrumToRDF(hidden=(32, 32, 32), max_epochs=10, n_members=2).fit(X, y)
    mean, std = model.predict(X[:3], return_std=True)
    assert mean.shape == (3, 256) and std.shape == (3, 256)
    assert mean.min() >= 0


def test_window_slicing_picks_the_right_points():
    step = 50.0 / 255
    for name, (lo, hi) in SUB_WINDOWS.items():
        mask = window_mask(COMMON_GRID, (lo, hi))
        idx = np.nonzero(mask)[0]
        expected = [i for i in range(256) if lo <= 1830.0 + i * step <= hi]
        assert idx.tolist() == expected, name
        assert np.all(np.diff(idx) == 1) and 31 <= idx.size <= 33
    masks = [window_mask(COMMON_GRID, w) for w in SUB_WINDOWS.values()]
    assert sum(m.sum() for m in masks) == 256  # a-h tile the grid, no point twice
    assert window_mask(COMMON_GRID, SUB_WINDOWS["b"])[np.searchsorted(COMMON_GRID, 1840.0)]


def test_windowed_model_uses_only_its_points():
    pytest.importorskip("torch")
    X, v = fixture_set(40, 4)
    model = SpectrumToValence(**{**FAST, "max_epochs": 5, "n_members": 1},
                              window=SUB_WINDOWS["c"]).fit(X, v)
    assert model.members_[0][0][0].shape[1] == window_mask(COMMON_GRID, SUB_WINDOWS["c"]).sum()
    changed = X.copy()
    changed[:, ~window_mask(COMMON_GRID, SUB_WINDOWS["c"])] += 5.0
    assert np.array_equal(model.predict(X), model.predict(changed))


def test_save_load_round_trip_without_pickle(trained, tmp_path):
    model, X, _ = trained
    save_model(model, tmp_path / "m")
    with np.load(tmp_path / "m" / "model.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    with zipfile.ZipFile(tmp_path / "m" / "model.npz") as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    header = json.loads((tmp_path / "m" / "model.json").read_text())
    assert header["class"] == "SpectrumToValence" and header["n_members"] == 2
    loaded = load_model(tmp_path / "m")
    m1, s1 = model.predict(X, return_std=True)
    m2, s2 = loaded.predict(X, return_std=True)
    assert np.array_equal(m1, m2) and np.array_equal(s1, s2)
    for name in ("linear", "edge"):
        assert np.array_equal(model.predict_baseline(X)[name], loaded.predict_baseline(X)[name])


def test_invert_spectrum_on_any_grid_and_any_scale(trained):
    model, _, _ = trained
    fine = np.linspace(1820.0, 1900.0, 1601)  # another grid, another unit, a flat background
    result = invert_spectrum(model, fine, fixture_spectrum(2.0, fine, scale=37.0, background=4.0))
    direct = model.predict(preprocess(COMMON_GRID, fixture_spectrum(2.0)))
    assert result["value"] == pytest.approx(float(direct[0]), abs=0.05)
    assert result["value"] == pytest.approx(2.0, abs=0.25)
    assert result["std"] > 0 and set(result["baseline"]) == {"linear", "edge"}


def test_preprocess_is_idempotent_and_normalised():
    y = preprocess(COMMON_GRID, fixture_spectrum(1.0, scale=3.0, background=0.5))
    assert np.allclose(preprocess(COMMON_GRID, y), y)
    assert y[(COMMON_GRID >= 1865)].mean() == pytest.approx(1.0)
    assert abs(y[COMMON_GRID <= 1833].mean()) < 1e-12


def test_feature_extractors_on_analytic_curve():
    energy = np.linspace(1830, 1880, 5001)
    e0, height, sigma = 1843.0, 1.5, 1.0
    curve = 0.5 * (1 + erf((energy - e0) / 0.5)) + height * np.exp(-0.5 * ((energy - e0 - 4) / sigma) ** 2)
    white, integral, edge = heuristic_features(energy, curve[None, :])[0]
    assert edge == pytest.approx(e0, abs=0.01)
    assert white == pytest.approx(1.0 + height, abs=0.01)
    expected = 10.0 - 0.5 / np.sqrt(np.pi) * 0.5 + height * sigma * np.sqrt(2 * np.pi)  # erf tail
    assert integral == pytest.approx(expected, abs=0.05)
    noisy = curve.copy()
    noisy[np.searchsorted(energy, 1835.0)] = 0.9  # one spike below the edge is not the edge
    assert edge_position(energy, noisy) == pytest.approx(e0, abs=0.01)


def test_heuristic_baselines_monotone_and_linear_fit():
    v = np.linspace(0, 4, 30)
    X = np.stack([preprocess(COMMON_GRID, fixture_spectrum(x)) for x in v])
    feats = heuristic_features(COMMON_GRID, X)
    edge = EdgeBaseline().fit(feats, v)
    shifts = np.linspace(-0.5, 4.5, 60)
    probe = heuristic_features(COMMON_GRID, np.stack([preprocess(COMMON_GRID, fixture_spectrum(s))
                                                      for s in shifts]))
    pred = edge.predict(probe)
    assert np.all(np.diff(pred) >= 0) and pred[-1] > pred[0]
    lin = LinearBaseline().fit(feats, v)
    assert np.sqrt(np.mean((lin.predict(feats) - v) ** 2)) < 0.05  # exactly linear in the fixture


def test_ensemble_average_is_mean_of_parts():
    rng = np.random.default_rng(0)
    parts = rng.random((7, 256))
    cells = np.array(["b", "a", "b", "a", "b", "c", "a"], dtype=object)
    ids, mean, counts = ensemble_average(cells, parts)
    assert ids.tolist() == ["a", "b", "c"] and counts.tolist() == [3, 3, 1]
    assert np.allclose(mean[0], parts[[1, 3, 6]].mean(axis=0))
    assert np.allclose(mean[1], (parts[0] + parts[2] + parts[4]) / 3)
    assert np.array_equal(mean[2], parts[5])


@pytest.mark.parametrize("energy, intensity, message", [
    (COMMON_GRID, np.where(COMMON_GRID > 1850, np.nan, 1.0), "NaN"),
    (COMMON_GRID, np.ones(100), "energies"),
    (COMMON_GRID[::-1], np.ones(256), "increasing"),
    (np.linspace(1840, 1900, 300), np.ones(300), "covers"),
])
def test_bad_spectrum_is_one_line_error(energy, intensity, message):
    with pytest.raises(AmorphxasError, match=message) as info:
        preprocess(energy, intensity)
    assert "\n" not in str(info.value)


def test_bad_model_input_is_one_line_error(trained):
    model, X, _ = trained
    for bad, message in ((X[:, :100], "256 energy points"), (np.full((1, 256), np.nan), "NaN")):
        with pytest.raises(AmorphxasError, match=message) as info:
            model.predict(bad)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("", "no data rows"),
    ("1830\n1831\n", "two columns"),
    ("1832,1\n1831,2\n1830,3\n", "increasing"),
    ("1830,1\n1831,nan\n1832,3\n", "NaN"),
])
def test_read_spectrum_errors(tmp_path, text, message):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(AmorphxasError, match=message) as info:
        read_spectrum(path)
    assert "\n" not in str(info.value)


def test_read_spectrum_xdi_style(tmp_path):
    path = tmp_path / "s.xdi"
    path.write_text("# XDI/1.0\n# Element.symbol: Si\n#----\n# energy mu i0\n"
                    + "".join(f"{e:.3f} {m:.5f} 1.0\n" for e, m in zip(COMMON_GRID, fixture_spectrum(1.0))))
    energy, mu = read_spectrum(path)
    assert np.allclose(energy, COMMON_GRID, atol=1e-3) and mu.size == 256


def fixture_dataset(path, n_cells=4, per_cell=6, seed=0):
    """A tiny HAND-MADE FIXTURE dataset file (fake cells, fixture spectra), for plumbing tests."""
    from amorphxas.dataset import create, transaction
    from amorphxas.dataset.store import add_spectrum, add_structure, put_sites

    rng = np.random.default_rng(seed)
    create(path, COMMON_GRID)
    r = np.linspace(0, 5, 256)
    with transaction(path) as h5:
        for c in range(n_cells):
            cell = f"fixture_c{c}"
            add_structure(h5, cell, np.full(3, 14), np.zeros((3, 3)), np.eye(3) * 10, np.ones(3, bool),
                          {"composition_x": 0.5 * c})
            v = rng.integers(0, 5, per_cell + 2)
            put_sites(h5, cell, {
                "atom_index": np.arange(per_cell + 2), "valence": v,
                "motif": np.array(["fixture"] * (per_cell + 2)),
                "rdf": np.exp(-((r[None, :] - 1.6 - 0.1 * v[:, None]) ** 2) / 0.02),
                "rdf_r": r, "bader_charge": np.where(np.arange(per_cell + 2) % 2, 0.8 * v, np.nan)})
            for i in range(per_cell):  # the last two sites have no spectrum
                add_spectrum(h5, cell, i, 1e-3 * fixture_spectrum(v[i]), 1840.0,
                             COMMON_GRID, np.zeros((3, 256)), {})
    return path


def test_dataset_join_split_and_training(tmp_path):
    pytest.importorskip("torch")
    from amorphxas.inverse import evaluate_averaged, load_inverse_data, split_indices, train_inverse

    path = fixture_dataset(tmp_path / "fixture.h5")
    data = load_inverse_data(path, "valence")
    assert data.n_sites == 24 and data.n_cells == 4
    assert np.allclose(data.X[:, COMMON_GRID >= 1865].mean(axis=1), 1.0)
    train, test = split_indices(data.n_sites, data.cell_id, "cell", seed=1)
    assert not set(data.cell_id[train]) & set(data.cell_id[test])
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(24))
    model, metrics = train_inverse(path, "valence", split="cell", seed=0, cv_grid={},
                                   **{**FAST, "max_epochs": 30})
    for key in ("rmse", "r2", "n_train", "n_test", "baseline_rmse", "baseline_edge_rmse",
                "constant_rmse"):
        assert key in metrics
    json.dumps(metrics)
    averaged = evaluate_averaged(model, data)
    assert averaged["n_cells"] == 4 and averaged["n_sites"] == 24
    truth = [data.y[data.cell_id == c].mean() for c in sorted(set(data.cell_id))]
    assert np.allclose([row["true"] for row in averaged["cells"]], truth)


def test_too_few_sites_or_no_bader_is_refused(tmp_path):
    from amorphxas.inverse import InverseDataError, load_inverse_data

    path = fixture_dataset(tmp_path / "small.h5", n_cells=1, per_cell=5)
    with pytest.raises(InverseDataError, match="at least") as info:
        load_inverse_data(path, "valence")
    assert "\n" not in str(info.value)
    path = fixture_dataset(tmp_path / "bader.h5", n_cells=4, per_cell=6)
    assert load_inverse_data(path, "charge").n_sites == 12  # only the sites with a Bader charge
    with pytest.raises(InverseDataError, match="unknown target"):
        load_inverse_data(path, "density")


REAL_MIN = 15  # real-data test below: runs once the embedded dataset has this many site spectra


def test_real_data_nn_and_baseline_beat_constant(tmp_path):
    """On the project's real DFT dataset (copied); skipped until it holds REAL_MIN spectra."""
    pytest.importorskip("torch")
    import shutil

    from amorphxas.dataset import embedded_path, load_spectra
    from amorphxas.inverse import train_inverse

    copy = tmp_path / "real.h5"
    shutil.copyfile(embedded_path(), copy)
    n = load_spectra(copy).intensity.shape[0]
    if n < REAL_MIN:
        pytest.skip(f"embedded dataset holds {n} site spectra; this test needs {REAL_MIN}")
    for split in ("random", "cell"):
        _, metrics = train_inverse(copy, "valence", split=split, seed=0, cv_grid={},
                                   **{"max_epochs": 200, "n_members": 2})
        assert metrics["rmse"] < metrics["constant_rmse"], split
        assert metrics["baseline_rmse"] < metrics["constant_rmse"], split


@pytest.mark.parametrize("cls", [SpectrumToValence, SpectrumToRDF])
def test_numpy_forward_matches_torch(cls):
    torch = pytest.importorskip("torch")
    X, v = fixture_set(30, 5)
    y = v if cls is SpectrumToValence else np.tile(v[:, None], (1, 256))
    model = cls(hidden=(16, 16, 16), max_epochs=3, n_members=1).fit(X, y)
    net = model._build(torch, int(model.mask_.sum()), model.output_dim_).double()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for layer, (w, b) in zip(linears, model.members_[0]):
        layer.weight.data, layer.bias.data = torch.from_numpy(w), torch.from_numpy(b)
    xs = (X[:, model.mask_] - model.x_mean_) / model.x_scale_
    expected = net(torch.from_numpy(xs)).detach().numpy() * model.y_scale_ + model.y_mean_
    got = model.predict_members(X)[0]
    assert np.allclose(got, expected[:, 0] if model.scalar_ else expected, atol=1e-10)


def _integer_fixture_set(per_class, seed):
    rng = np.random.default_rng(seed)
    v = np.repeat(np.arange(5), per_class).astype(float)
    X = np.stack([preprocess(COMMON_GRID, fixture_spectrum(x) + 0.01 * rng.standard_normal(256))
                  for x in v])
    return X, v


def test_valence_fractions_recover_a_known_mixture():
    """A mixture of the per-valence mean spectra with known weights gives back those weights
    (the fit is exact for an exact mixture); a pure class gives fraction 1."""
    from amorphxas.inverse.fractions import ValenceFractions

    X, v = _integer_fixture_set(6, 1)
    lcf = ValenceFractions().fit(X, v)
    assert lcf.classes_.tolist() == [0, 1, 2, 3, 4]
    weights = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    mixed = weights @ lcf.components_
    np.testing.assert_allclose(lcf.predict(mixed)[0], weights, atol=1e-6)
    assert lcf.mean_valence(mixed)[0] == pytest.approx(weights @ np.arange(5), abs=1e-5)
    np.testing.assert_allclose(lcf.predict(lcf.components_[3])[0], np.eye(5)[3], atol=1e-6)
    noisy = lcf.predict(X)
    assert np.all(noisy >= 0) and np.allclose(noisy.sum(axis=1), 1.0)
    assert np.mean(noisy.argmax(axis=1) == v) > 0.9  # single noisy sites: their own class
    with pytest.raises(AmorphxasError, match="integer valences"):
        ValenceFractions().fit(X, v + 0.5)


def test_invert_command_gives_fractions_json_and_figure(tmp_path):
    """``amorphxas invert MODEL spectrum.csv --json --figure`` keeps working with a single-site
    valence model: the JSON has the LCF fractions (summing to one) and the network's answer
    (bounded), the figure is drawn; a descending energy axis is a one-line error."""
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from amorphxas.cli import app

    X, v = _integer_fixture_set(12, 2)
    model = SpectrumToValence(**FAST, seed=1).fit(X, v)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert np.array_equal(loaded.predict_fractions(X)[0], model.predict_fractions(X)[0])
    energy = np.linspace(1825.0, 1885.0, 400)
    csv = tmp_path / "s.csv"
    np.savetxt(csv, np.column_stack([energy, 0.3 * fixture_spectrum(1, energy)
                                     + 0.7 * fixture_spectrum(3, energy)]), delimiter=",")
    result = CliRunner().invoke(app, ["invert", str(tmp_path / "m"), str(csv), "--json",
                                      "--bootstrap", "5", "--figure", str(tmp_path / "f.png")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    fractions = out["fractions"]
    assert list(fractions) == ["Si0+", "Si1+", "Si2+", "Si3+", "Si4+"]
    assert sum(fractions.values()) == pytest.approx(1.0)
    assert 0.0 <= out["network"]["mean_valence"] <= 4.0
    assert (tmp_path / "f.png").stat().st_size > 10_000
    np.savetxt(csv, np.column_stack([energy[::-1], fixture_spectrum(1, energy)]), delimiter=",")
    bad = CliRunner().invoke(app, ["invert", str(tmp_path / "m"), str(csv)])
    assert bad.exit_code != 0 and len(bad.output.strip().splitlines()) == 1
