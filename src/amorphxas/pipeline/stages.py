"""The stages of ``amorphxas run``: each computes on the dataset, has the report draw its figures,
and returns its metrics and its report sections (:class:`StageResult`).

A stage with too little data raises :class:`~amorphxas.core.errors.AmorphxasError`; the driver
(:func:`amorphxas.pipeline.run_pipeline`) records the reason as "not in this report".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class RunContext:
    """What every stage reads: the dataset file ``dataset`` and its one open
    :class:`~amorphxas.dataset.Dataset` ``data`` (``sites``, ``spectra``, crystal ``references``,
    :meth:`~amorphxas.dataset.Dataset.info` ``summary``), the run folder and mode. The forward and
    inverse evaluations take the path: they work on a copy (the campaign may be writing the file)."""

    dataset: Path
    data: object
    out: Path
    quick: bool
    summary: dict
    sites: object
    spectra: object
    references: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def figures(self) -> Path:
        return self.out / "figures"


@dataclass
class StageResult:
    """A stage's contribution: top-level ``metrics`` entries, report ``sections`` and the
    reasons for what it could not do (``missing``)."""

    metrics: dict = field(default_factory=dict)
    sections: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def section(title: str, text: str | None = None, table: list[dict] | None = None,
            figures: list[tuple[Path, str]] = ()) -> dict:
    """A report section: title, optional text and table, figures as (PNG path, caption)."""
    out: dict = {"title": title}
    if text:
        out["text"] = text
    if table is not None:
        out["table"] = table
    out["figures"] = [{"file": f"figures/{Path(p).name}", "caption": caption} for p, caption in figures]
    return out


def dataset_stage(ctx: RunContext) -> StageResult:
    """Valence fractions per composition, per-valence mean spectra and chemical shifts, Bader."""
    from amorphxas.dataset.statistics import chemical_shifts, valence_distribution, valence_means
    from amorphxas.report import dataset_figures as figures
    from amorphxas.report.plotting import valence_label

    result, summary = StageResult(), ctx.summary
    if summary["n_cells"] > 0:
        dist = result.metrics["valence_distribution"] = valence_distribution(ctx.data)
        n_si = sum(d["n_si"] for d in dist.values())
        path = figures.plot_valence_distribution(dist, ctx.figures / "valence_distribution.png")
        result.sections.append(section(
            "Si valence per composition",
            text="Fraction of Si sites with 0-4 O neighbours (and over-coordinated, > 4 O) in the "
                 "dataset's melt-quenched cells, all sites (with or without a spectrum).",
            table=[{"x": x, "Si sites": d["n_si"],
                    **{valence_label(v): d["fractions"][v] for v in range(5)}, "> 4 O": d["fractions"][5]}
                   for x, d in dist.items()],
            figures=[(path, f"Stacked fractions of Si0..Si4+ and > 4 O against the nominal "
                            f"composition x; {n_si} Si sites in {summary['n_cells']} cells.")]))
    if summary["n_sites"] > 0:
        means = valence_means(ctx.data, ctx.spectra)
        path = figures.plot_references_and_valences(ctx.spectra.energy, means, ctx.references,
                                                    ctx.figures / "spectra_by_valence.png")
        shifts = result.metrics["chemical_shifts"] = chemical_shifts(ctx.data, ctx.spectra)
        counts = ", ".join(f"{valence_label(v)} {n}" for v, (_, n) in sorted(means.items()))
        result.sections.append(section(
            "Site spectra by valence",
            text="Mean DFT site spectrum per O-neighbour count, with the crystal references; "
                 "edge = first half-maximum crossing of the mean spectrum, peak = its maximum (eV).",
            table=[{"valence": valence_label(v), **s} for v, s in shifts.items()],
            figures=[(path, f"Si K-edge XANES: mean DFT site spectrum per valence ({counts} sites; "
                            f"{summary['n_sites']} spectra) and the crystal references "
                            f"({', '.join(ctx.references) or 'none stored'}).")]))
    else:
        result.missing.append("site spectra: the dataset has none yet (the DFT campaign adds them)")
    if summary["n_bader"] > 0:
        ok = np.isfinite(ctx.sites.bader_charge)
        path = figures.plot_bader_vs_valence(ctx.sites.valence[ok], ctx.sites.bader_charge[ok],
                                             ctx.figures / "bader_vs_valence.png")
        result.sections.append(section("Bader charges", figures=[(path, (
            f"Bader charge of each Si site against its number of O neighbours; {int(ok.sum())} Si "
            "sites with a computed charge (x jittered by +-0.15 for legibility)."))]))
    return result


FORWARD_CAPTIONS = {
    "forward_table.png": "Total RMSE of the predicted normalised spectra on the test sites (mean +- "
                         "std over {seeds} seeds) per descriptor and mode, random split (left) and "
                         "whole cells held out (right); black bar: the valence-mean spectrum.",
    "forward_rmse_energy.png": "RMSE per energy point (study 1 Eq. 7), direct mode, mean over "
                               "{seeds} seeds; dotted: the valence-mean baseline.",
    "forward_rmse_valence.png": "RMSE per valence class, random split, direct mode (mean +- std "
                                "over {seeds} seeds), against the valence-mean baseline.",
    "forward_extremes.png": "Best (top) and worst (bottom) predicted test site per valence: DFT "
                            "against the ridge prediction ({kind}, direct mode, random split, first "
                            "seed).",
    "forward_learning_curve.png": "Total RMSE on the fixed test sites against the training size, "
                                  "training grown by uncertainty reduction (UR) or at random "
                                  "(mean +- std over {seeds} seeds).",
}


def forward_stage(ctx: RunContext) -> StageResult:
    """Ridge models per descriptor x mode x split x seed against the valence-mean baseline."""
    from amorphxas.forward.compact_model import evaluate_default
    from amorphxas.forward.evaluate import evaluate_dataset
    from amorphxas.pipeline.summary import _forward_rows
    from amorphxas.report.forward_figures import figures

    kinds = ("soap-gto",) if ctx.quick else ("soap-gto", "snap", "acsf", "soap-featomic")
    seeds = (0,) if ctx.quick else (0, 1, 2)
    forward = evaluate_dataset(ctx.dataset, kinds=kinds, preset="fast", seeds=seeds, curves=not ctx.quick)
    # the model `amorphxas train forward` makes, on the same seeds of the cell split
    forward["default_model"] = evaluate_default(ctx.dataset, seeds=seeds)
    data = (f" Data: {forward['n_spectra']} DFT site spectra in {forward['n_cells']} cells.")
    captions = [(p, FORWARD_CAPTIONS[p.name].format(seeds=len(seeds), kind=kinds[0]) + data)
                for p in figures(forward, ctx.figures)]
    return StageResult({"forward": forward}, [section(
        "Forward: structure -> spectrum (ridge)",
        text="Total RMSE of the normalised spectra; 'baseline' is the mean training spectrum of "
             "the site's valence (a model that does not beat it has learnt nothing beyond the "
             "valence). The cell split holds whole cells out: the number for new samples.",
        table=_forward_rows(forward), figures=captions)])


def large_models_stage(ctx: RunContext) -> StageResult:
    """The default forward model (mean of kernel ridge on the physical features, residual on the
    valence mean, and kernel ridge on CHGNet + physical features) on all spectra -> every Si of
    each shipped large cell."""
    from amorphxas.forward.large_cells import (
        analyse_large_cells,
        dataset_pca_map,
        default_model_on_all_spectra,
        shipped_large_cells,
    )
    from amorphxas.report.large_cell_figures import plot_large_models, plot_pca_map

    def rmse(a, b) -> float:
        return float(np.sqrt(np.mean((a - b) ** 2)))

    model, X, pool, n_labelled = default_model_on_all_spectra(ctx.dataset)
    results = analyse_large_cells(model, shipped_large_cells(), ctx.data)
    dataset_map = dataset_pca_map(model, pool, X)
    name = ("mean of kernel ridge on physical site features, residual on the valence mean, and "
            "kernel ridge on CHGNet + physical features")
    rows = []
    for r in results:
        row = {"cell": r["file"], "atoms": r["n_atoms"], "Si sites": r["n_si"], "x": r["x"],
               "Si0..Si4+ (cell)": " / ".join(f"{f:.2f}" for f in r["valence_fractions"]),
               "Si0..Si4+ (random bonding)": " / ".join(f"{f:.2f}" for f in r["random_bonding"]),
               "outside the training domain": r["domain_summary"],
               "RMSE vs mixture (DFT references)": rmse(r["predicted_mean"], r["mixture_spectrum"]),
               "RMSE vs mixture (predicted crystals)": rmse(r["predicted_mean"], r["mixture_predicted"])}
        if r["valence_weighted_dft"] is not None:
            row["RMSE vs valence-weighted DFT"] = rmse(r["predicted_mean"], r["valence_weighted_dft"])
        rows.append(row)
    n_si = sum(r["n_si"] for r in results)
    figures = [
        (plot_large_models(results, ctx.figures / "large_models.png"),
         f"Top: mean predicted Si K-edge spectrum of each large cell (default forward model: {name}; "
         f"trained on all {n_labelled} DFT site spectra; grey band: mean per-site predictive std) "
         "against the random-mixture spectrum of the two DFT crystal references and of the model's "
         "predictions for the two crystals, and the valence-weighted mean DFT site spectra. "
         "Bottom: the cell's Si0..Si4+ fractions against the random-bonding and random-mixture "
         f"models. {n_si} predicted Si sites in {len(results)} cells; predictions, not DFT."),
        (plot_pca_map(dataset_map, results, ctx.figures / "pca_map.png"),
         f"The dataset's {len(pool.valence)} Si sites (by valence; {n_labelled} with a DFT spectrum, "
         f"circled) and the {n_si} large-cell Si sites on the first two whitened principal "
         "components of the physical site features (the space of the domain check; study 1 "
         "Fig. 12b).")]
    return StageResult({"large_models": results}, [section(
        "Large models: predicted average spectra",
        text=(f"Default forward model ({name}; trained on all {n_labelled} DFT site spectra) "
              "applied to every Si of each large melt-quenched cell; compared with the "
              "random-mixture spectrum (1 - x/2) c-Si + (x/2) quartz of the two DFT crystal "
              "references and of the model's own predictions for the two crystals, and with the "
              "valence-weighted mean DFT site spectra. Outside the training domain: kNN distance "
              "to the dataset's Si sites above the leave-one-cell-out threshold, or more than "
              "four O neighbours; the cell as a whole: its mean feature shift above the "
              "training cells' (cell-level check). Predictions, not DFT."),
        table=rows, figures=figures)])


def _inverse_captions(inverse: dict, paths: list[Path]) -> list[tuple[Path, str]]:
    n_sites = max((e.get("n_sites", 0) for e in inverse["targets"].values()), default=0)
    n_cells = max((e.get("n_cells", 0) for e in inverse["targets"].values()), default=0)
    data = f" Data: up to {n_sites} DFT site spectra in {n_cells} cells."
    text = {
        "inverse_parity_valence.png": "Valence predicted from each site spectrum by the network "
                                      "ensemble against the site's O-neighbour count in its cell; "
                                      "test sites with the ensemble std; random split and whole "
                                      "cells held out.",
        "inverse_parity_charge.png": "Bader charge (e) predicted by the network ensemble against "
                                     "the DFT Bader charge, per site; random and cell split.",
        "inverse_rdf.png": "Per-site RDF network, random split: sorted RMSE of every test site "
                           "(first panel) and example test sites from best to worst (DFT cell, "
                           "prediction, ensemble band).",
        "inverse_windows.png": "Test RMSE of networks retrained on one energy window each "
                               "(eight 6.25 eV sub-windows a-h, the 25 eV low and high bands, the "
                               "full range; random split).",
        "inverse_averaged.png": "Mean valence and Bader charge predicted from cell-averaged "
                                "spectra against the cell means of the DFT values: random-split "
                                "model on all cells, cell-split model on its held-out cells only.",
    }
    return [(p, text[p.name] + data) for p in paths]


def inverse_stage(ctx: RunContext) -> StageResult:
    """Networks spectrum -> valence, charge, RDF on both splits, windows, averaged spectra."""
    from amorphxas.inverse import evaluate_dataset
    from amorphxas.pipeline.summary import _inverse_rows
    from amorphxas.report.inverse_figures import plot_inverse

    inverse = evaluate_dataset(ctx.dataset, windows=not ctx.quick, n_members=2 if ctx.quick else 5)
    result = StageResult({"inverse": inverse})
    result.missing = [f"inverse {t}: {e['refused']}" for t, e in inverse["targets"].items() if "refused" in e]
    rows = _inverse_rows(inverse)
    if rows:
        result.sections.append(section(
            "Inverse: spectrum -> structure (neural networks)",
            text="'baseline' is the linear regression on white-line intensity, its integral and "
                 "the edge position (heuristic); 'lcf' the mean valence of a linear-combination "
                 "fit on the per-valence mean spectra; cell-averaged rows: n_test counts the "
                 "held-out cells. Valence RMSE in O neighbours, charge RMSE in e.",
            table=rows, figures=_inverse_captions(inverse, plot_inverse(inverse, ctx.figures))))
    return result


def measured_stage(ctx: RunContext) -> StageResult:
    """The networks for measured spectra, saved in ``models/measured`` for ``amorphxas invert``."""
    from amorphxas.inverse.mixture_models import train_measured

    measured = train_measured(ctx.dataset, n_members=2 if ctx.quick else 3, n_mix=400 if ctx.quick else 1000)
    measured.save(ctx.out / "models" / "measured")
    metrics = {"directory": "models/measured", **measured.info,
               "calibration": {t: c.as_dict() for t, c in measured.calibration.items()}}
    return StageResult({"inverse_measured": metrics}, [section(
        "Inverse: networks for measured spectra",
        text="Trained on site-spectrum mixtures of the training cells' DFT site spectra with "
             "beamline perturbations; intervals calibrated on "
             f"{len(measured.info['calibration_cells'])} held-out cells. Saved in models/measured "
             "(docs/inverse.md).",
        table=[{"target": t, "interval scale": round(c.scale_, 2), "interval floor": round(c.floor_, 3),
                "ensemble +-std coverage (calibration cells)": round(c.raw_coverage_[0.68], 2)}
               for t, c in measured.calibration.items()])])
