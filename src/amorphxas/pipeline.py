"""The main job: dataset -> figures -> forward models -> active learning -> inverse models -> report.

Each stage runs on whatever the dataset holds; a stage with too little data is reported as
refused, with the reason, in ``metrics.json`` and in the report ("Not in this report"), never
filled in with anything made up.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from amorphxas import __version__
from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import write_text_atomic
from amorphxas.dataset import info
from amorphxas.report.large_models import shipped_large_cells


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _forward_rows(report: dict) -> list[dict]:
    rows = []
    for kind, entry in report["kinds"].items():
        for split, modes in entry["table"].items():
            for mode, metrics in modes.items():
                rows.append({"descriptor": kind, "split": split, "mode": mode,
                             "rmse_total": metrics["rmse_total"]["mean"],
                             "baseline_rmse_total": metrics["baseline_rmse_total"]["mean"],
                             "n_train": metrics.get("n_train"), "n_test": metrics.get("n_test")})
    return rows


def _inverse_rows(report: dict) -> list[dict]:
    rows = []
    for target, entry in report["targets"].items():
        if "refused" in entry:
            continue
        for split in ("random", "cell"):
            metrics = entry.get(split, {})
            if "rmse" not in metrics:
                continue
            rows.append({"target": target, "split": split, "rmse": metrics["rmse"],
                         "r2": metrics.get("r2"), "baseline_rmse": metrics.get("baseline_rmse"),
                         "n_train": metrics["n_train"], "n_test": metrics["n_test"]})
        averaged = entry.get("cell", {}).get("averaged_test_cells")
        if averaged and target in ("valence", "charge"):  # unseen cells, measured-like spectra
            rows.append({"target": f"{target}, cell-averaged spectra", "split": "cell",
                         "rmse": averaged["rmse"], "r2": averaged.get("r2"),
                         "baseline_rmse": averaged.get("baseline_rmse"),
                         "lcf_rmse": averaged.get("lcf_rmse"),
                         "n_test": averaged["n_cells"]})
    return rows


def _section(title: str, figure: str, caption: str, text: str | None = None,
             table: list[dict] | None = None) -> dict:
    """A report section with one figure (``figures/<figure>``) and optional text and table."""
    section: dict = {"title": title, "figures": [{"file": f"figures/{figure}", "caption": caption}]}
    if text:
        section["text"] = text
    if table is not None:
        section["table"] = table
    return section


def summary_rows(metrics: dict) -> list[tuple[str, str]]:
    """The terminal summary of a run: (what, result) pairs from ``metrics``: forward RMSE per
    descriptor, split and mode with the valence-mean baseline, UR vs random, inverse RMSE/R2 per
    target and split with the heuristic baseline, and every stage that did not run."""
    rows = []
    forward = metrics.get("forward", {})
    for kind, entry in forward.get("kinds", {}).items():
        for split, modes in entry["table"].items():
            rmse = " / ".join(f"{mode} {m['rmse_total']['mean']:.4f}" for mode, m in modes.items()
                              if m["rmse_total"]["mean"] is not None)
            direct = modes.get("direct", {})
            base = direct.get("baseline_rmse_total", {}).get("mean")
            if rmse:
                rows.append((f"forward {kind}, {split} split",
                             f"RMSE {rmse}; valence-mean baseline {base:.4f} (n_train "
                             f"{direct.get('n_train')}, n_test {direct.get('n_test')})"))
        curve = entry.get("learning_curve", {})
        if "sizes" in curve:
            rows.append((f"active learning {kind}",
                         f"UR beats random at {curve['ur_beats_random_at']} of {curve['sizes']} "
                         f"training sites ({curve['n_test']} test sites)"))
    for row in _inverse_rows(metrics.get("inverse", {"targets": {}})):
        base, lcf, r2 = row.get("baseline_rmse"), row.get("lcf_rmse"), row.get("r2")
        rows.append((f"inverse {row['target']}, {row['split']} split",
                     f"RMSE {row['rmse']:.3f}"
                     + (f", R2 {r2:.3f}" if r2 is not None else "")
                     + (f"; linear baseline {base:.3f}" if base is not None else "")
                     + (f"; LCF {lcf:.3f}" if lcf is not None else "")
                     + (f" (n_train {row['n_train']}, n_test {row['n_test']})" if "n_train" in row
                        else f" ({row['n_test']} held-out cells)")))
    rows.extend(("not run", reason) for reason in metrics.get("missing", []))
    return rows


def _large_models(dataset: Path, cells: list[Path], figures_dir: Path, sections: list) -> list[dict]:
    """Forward model on all spectra (SOAP, fast preset) -> every Si of each large cell."""
    from amorphxas.forward.model import fit_model, labelled_rows, load_pool, make_split
    from amorphxas.report.large_models import analyse_large_cells, plot_large_models, plot_pca_map

    def rmse(a, b) -> float:
        return float(np.sqrt(np.mean((a - b) ** 2)))

    pool = load_pool(dataset, "soap-gto", "fast")
    make_split(pool)  # the same minimum-data refusal as the forward stage
    labelled = labelled_rows(pool)
    n_labelled = int(labelled.size)
    model = fit_model(pool, labelled, "direct", cv=min(5, n_labelled))
    results = analyse_large_cells(model, cells, dataset)
    plot_large_models(results, figures_dir / "large_models.png")
    plot_pca_map(model, pool, results, figures_dir / "pca_map.png")
    rows = []
    for r in results:
        row = {"cell": r["file"], "atoms": r["n_atoms"], "Si sites": r["n_si"], "x": r["x"],
               "Si0..Si4+ (cell)": " / ".join(f"{f:.2f}" for f in r["valence_fractions"]),
               "Si0..Si4+ (random bonding)": " / ".join(f"{f:.2f}" for f in r["random_bonding"]),
               "outside the training domain (Mahalanobis / leverage)":
                   f"{r['n_outside_mahalanobis']} / {r['n_outside_leverage']}",
               "RMSE vs mixture": rmse(r["predicted_mean"], r["mixture_spectrum"])}
        if r["valence_weighted_dft"] is not None:
            row["RMSE vs valence-weighted DFT"] = rmse(r["predicted_mean"], r["valence_weighted_dft"])
        rows.append(row)
    sections.append({
        "title": "Large models: predicted average spectra",
        "text": (f"Forward ridge model (SOAP, trained on all {n_labelled} DFT "
                 "site spectra) applied to every Si of each large melt-quenched cell; compared with "
                 "the random-mixture spectrum of the two DFT crystal references and with the "
                 "valence-weighted mean DFT site spectra. Predictions, not DFT."),
        "table": rows,
        "figures": [{"file": "figures/large_models.png",
                     "caption": f"{sum(r['n_si'] for r in results)} predicted Si sites in "
                                f"{len(results)} cells; model trained on {n_labelled} DFT spectra"},
                    {"file": "figures/pca_map.png",
                     "caption": f"descriptor-PCA map (study 1 Fig. 12b): {len(pool.valence)} "
                                f"dataset Si sites, {n_labelled} with spectra, and the large cells"}]})
    return results


STAGES = ("dataset figures", "forward models", "large models", "inverse models", "report")


def run_pipeline(dataset: Path, out: Path, quick: bool = False, log=print) -> dict:
    """Run every stage on ``dataset`` into ``out`` (metrics.json, figures/, report.html).

    ``log`` is called with "<stage> ..." as each of :data:`STAGES` starts (the large-model stage
    only when large cells are shipped)."""
    from amorphxas.report import figures as dataset_figures
    from amorphxas.report.html import render

    start = time.perf_counter()
    out = Path(out)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    summary = info(dataset)
    sections, missing = [], []
    metrics: dict = {"amorphxas_version": __version__, "dataset": summary, "quick": quick}

    log("dataset figures ...")
    if summary["n_cells"] > 0:
        distribution = metrics["valence_distribution"] = dataset_figures.valence_distribution(dataset)
        dataset_figures.plot_valence_distribution(distribution, figures_dir / "valence_distribution.png")
        sections.append(_section(
            "Si valence per composition", "valence_distribution.png",
            f"{sum(d['n_si'] for d in distribution.values())} Si sites in {summary['n_cells']} cells",
            text="Fraction of Si sites with 0-4 O neighbours (and over-coordinated, >4 O) in the "
                 "dataset's melt-quenched cells, all sites (with or without a spectrum).",
            table=[{"x": x, "Si sites": d["n_si"], **{f"Si{v}+": d["fractions"][v] for v in range(5)},
                    ">4 O": d["fractions"][5]} for x, d in distribution.items()]))
    if summary["n_sites"] > 0:
        dataset_figures.plot_references_and_valences(dataset, figures_dir / "spectra_by_valence.png")
        shifts = metrics["chemical_shifts"] = dataset_figures.chemical_shifts(dataset)
        sections.append(_section(
            "Site spectra by valence", "spectra_by_valence.png", f"{summary['n_sites']} site spectra",
            text="Mean DFT site spectrum per O-neighbour count, with the crystal references.",
            table=[{"valence": f"Si{v}+", **s} for v, s in shifts.items()]))
    else:
        missing.append("site spectra: the dataset has none yet (the DFT campaign adds them)")
    if summary["n_bader"] > 0:
        dataset_figures.plot_bader_vs_valence(dataset, figures_dir / "bader_vs_valence.png")
        sections.append(_section("Bader charges", "bader_vs_valence.png",
                                 f"{summary['n_bader']} Si sites with Bader charges"))

    log("forward models ...")
    try:
        from amorphxas.forward.evaluate import evaluate_dataset as forward_evaluate
        from amorphxas.forward.evaluate import figures as forward_figures

        kinds = ("soap-gto",) if quick else ("soap-gto", "snap", "acsf", "soap-featomic")
        forward = forward_evaluate(dataset, kinds=kinds, preset="fast",
                                   seeds=(0,) if quick else (0, 1, 2), curves=not quick)
        metrics["forward"] = forward
        paths = forward_figures(forward, figures_dir)
        sections.append({"title": "Forward: structure -> spectrum (ridge)",
                         "text": "Total RMSE of the normalised spectra; 'baseline' is the mean "
                                 "training spectrum of the site's valence.",
                         "table": _forward_rows(forward),
                         "figures": [{"file": f"figures/{p.name}",
                                      "caption": f"{forward['n_spectra']} spectra"} for p in paths]})
    except AmorphxasError as exc:
        missing.append(f"forward models: {exc}")

    large = shipped_large_cells()
    if large:
        log(f"large models ({len(large)} cells) ...")
        try:
            metrics["large_models"] = _large_models(dataset, large, figures_dir, sections)
        except AmorphxasError as exc:
            missing.append(f"large models: {exc}")

    log("inverse models ...")
    try:
        from amorphxas.inverse import evaluate_dataset as inverse_evaluate

        inverse = inverse_evaluate(dataset, windows=not quick, n_members=2 if quick else 5)
        metrics["inverse"] = inverse
        rows = _inverse_rows(inverse)
        for target, entry in inverse["targets"].items():
            if "refused" in entry:
                missing.append(f"inverse {target}: {entry['refused']}")
        if rows:
            from amorphxas.inverse.figures import plot_inverse

            n_sites = max(e.get("n_sites", 0) for e in inverse["targets"].values())
            sections.append({"title": "Inverse: spectrum -> structure (neural networks)",
                             "text": "'baseline' is the linear regression on white-line "
                                     "intensity, its integral and the edge position; "
                                     "'lcf' the mean valence of a linear-combination fit on "
                                     "the per-valence mean spectra; cell-averaged rows: "
                                     "n_test counts the held-out cells.",
                             "table": rows,
                             "figures": [{"file": f"figures/{p.name}",
                                          "caption": f"up to {n_sites} site spectra"}
                                         for p in plot_inverse(inverse, figures_dir)]})
    except (AmorphxasError, ImportError) as exc:
        missing.append(f"inverse models: {exc}")
    try:  # the networks for measured spectra, saved for `amorphxas invert`
        from amorphxas.inverse.mixture_models import train_measured

        measured = train_measured(dataset, n_members=2 if quick else 3, n_mix=400 if quick else 1000)
        measured.save(out / "models" / "measured")
        metrics["inverse_measured"] = {"directory": "models/measured", **measured.info,
                                       "calibration": {t: c.as_dict()
                                                       for t, c in measured.calibration.items()}}
        sections.append({"title": "Inverse: networks for measured spectra",
                         "text": "Trained on site-spectrum mixtures of the training cells' DFT "
                                 "site spectra with beamline perturbations; intervals calibrated "
                                 f"on {len(measured.info['calibration_cells'])} held-out cells. "
                                 "Saved in models/measured (docs/inverse.md).",
                         "table": [{"target": t, "interval scale": round(c.scale_, 2),
                                    "interval floor": round(c.floor_, 3),
                                    "ensemble +-std coverage (calibration cells)":
                                        round(c.raw_coverage_[0.68], 2)}
                                   for t, c in measured.calibration.items()]})
    except (AmorphxasError, ImportError) as exc:
        missing.append(f"inverse models for measured spectra: {exc}")

    log("report ...")
    metrics["sections"] = sections
    metrics["missing"] = missing
    metrics["seconds"] = time.perf_counter() - start
    write_text_atomic(out / "metrics.json", json.dumps(_jsonable(metrics), indent=1))
    render(out)
    return metrics
