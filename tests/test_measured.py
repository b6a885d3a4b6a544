"""Measured-spectrum side of ``amorphxas invert``: reading, normalisation, calibration, LCF.

All spectra are built from the real DFT data of a copy of the embedded dataset (standards,
site spectra, the computed alpha-quartz and diamond-Si references); the only hand-made inputs
are the bad files and the column/XDI/Athena containers around real spectra.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from amorphxas.dataset import embedded_path
from amorphxas.dataset.loader import load_reference
from amorphxas.measured.answer import analyse, format_text
from amorphxas.measured.calibrate import calibrate, fit_reference
from amorphxas.measured.io import MeasuredInputError, MeasuredSpectrum, read_measured
from amorphxas.measured.lcf import fit_lcf
from amorphxas.measured.normalise import normalise
from amorphxas.measured.standards import LABELS, build_standards, export_standards

pytest.importorskip("larch")
TRUTH = np.array([0.3, 0.0, 0.2, 0.0, 0.5])  # Si0+ .. Si4+


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("measured") / "copy.h5"
    shutil.copy(embedded_path(), path)
    return path


@pytest.fixture(scope="module")
def standards(dataset):
    return build_standards(dataset)


def _sample(standards, fractions=TRUTH, scale=1000.0, offset=2.0, slope=0.0, noise=0.0, shift=0.0,
            seed=0) -> MeasuredSpectrum:
    """A mixture of the standards (per-absorber units) as a beamline would record it: scale,
    offset, a pre-edge line rising by ``slope`` x step over 1830-1880 eV, white noise (x step)
    and energies read ``shift`` eV low."""
    e = standards.energy
    rng = np.random.default_rng(seed)
    step = standards.common_step
    raw = step * (fractions @ standards.mean) + slope * step * (e - e[0]) / (e[-1] - e[0])
    raw = raw + noise * step * rng.standard_normal(e.size)
    return MeasuredSpectrum(energy=e - shift, mu=scale * raw + offset, source="sample")


def _quartz(dataset, shift=0.0) -> MeasuredSpectrum:
    e, i = load_reference(dataset, "alpha-quartz")
    return MeasuredSpectrum(energy=e - shift, mu=300.0 * i + 1.0, source="quartz-ref")


def test_exact_recovery_of_a_mixture_of_standards(standards):
    s = _sample(standards)
    norm = normalise(s.energy, s.mu)
    fit = fit_lcf(s.energy, norm.norm, standards.mean, standards.energy, shift_prior=None, n_boot=0)
    np.testing.assert_allclose(fit.fractions, TRUTH, atol=2e-3)
    assert fit.moment(np.arange(5))[0] == pytest.approx(TRUTH @ np.arange(5), abs=5e-3)
    assert fit.r_factor < 1e-5 and np.all(fit.fractions >= 0) and fit.fractions.sum() == pytest.approx(1)


def test_weighted_fit_with_valence_prior_recovers_a_known_mixture(standards):
    """Fixture: a known mixture of the standards; the GLS fit (weights from the standards' site
    covariance) with the linear-functional prior keeps the fractions and the mean valence."""
    s = _sample(standards)
    norm = normalise(s.energy, s.mu)
    lin = standards.linear_valence()
    assert 0.0 < lin.std < 0.3 and lin.alpha > 0
    fit = fit_lcf(s.energy, norm.norm, standards.mean, standards.energy, standards.sites,
                  shift_prior=None, n_boot=0, linear=lin)
    assert fit.weighting.startswith("generalised")
    mv, mv_std = fit.mean_valence()
    assert mv == pytest.approx(TRUTH @ np.arange(5), abs=0.08)
    # calibrated: the functional's CV error plus the reading term (small for an exact mixture)
    assert lin.std <= mv_std <= 1.05 * lin.std
    assert max(abs(fit.fractions - TRUTH)) < 0.06 and fit.fractions.sum() == pytest.approx(1)
    # the fractions' covariance carries at least the stated mean-valence error
    v = np.arange(5)
    assert v @ fit.cov @ v >= mv_std ** 2 * (1 - 1e-9)


def test_fractions_are_constrained_to_the_functional_mean_valence(standards):
    """Fixture: the TRUTH mixture (mean valence 2.6) and a functional whose intercept is moved by
    +0.3: the reported mean valence is the functional's, the constrained fractions follow it
    (sum_n n f_n = its value, non-negative, sum 1) and the unconstrained fit keeps the truth."""
    from dataclasses import replace

    s = _sample(standards)
    norm = normalise(s.energy, s.mu)
    lin = standards.linear_valence()
    moved = replace(lin, y_mean=lin.y_mean + 0.3)
    kw = dict(shift_prior=None, n_boot=5, linear=moved)
    on = fit_lcf(s.energy, norm.norm, standards.mean, standards.energy, standards.sites, **kw)
    off = fit_lcf(s.energy, norm.norm, standards.mean, standards.energy, standards.sites,
                  constrain_mean_valence=False, **kw)
    target = lin.predict(np.interp(lin.energy, standards.energy, TRUTH @ standards.mean)) + 0.3
    assert on.mean_valence_constrained and not off.mean_valence_constrained
    assert on.mean_valence()[0] == pytest.approx(target, abs=0.01)
    assert on.mean_valence()[0] == pytest.approx(off.mean_valence()[0], abs=1e-6)
    assert on.mean_valence()[0] - TRUTH @ np.arange(5) > 0.2
    assert on.moment(np.arange(5))[0] == pytest.approx(on.mean_valence_linear, abs=1e-5)
    assert np.all(on.fractions >= 0) and on.fractions.sum() == pytest.approx(1)
    assert off.moment(np.arange(5))[0] == pytest.approx(TRUTH @ np.arange(5), abs=0.02)
    # the constrained fractions' covariance carries the functional's error on sum_n n f_n
    v = np.arange(5)
    assert np.sqrt(v @ on.cov @ v) == pytest.approx(on.mean_valence()[1], rel=0.05)


def test_answer_names_its_methods_and_reports_the_functional(dataset, standards):
    sample = _sample(standards, noise=0.005)
    refs = [(_quartz(dataset), "alpha-quartz")]
    on = analyse(sample, dataset=dataset, references=refs, standards=standards, n_boot=5,
                 fractions="lcf-constrained").result
    off = analyse(sample, dataset=dataset, references=refs, standards=standards, n_boot=5,
                  constrain_mean_valence=False).result
    assert on["methods"] == {"fractions": "LCF constrained to the mean valence",
                             "mean_valence": "linear functional", "mean_bader_charge": "LCF"}
    assert on["mean_valence_method"].startswith("linear functional")
    assert "constrained to sum_n n f_n" in on["fractions_method"]
    assert on["fractions_constrained_to_mean_valence"] and not off["fractions_constrained_to_mean_valence"]
    assert off["methods"]["fractions"] == "LCF" and "constrained" not in off["fractions_method"]
    assert on["mean_valence"] == on["mean_valence_linear_functional"] == pytest.approx(off["mean_valence"])
    frac = np.array(list(on["fractions"].values()))
    assert frac @ np.arange(5) == pytest.approx(on["mean_valence"], abs=1e-5)
    assert on["mean_valence_lcf"] == pytest.approx(on["mean_valence"], abs=1e-5)
    text_on, text_off = format_text(on), format_text(off)
    assert "(linear functional)" in text_on and "constrained to the mean valence" in text_on
    assert "unconstrained" in text_off and "unconstrained" not in text_on
    assert "constrained to the mean valence" not in text_off


def test_functional_not_used_far_outside_its_domain(dataset, standards):
    """Fixture: the computed alpha-quartz crystal spectrum (all Si4+, not a mixture of the
    amorphous standards, R-factor > 0.05): the answer falls back to the free LCF and says so."""
    from amorphxas.measured.answer import R_FACTOR_FUNCTIONAL

    out = analyse(_quartz(dataset), dataset=dataset, standards=standards, n_boot=5).result
    assert out["fit"]["r_factor"] > R_FACTOR_FUNCTIONAL
    assert out["methods"]["mean_valence"] == "LCF" and out["methods"]["fractions"] == "LCF"
    assert out["mean_valence_linear_functional"] is None and out["mean_valence"] > 3.3
    assert any(w.startswith("linear functional not used") for w in out["warnings"])


def test_linear_valence_functional_is_bounded_and_tracks_mixtures(standards):
    lin = standards.linear_valence()
    for n in range(5):
        y = np.interp(lin.energy, standards.energy, standards.mean[n])
        assert 0.0 <= lin.predict(y) <= 4.0
        assert lin.predict(y) == pytest.approx(n, abs=0.3)
    assert lin.predict(np.full(lin.energy.size, 1e3)) in (0.0, 4.0)


def test_linear_valence_is_a_group_cv_ridge_and_predicts_a_known_mixture(standards):
    """Fixture: the TRUTH mixture of the standards' mean spectra (mean valence 2.6); the
    functional (scikit-learn Ridge) predicts it within its stated std, and its ridge strength is
    the one with the lowest error over grouped (cell-disjoint) CV splits."""
    from amorphxas.measured.linear_mv import ALPHAS, CV_GROUPS

    lin = standards.linear_valence()
    y = np.interp(lin.energy, standards.energy, TRUTH @ standards.mean)
    assert abs(lin.predict(y) - TRUTH @ np.arange(5)) <= lin.std
    assert sorted(lin.cv_mse) == sorted(ALPHAS)
    assert lin.alpha == min(lin.cv_mse, key=lin.cv_mse.get)
    assert lin.std_mixtures == pytest.approx(np.sqrt(lin.cv_mse[lin.alpha]))
    # stated std: the larger of the held-out mixtures' and the held-out cell averages' RMS error
    assert lin.std == pytest.approx(max(lin.std_mixtures, lin.std_cells)) and lin.std_cells > 0
    cells = [c for g in lin.cv_groups for c in g]
    assert len(lin.cv_groups) == CV_GROUPS and len(cells) == len(set(cells))
    assert set(cells) == set(np.concatenate(standards.cell_ids).tolist())


def test_project_simplex_is_the_euclidean_projection():
    """Fixture: points inside/outside the simplex; the projection (scipy nnls) equals the
    sort-based Euclidean projection, keeps sum_n n f_n when asked, and is the identity inside."""
    from amorphxas.measured.linear_fractions import project_simplex

    def reference(x):  # Euclidean projection onto the simplex (sort and threshold)
        u = np.sort(x)[::-1]
        c = np.cumsum(u) - 1.0
        r = np.nonzero(u - c / np.arange(1, x.size + 1) > 0)[0][-1]
        return np.maximum(x - c[r] / (r + 1.0), 0.0)

    inside = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
    np.testing.assert_allclose(project_simplex(inside), inside, atol=1e-7)
    for x in (np.array([0.6, 0.5, -0.2, 0.05, 0.05]), np.array([-0.3, 0.1, 0.4, 0.9, -0.1])):
        f = project_simplex(x)
        np.testing.assert_allclose(f, reference(x), atol=1e-6)
        g = project_simplex(x, mean_valence=2.0)
        assert np.all(g >= 0) and g.sum() == pytest.approx(1) and g @ np.arange(5) == pytest.approx(2, abs=1e-6)


def test_linear_fractions_functional_tracks_known_mixtures(standards):
    """Fixture: each pure standard and the TRUTH mixture (of the standards' mean spectra, common
    edge step, as the LCF hands it over): raw outputs sum to 1, the projection is on the simplex,
    the dominant valence of each standard is its own, TRUTH within 2.5 stated std per fraction;
    the ridge strength is the grouped-CV minimum, the stated std the CV error of the fractions."""
    from amorphxas.measured.linear_fractions import ALPHAS, VALENCES

    lf = standards.linear_fractions()
    assert sorted(lf.cv_mse) == sorted(ALPHAS) and lf.alpha == min(lf.cv_mse, key=lf.cv_mse.get)
    np.testing.assert_allclose(lf.std, np.sqrt(np.diag(lf.cov)))
    assert np.all((lf.std > 0) & (lf.std < 0.3)) and 0 < lf.mv_std < 0.5
    for n in VALENCES:
        y = np.interp(lf.energy, standards.energy, standards.mean[n])
        assert lf.raw(y).sum() == pytest.approx(1.0, abs=1e-9)
        f = lf.predict(y)
        assert np.all(f >= 0) and f.sum() == pytest.approx(1) and int(np.argmax(f)) == n
    y = np.interp(lf.energy, standards.energy, TRUTH @ standards.mean)
    assert np.all(np.abs(lf.predict(y) - TRUTH) <= 2.5 * lf.std)
    assert lf.mean_valence(y) == pytest.approx(TRUTH @ VALENCES, abs=0.2)
    with pytest.raises(Exception, match="finite values"):
        lf.raw(np.full(3, 0.5))


def test_default_fractions_are_the_functional_on_the_simplex(dataset, standards):
    """Fixture: the TRUTH mixture with 0.5 % noise and a computed quartz reference; the default
    answer's fractions are the linear functional's, on the simplex, with sum_n n f_n = the
    reported mean valence, each within its stated 95 % interval; the JSON names the method."""
    out = analyse(_sample(standards, noise=0.005), dataset=dataset, standards=standards, n_boot=0,
                  references=[(_quartz(dataset), "alpha-quartz")]).result
    assert out["methods"] == {"fractions": "linear functional", "mean_valence": "linear functional",
                              "mean_bader_charge": "linear functional"}
    assert out["fractions_method"].startswith("linear functional") and out["fractions_constrained_to_mean_valence"]
    f = np.array(list(out["fractions"].values()))
    assert np.all(f >= 0) and f.sum() == pytest.approx(1) and f @ np.arange(5) == pytest.approx(out["mean_valence"], abs=1e-5)
    assert list(out["fractions_lcf"]) == LABELS
    np.testing.assert_allclose(list(out["fractions_lcf"].values()), TRUTH, atol=0.05)
    for lab, t in zip(LABELS, TRUTH):
        assert abs(out["fractions"][lab] - t) <= 1.96 * out["fractions_std"][lab]
    assert "linear functional of the spectrum" in format_text(out)
    with pytest.raises(MeasuredInputError, match="fractions estimator"):
        analyse(_sample(standards), dataset=dataset, standards=standards, fractions="nnls")


def test_invariant_to_scale_and_offset(dataset, standards):
    a = analyse(_sample(standards, scale=1000.0, offset=2.0, noise=0.005), dataset=dataset,
                standards=standards, n_boot=0).result
    b = analyse(_sample(standards, scale=3.0, offset=-40.0, noise=0.005), dataset=dataset,
                standards=standards, n_boot=0).result
    assert a["fractions"] == pytest.approx(b["fractions"], abs=1e-6)
    assert a["mean_valence"] == pytest.approx(b["mean_valence"], abs=1e-6)


@pytest.mark.parametrize("slope", [0.05, 0.20])
def test_pre_edge_slope_and_noise_within_tolerance(dataset, standards, slope):
    out = analyse(_sample(standards, slope=slope, noise=0.01), dataset=dataset,
                  references=[(_quartz(dataset), "alpha-quartz")], standards=standards,
                  n_boot=20).result
    assert out["mean_valence"] == pytest.approx(TRUTH @ np.arange(5), abs=0.10)
    assert abs(out["mean_valence"] - TRUTH @ np.arange(5)) <= 1.96 * out["mean_valence_std"] + 0.02
    # constrained to the functional's mean valence (here ~0.04 off), weight moves between
    # neighbouring valences: each fraction within its stated 95 % interval and 0.15
    for lab, t in zip(LABELS, TRUTH):
        assert abs(out["fractions"][lab] - t) <= min(1.96 * out["fractions_std"][lab], 0.15)


def test_shift_with_reference_recovers_and_without_widens(dataset, standards):
    truth = TRUTH @ np.arange(5)
    sample = _sample(standards, noise=0.01, shift=1.0)
    cal = analyse(sample, dataset=dataset, references=[(_quartz(dataset, shift=1.0), "alpha-quartz")],
                  standards=standards, n_boot=20).result
    assert cal["calibrated"] and cal["energy_shift_eV"] == pytest.approx(1.0, abs=0.1)
    assert cal["mean_valence"] == pytest.approx(truth, abs=0.10)
    free = analyse(sample, dataset=dataset, standards=standards, n_boot=20).result
    assert not free["calibrated"] and any("energy not calibrated" in w for w in free["warnings"])
    assert free["mean_valence_std"] > 2 * cal["mean_valence_std"]
    assert abs(free["mean_valence"] - truth) <= 1.96 * free["mean_valence_std"]


def test_calibration_with_shifted_references(dataset):
    fit = fit_reference(_quartz(dataset, shift=0.7), "alpha-quartz", dataset)
    assert fit.shift == pytest.approx(0.7, abs=0.05) and fit.shift_std < 0.2
    # an energy axis with a scale error (chemical shifts read 10 % too wide around 1843 eV)
    e_q, i_q = load_reference(dataset, "alpha-quartz")
    e_s, i_s = load_reference(dataset, "diamond-si")

    def measured(e):
        return 1843.0 + (e - 1843.0) / 0.9 - 0.5

    refs = [(MeasuredSpectrum(measured(e_q), i_q, "q"), "alpha-quartz"),
            (MeasuredSpectrum(measured(e_s), i_s, "si"), "silicon")]
    two = calibrate(refs, dataset)
    assert two.method.startswith("two-point") and two.scale == pytest.approx(0.9, abs=0.03)
    probe = np.array([1840.0, 1846.8])
    np.testing.assert_allclose(two.apply(measured(probe)), probe, atol=0.15)
    with pytest.raises(MeasuredInputError, match="once per"):
        calibrate([refs[0], refs[0]], dataset)


def test_readers_columns_xdi_athena(tmp_path, standards):
    s = _sample(standards)
    i0 = np.full(s.energy.size, 2.0e5)
    it = i0 * np.exp(-s.mu / 1000.0)
    csv = tmp_path / "trans.csv"
    np.savetxt(csv, np.column_stack([s.energy, i0, it]), delimiter=",", header="energy,i0,it",
               comments="")
    got = read_measured(csv, columns="energy,ln(i0/it)")
    np.testing.assert_allclose(got.mu, s.mu / 1000.0, rtol=1e-9)
    tsv = tmp_path / "fluo.tsv"
    np.savetxt(tsv, np.column_stack([s.energy, i0, s.mu * i0]), delimiter="\t")
    np.testing.assert_allclose(read_measured(tsv, columns="1,3/2").mu, s.mu, rtol=1e-9)
    xdi = tmp_path / "s.xdi"
    lines = ["# XDI/1.0", "# Column.1: energy eV", "# Column.2: mutrans", "# Element.symbol: Si",
             "# Element.edge: K", "# Mono.d_spacing: 3.1356", "# ///", "#----", "# energy mutrans"]
    xdi.write_text("\n".join(lines + [f"{e:.4f} {m:.6f}" for e, m in zip(s.energy, s.mu)]) + "\n")
    np.testing.assert_allclose(read_measured(xdi).mu, s.mu, rtol=1e-6)
    from larch import Group
    from larch.io import AthenaProject

    prj = tmp_path / "s.prj"
    project = AthenaProject(str(prj))
    project.add_group(Group(energy=s.energy, mu=s.mu, filename="sample", groupname="sample"))
    project.save()
    np.testing.assert_allclose(read_measured(prj).mu, s.mu, rtol=1e-6)


def test_standards_export_reads_back_with_larch(tmp_path, standards):
    from larch.io import read_ascii

    files = export_standards(standards, tmp_path / "std")
    assert len(files) == 6
    group = read_ascii(str(tmp_path / "std" / "si4_standard.csv"))
    np.testing.assert_allclose(group.data[1], standards.mean[4], atol=1e-6)
    assert int(standards.count.sum()) >= 100


def test_invert_json_schema_and_text(tmp_path, dataset, standards):
    """The CLI's stable JSON names, bounded values; text output is a short table."""
    torch = pytest.importorskip("torch")  # noqa: F841
    from typer.testing import CliRunner

    from amorphxas.cli import app
    from amorphxas.inverse import save_model
    from amorphxas.inverse.nn import SpectrumToValence

    X = np.stack([normalise(standards.energy, standards.common_step * row, step=standards.common_step).norm
                  for row in standards.mean])
    model = SpectrumToValence(hidden=(16,), max_epochs=5, n_members=2, seed=0).fit(
        np.repeat(X, 4, axis=0), np.repeat(np.arange(5.0), 4))
    save_model(model, tmp_path / "m")
    s = _sample(standards, noise=0.01)
    csv = tmp_path / "s.csv"
    np.savetxt(csv, np.column_stack([s.energy, s.mu]), delimiter=",", header="energy_eV,mu", comments="")
    args = ["invert", str(tmp_path / "m"), str(csv), "--dataset", str(dataset), "--bootstrap", "5"]
    res = CliRunner().invoke(app, args + ["--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    for key in ("mean_valence", "mean_valence_std", "fractions", "fractions_std", "energy_shift_eV",
                "energy_shift_std_eV", "calibrated", "warnings", "fit"):
        assert key in out
    assert list(out["fractions"]) == LABELS == list(out["fractions_std"])
    assert set(out["fit"]) >= {"r_factor", "reduced_chi2"}
    assert isinstance(out["calibrated"], bool) and isinstance(out["warnings"], list)
    assert 0 <= out["mean_valence"] <= 4 and all(0 <= v <= 1 for v in out["fractions"].values())
    assert 0 <= out["network"]["mean_valence"] <= 4
    text = format_text(out)
    assert "mean valence" in text and "energy not calibrated" in text and "Si4+" in text
    summary = text.splitlines()[-1]
    assert summary.startswith("In words: mean valence") and "energy not calibrated" in summary
    assert out["methods"]["mean_valence"] == "linear functional"
    assert out["fractions_constrained_to_mean_valence"] is True
    res = CliRunner().invoke(app, args + ["--json", "--no-mean-valence-constraint"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["fractions_constrained_to_mean_valence"] is False
    res = CliRunner().invoke(app, args + ["--json", "--fractions", "lcf-constrained"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["methods"]["fractions"] == "LCF constrained to the mean valence"
    assert out["methods"]["fractions"] == "linear functional"
    res = CliRunner().invoke(app, args + ["-o", str(tmp_path / "answer.json")])
    assert res.exit_code == 0, res.output
    written = json.loads((tmp_path / "answer.json").read_text())
    assert written["mean_valence"] == pytest.approx(out["mean_valence"])
    assert "In words:" in res.output and "answer (JSON)" in res.output
    res = CliRunner().invoke(app, args + ["-o", str(tmp_path / "answer.txt")])
    assert res.exit_code != 0 and "answer.txt" in res.output


def _bad_files(tmp_path, standards):
    s = _sample(standards)
    e = s.energy
    rng = np.random.default_rng(3)
    files = {
        "kev.csv": np.column_stack([e / 1000.0, s.mu]),
        "relative.csv": np.column_stack([e - 1845.0, s.mu]),
        "flat.csv": np.column_stack([e, np.full(e.size, 5.0) + 1e-3 * rng.standard_normal(e.size)]),
        "noise.csv": np.column_stack([e, rng.standard_normal(e.size)]),
        "coarse.csv": np.column_stack([e[::12], s.mu[::12]]),
        "narrow.csv": np.column_stack([e[50:150], s.mu[50:150]]),
        "iron.csv": np.column_stack([e + 5270.0, s.mu]),
    }
    for name, table in files.items():
        np.savetxt(tmp_path / name, table, delimiter=",")
    (tmp_path / "garbage.xdi").write_text("# XDI/1.0\n# ///\nnot numbers at all\n")
    (tmp_path / "garbage.prj").write_bytes(b"\x1f\x8b not really gzip")
    return list(files) + ["garbage.xdi", "garbage.prj"]


def test_bad_files_give_one_line_errors_naming_them(tmp_path, dataset, standards):
    for name in _bad_files(tmp_path, standards):
        path = tmp_path / name
        with pytest.raises(MeasuredInputError) as info:
            analyse(path, dataset=dataset, standards=standards, n_boot=0)
        message = str(info.value)
        assert str(path) in message and "\n" not in message, (name, message)
    with pytest.raises(MeasuredInputError, match="no column named 'nope'"):
        read_measured(tmp_path / "kev.csv", columns="1,nope")
