"""The report of `amorphxas run --quick` on the embedded (real) dataset: a verdict first, with
numbers equal to metrics.json; every figure as PNG (>= 200 dpi) with an SVG beside it and fonts
>= 9 pt; a small metrics.json whose bulky arrays sit in NPZ files; no backend switch at import."""

import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest


class _Sections(HTMLParser):
    """The text of each <h2> in document order, and the verdict section's tagged numbers."""

    def __init__(self):
        super().__init__()
        self.h2, self.numbers, self.verdict_text = [], {}, ""
        self._in_h2 = self._in_verdict = False
        self._key = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")
        if tag == "section" and attrs.get("id") == "verdict":
            self._in_verdict = True
        if tag == "span" and self._in_verdict and "data-key" in attrs:
            self._key = attrs["data-key"]

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        if tag == "section":
            self._in_verdict = False
        if tag == "span":
            self._key = None

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data
        if self._in_verdict:
            self.verdict_text += data
        if self._key is not None:
            self.numbers[self._key] = data


@pytest.fixture(scope="module")
def report(quick_pipeline_run):
    out, _ = quick_pipeline_run
    saved = json.loads((out / "metrics.json").read_text())
    parser = _Sections()
    parser.feed((out / "report.html").read_text())
    return out, saved, parser


def _lookup(tree: dict, key: str):
    for part in key.split("."):
        tree = tree[part]
    return tree


def test_the_first_section_is_the_verdict_with_the_saved_numbers(report):
    _, saved, parsed = report
    assert parsed.h2[0] == "Verdict"
    required = {"run.n_spectra", "run.n_cells", "forward.cell.best.rmse", "forward.cell.best.baseline_rmse",
                "forward.cell.best.percent_vs_baseline", "forward.default.percent_vs_baseline",
                "forward.default.rmse", "forward.default.within_1sigma", "inverse.valence_averaged.rmse.network",
                "inverse.valence_averaged.rmse.LCF", "inverse.valence_averaged.rmse.heuristic"}
    assert required <= set(parsed.numbers), set(parsed.numbers)
    for key, text in parsed.numbers.items():
        value = _lookup(saved["verdict"], key)
        if key.endswith("percent_vs_baseline"):
            value = abs(value)
        decimals = len(text.split(".")[1]) if "." in text else 0
        assert float(text) == pytest.approx(value, abs=0.5 * 10 ** -decimals + 1e-12), key
    # the default model's sentence is the model `amorphxas train forward` makes, evaluated here
    assert saved["verdict"]["forward"]["default"] == saved["forward"]["default_model"]
    assert saved["forward"]["default_model"]["split"] == "cell"
    assert saved["verdict"]["run"]["n_spectra"] == saved["dataset"]["n_sites"]
    assert saved["verdict"]["run"]["n_cells"] == saved["dataset"]["n_cells"]


def test_the_verdict_counts_screening_spectra_apart_from_the_primary_ones(report):
    _, saved, parsed = report
    run, by_fidelity = saved["verdict"]["run"], saved["dataset"]["n_sites_by_fidelity"]
    assert run["n_spectra_screening"] == by_fidelity.get("gamma", 0)
    assert run["n_spectra_primary"] + run["n_spectra_screening"] == run["n_spectra"]
    if run["n_spectra_screening"]:  # the embedded dataset holds Gamma-point screening rows
        assert {"run.n_spectra_primary", "run.n_spectra_screening"} <= set(parsed.numbers)
        assert "Gamma-point screening" in parsed.verdict_text


def test_the_forward_verdict_is_the_best_cell_split_model_against_its_baseline(report):
    """Recomputed here from the forward table: lowest mean RMSE on the cell split, its baseline,
    and the sentence says 'below' exactly when the model beats the baseline."""
    _, saved, parsed = report
    rows = [(m["rmse_total"]["mean"], m["baseline_rmse_total"]["mean"], kind, mode)
            for kind, entry in saved["forward"]["kinds"].items()
            for mode, m in entry["table"]["cell"].items() if m["rmse_total"]["mean"] is not None]
    rmse, base, kind, mode = min(rows)
    best = saved["verdict"]["forward"]["cell"]["best"]
    assert (best["kind"], best["mode"], best["rmse"], best["baseline_rmse"]) == (kind, mode, rmse, base)
    percent = 100 * (rmse / base - 1)
    assert best["percent_vs_baseline"] == pytest.approx(percent)
    word = "below" if percent < 0 else "above"
    assert re.search(rf"{abs(percent):.1f} % {word} the valence-mean spectrum", parsed.verdict_text)
    assert f"{kind} {mode}" in parsed.verdict_text


def test_the_inverse_verdict_compares_network_lcf_and_heuristic_on_held_out_cells(report):
    _, saved, parsed = report
    averaged = saved["inverse"]["targets"]["valence"]["cell"]["averaged_test_cells"]
    verdict = saved["verdict"]["inverse"]["valence_averaged"]
    assert verdict["rmse"] == {"network": averaged["rmse"], "LCF": averaged["lcf_rmse"],
                               "heuristic": averaged["baseline_rmse"]}
    assert verdict["n_cells"] == averaged["n_cells"]
    assert verdict["best"] == min(verdict["rmse"], key=verdict["rmse"].get)
    assert "cell-averaged spectra" in parsed.verdict_text and "held-out" in parsed.verdict_text
    for reason in saved["missing"]:
        assert reason.split(":")[0] in parsed.verdict_text


def test_every_figure_is_a_200_dpi_png_with_an_svg_beside_it_and_9_pt_fonts(report):
    from PIL import Image

    out, saved, _ = report
    pngs = sorted((out / "figures").glob("*.png"))
    listed = {f["file"] for s in saved["sections"] for f in s.get("figures", [])}
    assert {f"figures/{p.name}" for p in pngs} == listed and len(pngs) >= 6
    for png in pngs:
        assert Image.open(png).info["dpi"][0] >= 199, png
        svg = png.with_suffix(".svg").read_text()
        assert "<svg" in svg, png
        sizes = [float(s) for s in re.findall(r"font-size: ([0-9.]+)px", svg)]
        assert sizes and min(sizes) >= 9, (png, min(sizes))
        width_pt = float(re.search(r'width="([0-9.]+)pt"', svg).group(1))
        assert width_pt <= 7.2 * 72 + 1, (png, width_pt)  # page width: the fonts are the printed size


def test_metrics_json_is_small_and_its_arrays_are_in_npz_files(report):
    out, saved, _ = report
    assert (out / "metrics.json").stat().st_size < 400_000

    def walk(value, refs):
        if isinstance(value, dict):
            if set(value) == {"npz", "key", "shape"}:
                refs.append(value)
            for v in value.values():
                walk(v, refs)
        elif isinstance(value, list):
            assert sum(isinstance(v, (int, float)) for v in value) <= 1000
            for v in value:
                walk(v, refs)
        return refs

    refs = walk(saved, [])
    assert refs, "the forward energy-resolved RMSEs must have gone to an NPZ file"
    for ref in refs:
        with np.load(out / ref["npz"]) as arrays:
            assert list(arrays[ref["key"]].shape) == ref["shape"]
    energy = next(r for r in refs if r["key"].endswith("direct.runs.0.rmse_energy"))
    with np.load(out / energy["npz"]) as arrays:
        assert np.all(np.isfinite(arrays[energy["key"]])) and arrays[energy["key"]].size == 256


def test_tables_are_rounded_and_print_no_python_values(report):
    out, _, _ = report
    text = (out / "report.html").read_text()
    cells = re.findall(r"<td>([^<]*)</td>", text)
    assert cells
    assert not any(c in ("None", "nan") or c.startswith("[") for c in cells)
    for c in cells:
        if re.fullmatch(r"-?\d+\.\d+", c):  # floats: energies with 2 decimals, others 3 significant
            if abs(float(c)) >= 100:
                assert len(c.split(".")[1]) <= 2, c
            else:
                assert len(re.sub(r"\D", "", c).lstrip("0")) <= 3, c


def test_importing_the_report_keeps_the_matplotlib_backend():
    code = ("import matplotlib; matplotlib.use('svg'); "
            "import amorphxas.report, amorphxas.report.html, amorphxas.report.forward_figures, "
            "amorphxas.report.inverse_figures, amorphxas.report.dataset_figures, "
            "amorphxas.report.large_cell_figures, amorphxas.report.measured_figures, amorphxas.pipeline; "
            "print(matplotlib.get_backend())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "svg"


def test_save_writes_png_and_svg_and_leaves_rcparams_alone(tmp_path):
    import matplotlib

    from amorphxas.report.plotting import figure, save, styled

    before = dict(matplotlib.rcParams)

    @styled
    def draw(path):
        fig = figure(3, 2)
        fig.subplots().plot([1835, 1860], [0, 1])
        return save(fig, path)

    path = draw(tmp_path / "hand_made_line.png")
    assert path.stat().st_size > 1000 and (tmp_path / "hand_made_line.svg").stat().st_size > 1000
    assert dict(matplotlib.rcParams) == before
