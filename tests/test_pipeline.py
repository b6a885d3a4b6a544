"""`amorphxas run --quick` on the embedded (real) dataset: files, sections, numbers, bad input."""

import json
import shutil
from html import escape as html_escape

import h5py
import numpy as np
import pytest

from amorphxas.core.errors import DatasetError
from amorphxas.dataset import embedded_path, info, load_sites, load_spectra
from amorphxas.pipeline import run_pipeline


@pytest.fixture(scope="module")
def quick_run(quick_pipeline_run):
    return quick_pipeline_run


def test_run_writes_report_metrics_and_non_empty_figures(quick_run):
    out, metrics = quick_run
    assert (out / "report.html").stat().st_size > 1000
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["quick"] is True and saved["amorphxas_version"]
    html = (out / "report.html").read_text()
    for section in saved["sections"]:
        assert html_escape(section["title"]) in html
        for figure in section.get("figures", []):
            path = out / figure["file"]
            assert path.stat().st_size > 2000, path  # a PNG with content, not an empty canvas
            assert "base64," in html  # embedded, no external file needed
    for reason in saved["missing"]:
        assert html_escape(reason.split(":")[0]) in html
    # every table also as CSV, with one row per table row; captions carry the provenance
    from amorphxas.report.html import _slug, provenance

    for section in saved["sections"]:
        if section.get("table"):
            lines = (out / "tables" / f"{_slug(section['title'])}.csv").read_text().strip().splitlines()
            assert len(lines) == 1 + len(section["table"])
    n_figures = sum(len(s.get("figures", [])) for s in saved["sections"])
    assert html.count(html_escape(provenance(saved))) == 2 * n_figures  # alt text and caption


def test_run_reports_the_dataset_counts_it_was_given(quick_run):
    _, metrics = quick_run
    counts = info(embedded_path())
    for key in ("n_sites", "by_valence", "by_composition", "n_cells", "n_bader"):
        assert metrics["dataset"][key] == counts[key]


def test_chemical_shift_table_equals_an_independent_recomputation(quick_run):
    """Edge of each valence's mean spectrum: first half-maximum crossing, recomputed here; the
    report prints it to 0.01 eV."""
    out, metrics = quick_run
    sites, spectra = load_sites(embedded_path()), load_spectra(embedded_path())
    valence = {(c, int(i)): int(v) for c, i, v in zip(sites.cell_id, sites.atom_index, sites.valence)}
    rows = np.array([valence[(c, int(i))] for c, i in zip(spectra.cell_id, spectra.atom_index)])
    shifts = {int(k): v for k, v in metrics["chemical_shifts"].items()}
    assert set(shifts) == set(rows[rows <= 4].tolist())
    for v, entry in shifts.items():
        mean = spectra.intensity[rows == v].mean(axis=0)
        assert entry["n_sites"] == int((rows == v).sum())
        k = int(np.argmax(mean >= mean.max() / 2))
        e = spectra.energy
        edge = e[k - 1] + (mean.max() / 2 - mean[k - 1]) * (e[k] - e[k - 1]) / (mean[k] - mean[k - 1])
        assert entry["edge_eV"] == pytest.approx(edge, abs=1e-6)
        assert f"{entry['edge_eV']:.2f}" in (out / "report.html").read_text()
    edges = [shifts[v]["edge_eV"] for v in sorted(shifts)]
    assert np.all(np.diff(edges) > 0), "the edge must rise with the number of O neighbours"


def test_forward_rows_in_the_report_equal_the_evaluation(quick_run):
    from amorphxas.forward.model import MIN_SITES

    _, metrics = quick_run
    if "forward" not in metrics:
        # a refusal is only an excuse while the shipped data is too small to train on
        assert load_spectra(embedded_path()).intensity.shape[0] < MIN_SITES, (
            "forward stage refused on a dataset large enough: " + "; ".join(metrics["missing"]))
        pytest.skip("forward stage refused: " + "; ".join(metrics["missing"]))
    assert not any(reason.startswith("forward") for reason in metrics["missing"]), metrics["missing"]
    table = metrics["forward"]["kinds"]["soap-gto"]["table"]
    for modes in table.values():
        for m in modes.values():
            assert np.isfinite(m["rmse_total"]["mean"])
            assert min(np.atleast_1d(m["n_train"])) > 0 and min(np.atleast_1d(m["n_test"])) > 0


def test_dataset_without_the_spectra_group_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.h5"
    shutil.copyfile(embedded_path(), bad)
    with h5py.File(bad, "a") as h5:
        del h5["spectra"]
    with pytest.raises(DatasetError, match="missing group /spectra") as exc:
        run_pipeline(bad, tmp_path / "out", quick=True, log=lambda *a: None)
    assert "\n" not in str(exc.value)


def test_dataset_of_another_schema_version_is_refused(tmp_path):
    bad = tmp_path / "old.h5"
    shutil.copyfile(embedded_path(), bad)
    with h5py.File(bad, "a") as h5:
        h5.attrs["schema_version"] = 99
    with pytest.raises(DatasetError, match="schema version 99"):
        run_pipeline(bad, tmp_path / "out", quick=True, log=lambda *a: None)


def test_valence_distribution_follows_composition():
    """a-Si has only Si0; more O per Si means more O neighbours per Si (monotonic mean valence);
    the fractions of each composition add up to one."""
    from amorphxas.dataset.statistics import valence_distribution

    dist = valence_distribution(embedded_path())
    assert dist[0.0]["fractions"][0] == 1.0
    means = [np.dot(d["fractions"], np.arange(6)) for _, d in sorted(dist.items())]
    assert np.all(np.diff(means) > 0)
    for d in dist.values():
        assert abs(sum(d["fractions"]) - 1.0) < 1e-12


def test_terminal_summary_carries_the_saved_numbers(quick_run):
    """Every forward RMSE and inverse RMSE/R2 in metrics.json appears in the summary rows, and
    every stage that did not run is listed with its reason."""
    from amorphxas.pipeline import summary_rows

    _, metrics = quick_run
    text = "\n".join(f"{what}: {result}" for what, result in summary_rows(metrics))
    for entry in metrics["forward"]["kinds"].values():
        for modes in entry["table"].values():
            for mode, m in modes.items():
                assert f"{mode} {m['rmse_total']['mean']:.4f}" in text
    for target, entry in metrics["inverse"]["targets"].items():
        for split in ("random", "cell"):
            if "rmse" in entry.get(split, {}):
                assert f"inverse {target}, {split} split: RMSE {entry[split]['rmse']:.3f}" in text
    for reason in metrics["missing"]:
        assert f"not run: {reason}" in text


def test_cell_averaged_rows_carry_the_lcf_numbers(quick_run):
    """The report's inverse table has, for valence, the held-out cells' averaged-spectrum row
    with the network, baseline and LCF RMSEs exactly as evaluated."""
    from amorphxas.pipeline import _inverse_rows, summary_rows

    _, metrics = quick_run
    averaged = metrics["inverse"]["targets"]["valence"]["cell"]["averaged_test_cells"]
    row = next(r for r in _inverse_rows(metrics["inverse"])
               if r["target"] == "valence, cell-averaged spectra")
    assert row["rmse"] == averaged["rmse"] and row["lcf_rmse"] == averaged["lcf_rmse"]
    assert row["n_test"] == averaged["n_cells"] >= 1
    text = "\n".join(f"{what}: {result}" for what, result in summary_rows(metrics))
    assert f"LCF {averaged['lcf_rmse']:.3f}" in text


def test_run_saves_the_networks_for_measured_spectra(quick_run):
    """The run trains and saves the measured-spectrum models; a real site spectrum of the dataset
    gives a bounded mean valence with a calibrated (non-zero) interval."""
    from amorphxas.inverse.mixture_models import predict_measured

    out, metrics = quick_run
    assert metrics["inverse_measured"]["directory"] == "models/measured"
    assert set(metrics["inverse_measured"]["calibration"]) == {"valence", "charge", "rdf"}
    spectra = load_spectra(embedded_path())
    result = predict_measured(out / "models" / "measured", spectra.energy, spectra.intensity[0])
    lo, hi = result["mean_valence_interval_95"]
    assert 0 <= lo <= result["mean_valence"] <= hi <= 4 and result["mean_valence_std"] > 0
    assert any(s["title"] == "Inverse: networks for measured spectra" for s in metrics["sections"])
