"""Compact forward models: estimator contract, NPZ+JSON round trip, calibrated std, CHGNet and
physical descriptors (offline, invariant), the kNN domain check, and the default CLI model.

Arrays named ``fixture_*`` are hand-made test fixtures (a known linear map plus Gaussian noise,
not spectra); the domain-check test trains on a copy of the shipped dataset (real DFT spectra).
"""

import json
import shutil
import socket

import numpy as np
import pytest
from ase.spacegroup import crystal
from sklearn.base import clone

from amorphxas.descriptors import get_descriptor
from amorphxas.forward.compact import CompactSpectrum
from amorphxas.forward.compact_model import (
    CompactForwardModel,
    fit_domain,
    load_forward,
    structure_features,
    train_compact,
)
from amorphxas.forward.metrics import coverage_by_valence, rmse_energy, valence_mean_baseline
from amorphxas.forward.ridge import ForwardError
from tests.conftest import quartz9_atoms


def fixture_sites(n=120, d=6, n_energy=30, noise=0.05, seed=0):
    """X = [features (n, d), valence (also a feature), valence], Y = valence offset + features @ W
    + Gaussian noise; W is the same for every ``seed`` (only the sites change)."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, d))
    v = rng.integers(0, 5, n)
    W = np.random.default_rng(123).standard_normal((d, n_energy)) * 0.3
    offset = np.linspace(0, 1, 5)[:, None] * np.ones((5, n_energy))
    Y = offset[v] + F @ W + noise * rng.standard_normal((n, n_energy))
    groups = np.array([f"c{k % 8}" for k in range(n)])
    return np.column_stack([F, v, v]), Y, groups


def stishovite_atoms():
    """Stishovite (rutile-type SiO2, six-fold Si), 3x3x4 supercell (72 Si)."""
    a = crystal(["Si", "O"], basis=[(0, 0, 0), (0.3062, 0.3062, 0)], spacegroup=136,
                cellpar=[4.1773, 4.1773, 2.6655, 90, 90, 90])
    return a.repeat((3, 3, 4))


@pytest.mark.parametrize("method", ["ridge", "krr", "gp"])
def test_estimator_contract_and_bit_identical_npz_json_round_trip(tmp_path, method):
    X, Y, g = fixture_sites()
    est = CompactSpectrum(method=method, residual=True)
    assert clone(est).get_params() == est.get_params()
    est.fit(X, Y, groups=g)
    P, S = est.predict(X[:20], return_std=True)
    arrays, header = est.to_arrays()
    np.savez(tmp_path / "m.npz", **arrays)
    (tmp_path / "m.json").write_text(json.dumps(header))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        loaded = CompactSpectrum.from_arrays(dict(data), json.loads((tmp_path / "m.json").read_text()))
    P2, S2 = loaded.predict(X[:20], return_std=True)
    assert np.array_equal(P, P2) and np.array_equal(S, S2)


def test_ensemble_contract_round_trip_and_calibrated_std(tmp_path):
    from amorphxas.forward.ensemble import EnsembleSpectrum, estimator_from_arrays

    X, Y, g = fixture_sites(n=200, noise=0.03)
    Xt, Yt, _ = fixture_sites(n=100, noise=0.03, seed=1)
    members = ({"columns": (0, 3), "method": "krr", "residual": True},
               {"columns": (0, 7), "method": "krr", "residual": False})
    est = EnsembleSpectrum(members=members)
    assert clone(est).get_params() == est.get_params()
    est.fit(X, Y, groups=g)
    P, S = est.predict(Xt, return_std=True)
    base = rmse_energy(Yt, valence_mean_baseline(Y, X[:, -1], Xt[:, -1])).mean()
    assert rmse_energy(Yt, P).mean() < 0.5 * base
    z = np.abs(Yt - P) / S
    assert abs(np.mean(z <= 1) - 0.683) < 0.1 and abs(np.mean(z <= 2) - 0.954) < 0.1
    arrays, header = est.to_arrays()
    np.savez(tmp_path / "m.npz", **arrays)
    (tmp_path / "m.json").write_text(json.dumps(header))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        loaded = estimator_from_arrays(dict(data), json.loads((tmp_path / "m.json").read_text()))
    assert isinstance(loaded, EnsembleSpectrum)
    P2, S2 = loaded.predict(Xt, return_std=True)
    assert np.array_equal(P, P2) and np.array_equal(S, S2)
    with pytest.raises(ForwardError, match="outside"):
        EnsembleSpectrum(members=({"columns": (0, 9)},)).fit(X, Y)


def test_cell_shift_flags_a_uniformly_shifted_cell_not_a_new_one_of_the_family():
    from amorphxas.forward.cell_shift import cell_shift, fit_cell_shift

    rng = np.random.default_rng(3)
    F = rng.standard_normal((18 * 50, 6))  # fixture: 18 cells of 50 sites, one distribution
    v = rng.integers(0, 5, F.shape[0])
    F[:, 0] += v  # a valence-dependent feature
    cells = np.repeat([f"c{k}" for k in range(18)], 50)
    fit = fit_cell_shift(F, v, cells)
    assert len(fit["cell_loo_scores"]) == 18 and np.isfinite(fit["cell_threshold"])
    new_v = rng.integers(0, 5, 50)
    new = rng.standard_normal((50, 6))
    new[:, 0] += new_v
    assert cell_shift(new, new_v, fit["cell_mean"], fit["cell_sd"])[0] < fit["cell_threshold"]
    shifted = new.copy()
    shifted[:, 2] -= 2.0  # every site a little off in one feature (each site alone ordinary)
    score, shift = cell_shift(shifted, new_v, fit["cell_mean"], fit["cell_sd"])
    assert score > fit["cell_threshold"] and int(np.argmax(np.abs(shift))) == 2
    assert np.isnan(cell_shift(new[:3], new_v[:3], fit["cell_mean"], fit["cell_sd"])[0])


def test_ridge_recovers_the_map_and_beats_the_valence_mean_baseline():
    X, Y, g = fixture_sites(n=200, noise=0.02)
    Xt, Yt, _ = fixture_sites(n=100, noise=0.02, seed=1)
    for resid in (False, True):
        est = CompactSpectrum(method="ridge", residual=resid).fit(X, Y, groups=g)
        rmse = rmse_energy(Yt, est.predict(Xt)).mean()
        base = rmse_energy(Yt, valence_mean_baseline(Y, X[:, -1], Xt[:, -1])).mean()
        assert rmse < 0.2 * base
        assert rmse < 0.04  # noise 0.02 + estimation error


def test_calibrated_std_covers_nominal_fractions_on_a_gaussian_case():
    # heteroscedastic by valence: noise 0.03 for v < 2, 0.06 for v >= 2
    X, Y, g = fixture_sites(n=400, noise=0.0, seed=2)
    rng = np.random.default_rng(5)
    sd = np.where(X[:, -1] >= 2, 0.06, 0.03)[:, None]
    Y = Y + sd * rng.standard_normal(Y.shape)
    est = CompactSpectrum(method="ridge", residual=True).fit(X[:300], Y[:300], groups=g[:300])
    P, S = est.predict(X[300:], return_std=True)
    cov = coverage_by_valence(Y[300:], P, S, X[300:, -1].astype(int))
    for v, c in cov.items():
        assert abs(c["within_1sigma"] - 0.683) < 0.08, (v, c)
        assert abs(c["within_2sigma"] - 0.954) < 0.05, (v, c)


def test_coverage_counts_points_inside_the_bands():
    Y = np.array([[0.5, 1.5, 2.5, 0.0]])
    cov = coverage_by_valence(Y, np.zeros_like(Y), np.ones_like(Y), np.array([3]))
    assert cov == {"3": {"within_1sigma": 0.5, "within_2sigma": 0.75, "n_test": 1}}


def test_bad_input_is_a_one_line_error():
    X, Y, g = fixture_sites()
    est = CompactSpectrum().fit(X, Y, groups=g)
    with pytest.raises(ForwardError, match="shape"):
        est.predict(X[:, :-1])
    X[0, 0] = np.nan
    with pytest.raises(ForwardError, match="NaN"):
        CompactSpectrum().fit(X, Y)
    with pytest.raises(ForwardError, match="unknown method"):
        CompactSpectrum(method="svm").fit(np.ones((5, 2)), np.ones((5, 3)))


def _rotated_translated(atoms):
    b = atoms.copy()
    b.rotate(37.0, (1, 2, 3), rotate_cell=True)
    b.translate((0.7, -1.3, 2.1))
    b.wrap()
    return b


def test_chgnet_embeddings_are_offline_and_rotation_translation_invariant(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    desc = get_descriptor("chgnet")
    a = quartz9_atoms()
    X = desc.compute(a)
    assert X.shape == (3, 64) and np.all(np.isfinite(X)) and np.abs(X).max() > 0
    X2 = desc.compute(_rotated_translated(a))
    np.testing.assert_allclose(X2, X, atol=1e-4)
    assert desc.parameters()["params"]["chgnet_version"] == "0.4.2"


def test_chgnet_runs_without_autograd(monkeypatch):
    """The network is evaluated under no_grad (a 9,826-atom cell with autograd needs > 16 GB)."""
    import torch

    from amorphxas.descriptors import chgnet_backend

    seen = []

    class FakeModel:
        def predict_structure(self, structure, task, return_atom_feas):
            seen.append(torch.is_grad_enabled())
            return {"atom_fea": np.ones((len(structure), 64))}

    monkeypatch.setattr(chgnet_backend, "chgnet_model", lambda: FakeModel())
    X = get_descriptor("chgnet").compute(quartz9_atoms())
    assert seen == [False] and X.shape == (3, 64) and torch.is_grad_enabled()


def test_physical_features_of_quartz_and_invariance():
    a = quartz9_atoms()
    desc = get_descriptor("physical")
    X = desc.compute(a)
    names = desc.params["names"]
    col = {n: X[:, names.index(n)] for n in names}
    assert np.all(col["n_O"] == 4) and np.all(col["n_Si"] == 0)
    np.testing.assert_allclose(col["d_SiO_mean"], 1.61, atol=0.01)
    np.testing.assert_allclose(col["angle_OSiO_mean"], 109.47, atol=0.1)
    np.testing.assert_allclose(col["bridge_SiOSi_mean"], 143.7, atol=1.0)
    np.testing.assert_allclose(desc.compute(_rotated_translated(a)), X, atol=1e-8)


def test_domain_fit_flags_far_points_not_near_ones():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((300, 4))
    cells = np.repeat([f"c{k}" for k in range(10)], 30)
    dom = fit_domain(F, cells, n_pcs=4, quantile=0.98)
    est = CompactSpectrum().fit(np.column_stack([F, np.zeros(300)]), F[:, :2])
    model = CompactForwardModel(estimator=est, domain=dom, energy=np.arange(2.0),
                                header={"kinds": ["fixture"]})
    near = np.column_stack([rng.standard_normal((200, 4)), np.zeros(200)])
    far = np.column_stack([rng.standard_normal((50, 4)) + 8.0, np.zeros(50)])
    assert model.domain_check(near)["n_outside"] <= 0.1 * 200
    assert model.domain_check(far)["n_outside"] == 50


@pytest.fixture(scope="module")
def physical_model(tmp_path_factory):
    from amorphxas.dataset import embedded_path

    copy = tmp_path_factory.mktemp("data") / "copy.h5"
    shutil.copy(embedded_path(), copy)
    model, metrics = train_compact(copy, kinds=["physical"], method="ridge", split="cell")
    return model, metrics, copy


def test_model_on_real_spectra_beats_baseline_saves_and_flags_sixfold_si(physical_model, tmp_path):
    model, metrics, _ = physical_model
    assert metrics["rmse_total"] < metrics["baseline_rmse_total"]
    assert set(metrics["calibration"]["by_valence"]) <= {"0", "1", "2", "3", "4"}
    model.save(tmp_path / "model")
    loaded = load_forward(tmp_path)
    assert isinstance(loaded, CompactForwardModel)
    X, _ = structure_features(quartz9_atoms(), loaded.kinds)
    a, b = model.predict(X, return_std=True), loaded.predict(X, return_std=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    Xs, _ = structure_features(stishovite_atoms(), loaded.kinds)
    check = loaded.domain_check(Xs)
    assert check["n_outside_knn"] >= 0.9 * check["n_sites"]  # by the features, not the O count
    assert check["n_outside"] == check["n_sites"]


def test_cli_default_trains_the_winner_and_predict_flags_sixfold_si(physical_model, tmp_path):
    from ase.io import write
    from typer.testing import CliRunner

    from amorphxas.cli import app
    from amorphxas.forward.compact_model import DEFAULT_ENSEMBLE

    _, _, copy = physical_model
    runner = CliRunner()
    result = runner.invoke(app, ["train", "forward", str(copy), "-o", str(tmp_path / "fwd")])
    assert result.exit_code == 0, result.output
    header = json.loads((tmp_path / "fwd" / "model.json").read_text())
    assert header["format"] == "amorphxas.forward.compact/1"
    assert header["settings"]["ensemble"] == DEFAULT_ENSEMBLE["members"] and header["split"] == "cell"
    assert header["estimator"]["type"] == "ensemble" and header["kinds"] == ["chgnet", "physical"]
    assert header["metrics"]["rmse_total"] < header["metrics"]["baseline_rmse_total"]
    write(tmp_path / "stishovite.extxyz", stishovite_atoms())
    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", str(tmp_path / "fwd"), str(tmp_path / "stishovite.extxyz"),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: 72 of 72 Si sites outside the training domain" in result.output
    flags = np.loadtxt(tmp_path / "pred.sites.csv", delimiter=",", skiprows=1)
    assert flags.shape == (72, 4) and np.all(flags[:, 3] == 1)
    assert np.loadtxt(out, delimiter=",", skiprows=1).shape == (256, 4 + 2 * 72)
    # a crystal: every site alone may pass, the structure as a whole is outside the cells' spread
    write(tmp_path / "quartz.extxyz", quartz9_atoms().repeat((2, 1, 1)))
    result = runner.invoke(app, ["predict", str(tmp_path / "fwd"), str(tmp_path / "quartz.extxyz"),
                                 "-o", str(tmp_path / "q.csv")])
    assert result.exit_code == 0, result.output
    assert "warning: the structure as a whole is outside the training cells'" in result.output


def test_benchmark_numbers_in_the_model_metadata_equal_their_results_files():
    """What every default model records about its choice is what the benchmark files hold."""
    from pathlib import Path

    from amorphxas.forward.compact_model import BENCHMARK

    root = Path(__file__).resolve().parents[1]
    shipped = json.loads((root / BENCHMARK["source"]).read_text())
    assert len(shipped["runs"]) == BENCHMARK["n_seeds"] and shipped["split"] == "cell"
    summ = shipped["summary"]
    ratio = summ["default"]["ratio"]
    assert ratio["mean"] == pytest.approx(BENCHMARK["cell_split_ratio_to_baseline"], abs=5e-5)
    assert ratio["std"] == pytest.approx(BENCHMARK["cell_split_ratio_std"], abs=5e-5)
    diff = summ["paired_diff_default_minus_single"]
    assert diff["mean"] == pytest.approx(BENCHMARK["cell_split_paired_diff_to_single"], abs=5e-5)
    assert diff["std"] == pytest.approx(BENCHMARK["cell_split_paired_diff_std"], abs=5e-5)
    cell, random = (json.loads((root / f).read_text()) for f in BENCHMARK["source_candidates"])
    assert cell["n_spectra_by_fidelity"] == BENCHMARK["n_spectra_by_fidelity"]
    assert cell["summary"]["v4+gamma"]["candidates"][BENCHMARK["candidate"]]["ratio_own_baseline"][
        "mean"] == pytest.approx(BENCHMARK["cell_split_ratio_to_baseline"], abs=2e-3)
    row = random["summary"]["v4+gamma"]["candidates"][BENCHMARK["candidate"]]
    assert row["ratio_own_baseline"]["mean"] == pytest.approx(
        BENCHMARK["random_split_ratio_to_baseline"], abs=5e-5)
