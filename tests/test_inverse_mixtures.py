"""Measured-spectrum models: site-spectrum mixtures, beamline perturbations, bounded outputs,
interval calibration, out-of-domain flags. All spectra here are HAND-MADE TEST FIXTURES (an erf
step plus a Gaussian white line whose position follows a made-up valence), never data."""

import json
import zipfile

import numpy as np
import pytest
from scipy.special import erf

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.inverse.baseline import edge_position
from amorphxas.inverse.mixture_models import (
    CHARGE_RANGE_E,
    MeasuredModels,
    predict_measured,
    train_measured,
)
from amorphxas.inverse.mixtures import (
    apply_beamline,
    mix,
    perturb,
    renormalise,
    site_spectrum_mixtures,
)
from amorphxas.inverse.preprocess import InverseInputError, ensemble_average, preprocess
from amorphxas.inverse.uncertainty import IntervalCalibration, conformal_quantile, coverage
from amorphxas.inverse.workflow import InverseData

E = COMMON_GRID


def fixture_site(v, rng):
    """Hand-made fixture site spectrum (raw units ~0.01): edge at 1839 + 1.6 v eV."""
    e0 = 1839.0 + 1.6 * v + 0.3 * rng.standard_normal()
    step = 0.5 * (1 + erf((E - e0) / 0.9))
    line = (0.5 + 0.3 * v) * np.exp(-0.5 * ((E - e0 - 2.5) / 1.4) ** 2)
    return 0.01 * (step + line) * (1 + 0.1 * rng.standard_normal())


def fixture_data(target, n_cells=8, per_cell=8, seed=0):
    rng = np.random.default_rng(seed)
    cell = np.repeat([f"cell{k}" for k in range(n_cells)], per_cell).astype(object)
    valence = rng.integers(0, 5, cell.size)
    raw = np.stack([fixture_site(v, rng) for v in valence])
    charge = 0.8 * valence - 0.1 + 0.1 * rng.standard_normal(cell.size)
    r = np.linspace(0, 5, 256)
    rdf = np.stack([(1 + v) * np.exp(-0.5 * ((r - 1.6) / 0.05) ** 2) for v in valence])
    y = {"valence": valence.astype(float), "charge": charge, "rdf": rdf}[target]
    return InverseData(X=renormalise(raw), raw=raw, energy=E.copy(), y=y, cell_id=cell,
                       atom_index=np.arange(cell.size), valence=valence, rdf_r=r, target=target,
                       source="hand-made fixture")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    pytest.importorskip("torch")
    datas = {t: fixture_data(t) for t in ("valence", "charge", "rdf")}
    models = train_measured(datas=datas, n_mix=300, n_calib=200, n_members=2, hidden=(32, 32),
                            max_epochs=60, patience=10, seed=1)
    directory = tmp_path_factory.mktemp("measured") / "model"
    models.save(directory)
    return models, directory, datas


def test_mixture_targets_are_exact_weighted_means():
    d = fixture_data("charge")
    W, kinds = site_spectrum_mixtures(d.cell_id, d.valence, 400, seed=3)
    assert W.shape == (400, d.n_sites) and np.all(W >= 0) and np.allclose(W.sum(axis=1), 1)
    assert set(kinds) == {"single", "subset", "cell", "dirichlet"}
    spectra, targets = mix(W, d.raw, d.y)
    k = np.flatnonzero(kinds == "dirichlet")[0]
    used = np.flatnonzero(W[k])
    assert spectra[k] == pytest.approx((W[k, used][:, None] * d.raw[used]).sum(axis=0))
    assert targets[k] == pytest.approx(float(np.dot(W[k, used], d.y[used])))
    cells, means, _ = ensemble_average(d.cell_id, d.raw)  # a whole cell = its averaged spectrum
    c = np.flatnonzero(kinds == "cell")[0]
    which = d.cell_id[np.flatnonzero(W[c])[0]]
    assert np.allclose(spectra[c], means[list(cells).index(which)])
    assert targets[c] == pytest.approx(d.y[d.cell_id == which].mean())
    assert np.all(np.sum(W[kinds == "single"] == 1.0, axis=1) == 1)
    # mean valence of a Dirichlet mixture = sum_n n * (weight on the Si(n) sites)
    fractions = np.array([W[k, d.valence == v].sum() for v in range(5)])
    _, valences = mix(W[[k]], d.raw, d.valence.astype(float))
    assert valences[0] == pytest.approx(fractions @ np.arange(5))
    with pytest.raises(InverseInputError):
        mix(-W, d.raw, d.y)


def test_beamline_perturbations_do_what_they_say():
    d = fixture_data("valence")
    X = d.X[:3]
    assert np.allclose(renormalise(X), np.stack([preprocess(E, x) for x in d.raw[:3]]))
    shifted = apply_beamline(X, shift_eV=1.0)
    for a, b in zip(X, shifted):
        assert edge_position(E, b) - edge_position(E, a) == pytest.approx(1.0, abs=0.05)
    assert np.allclose(apply_beamline(X, scale=3.0, offset=0.5), X)  # removed by normalisation
    sloped = apply_beamline(X, slope=0.2)
    assert not np.allclose(sloped, X)
    assert np.allclose(sloped[:, E <= 1833].mean(axis=1), 0)
    assert np.allclose(sloped[:, E >= 1865].mean(axis=1), 1)
    noisy, draws = perturb(X, seed=1)
    assert noisy.shape == X.shape and set(draws) >= {"shift_eV", "slope", "noise", "broadening_eV"}


def test_coverage_on_a_synthetic_gaussian_case():
    assert coverage([0, 1, 2, 3], [-1, 1.5, 1, 2], [1, 2, 3, 2.5]) == 0.5
    assert conformal_quantile(np.arange(1, 100), 0.5) == 50.0
    rng = np.random.default_rng(0)
    n = 4000
    sigma = rng.uniform(0.1, 0.5, 2 * n)
    y = 2.0 + sigma * rng.standard_normal(2 * n)
    mean, ens_std = np.full(2 * n, 2.0), sigma / 5  # an ensemble 5x overconfident
    cal = IntervalCalibration().fit(y[:n], mean[:n], ens_std[:n])
    assert cal.raw_coverage_[0.68] < 0.25  # the uncalibrated +-std covers far less than 68 %
    for level, tol in ((0.68, 0.03), (0.95, 0.015)):
        hw = cal.half_width(ens_std[n:], level)
        assert coverage(y[n:], mean[n:] - hw, mean[n:] + hw) == pytest.approx(level, abs=tol)
    assert cal.scale_ == pytest.approx(5.0, rel=0.1)
    again = IntervalCalibration.from_dict(json.loads(json.dumps(cal.as_dict())))
    assert np.allclose(again.half_width(ens_std, 0.95), cal.half_width(ens_std, 0.95))


def test_predictions_bounded_for_adversarial_inputs(measured):
    models, _, datas = measured
    x = datas["valence"].X[0]
    spike = x.copy()
    spike[120] += 1e6
    rng = np.random.default_rng(5)
    cases = {"spike": spike, "noise": 1.0 + 50 * rng.standard_normal(E.size),
             "huge": 1e12 * x, "steep": x + 30 * (E - E[0]) / 50}
    r_max = datas["rdf"].y.max(axis=0)
    for name, y in cases.items():
        r = models.predict(E, y)
        assert 0 <= r["mean_valence"] <= 4, name
        lo, hi = r["mean_valence_interval_95"]
        assert 0 <= lo <= r["mean_valence"] <= hi <= 4, name
        assert CHARGE_RANGE_E[0] <= r["mean_charge_e"] <= CHARGE_RANGE_E[1], name
        g = np.array(r["rdf"]["g"])
        assert np.all(g >= 0) and np.all(g <= r_max + 1e-9), name
        assert all(np.isfinite(v) for v in (r["mean_valence_std"], r["mean_charge_e_std"]))
        if name in ("spike", "noise", "steep"):
            assert not r["in_domain"] and r["out_of_domain_reasons"], name
    ok = models.predict(E, datas["valence"].raw[0] * 1000 + 2)
    assert ok["in_domain"], ok["out_of_domain_reasons"]
    assert ok["energy_calibrated"] and ok["warnings"] == []


def test_refusals_not_nan(measured):
    models, _, datas = measured
    x = datas["valence"].X[0]
    coarse = np.linspace(1830, 1880, 5)
    with pytest.raises(InverseInputError, match="largest step"):
        models.predict(coarse, np.interp(coarse, E, x))
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(InverseInputError, match="NaN"):
        models.predict(E, bad)
    with pytest.raises(InverseInputError, match="post-edge"):
        models.predict(E, -x)  # no positive edge step


def test_uncalibrated_energy_widens_the_interval(measured):
    models, _, datas = measured
    x = datas["valence"].raw[5]
    cal = models.predict(E, x)
    unc = models.predict(E, x, calibrated=False)
    assert unc["mean_valence_std"] > cal["mean_valence_std"]
    assert not unc["energy_calibrated"] and unc["shift_prior_eV"] == 1.5
    assert any("not calibrated" in w for w in unc["warnings"])


def test_save_load_npz_json_only_and_nan_weights_refused(measured, tmp_path):
    models, directory, datas = measured
    files = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    assert all(f.endswith((".npz", ".json")) for f in files) and "measured.json" in files
    for npz in directory.rglob("*.npz"):
        with zipfile.ZipFile(npz) as z:
            assert all(name.endswith(".npy") for name in z.namelist())
        with np.load(npz, allow_pickle=False) as data:
            assert all(data[k].dtype != object for k in data.files)
    x = datas["valence"].raw[3]
    a, b = models.predict(E, x), predict_measured(directory, E, x)
    assert a["mean_valence"] == b["mean_valence"] and a["mean_charge_e_std"] == b["mean_charge_e_std"]
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(directory, broken)
    npz = broken / "valence" / "model.npz"
    with np.load(npz, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["member0.layer0.weight"] = arrays["member0.layer0.weight"].copy()
    arrays["member0.layer0.weight"][0, 0] = np.nan
    np.savez(npz, **arrays)
    with pytest.raises(AmorphxasError, match="non-finite"):
        predict_measured(broken, E, x)
    with pytest.raises(AmorphxasError, match="measured.json"):
        MeasuredModels.load(tmp_path / "nowhere")


def test_bounded_head_numpy_matches_torch_and_stays_in_range():
    torch = pytest.importorskip("torch")
    from amorphxas.inverse.nn import SpectrumToValence, _BoundedHead

    d = fixture_data("valence")
    model = SpectrumToValence(hidden=(16, 16), max_epochs=5, n_members=1, bounds=(0.0, 4.0),
                              fit_baseline=False).fit(d.X, d.y)
    net = model._build(torch, int(model.mask_.sum()), 1).double()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for layer, (w, b) in zip(linears, model.members_[0]):
        layer.weight.data, layer.bias.data = torch.from_numpy(w), torch.from_numpy(b)
    lo, hi = (torch.from_numpy(b / model.y_scale_) for b in model.bounds_)
    net = torch.nn.Sequential(*net, _BoundedHead(torch, lo, hi))
    xs = (d.X[:, model.mask_] - model.x_mean_) / model.x_scale_
    expected = net(torch.from_numpy(xs)).detach().numpy()[:, 0] * model.y_scale_[0]
    assert np.allclose(model.predict_members(d.X)[0], expected, atol=1e-10)
    wild = np.vstack([1e6 * d.X[:2], -1e6 * d.X[:2]])
    pred, std = model.predict(wild, return_std=True)
    assert np.all((pred >= 0) & (pred <= 4)) and np.all(np.isfinite(std))


def test_site_networks_from_train_inverse_are_bounded():
    pytest.importorskip("torch")
    from amorphxas.inverse.nn import CHARGE_RANGE_E as RANGE
    from amorphxas.inverse.workflow import train_inverse

    data = fixture_data("charge")
    model, _ = train_inverse(target="charge", data=data, split="cell", cv_grid={}, hidden=(16, 16),
                             max_epochs=10, n_members=1)
    assert np.allclose(model.bounds_[0], RANGE[0]) and np.allclose(model.bounds_[1], RANGE[1])
    spike = data.X[:1].copy()
    spike[0, 100] = 1e7
    pred = model.predict(np.vstack([spike, -spike]))
    assert np.all((pred >= RANGE[0]) & (pred <= RANGE[1]))
    rdf, _ = train_inverse(target="rdf", data=fixture_data("rdf"), split="cell", cv_grid={},
                           hidden=(16, 16), max_epochs=5, n_members=1)
    g = rdf.predict(np.vstack([spike, -spike]))
    assert np.all(g >= 0) and np.all(g <= fixture_data("rdf").y.max(axis=0) + 1e-9)
