"""One-paragraph summaries in words, printed after ``train``, ``predict`` (``--json``: the numbers)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

#: unit of each inverse target's RMSE
INVERSE_UNITS = {"valence": "(valence units)", "charge": "e", "rdf": "(g(r) units)"}


def _g(value, digits: int = 3) -> str:
    """A number rounded to ``digits`` significant figures ('n/a' if missing or not finite)."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.{digits}g}"


def scalars(metrics: dict) -> dict:
    """The numbers and words of a metrics dict, without its arrays and tables (the ``--json`` view)."""
    return {k: v for k, v in metrics.items() if not isinstance(v, (list, dict))}


def _print_result(metrics: dict, output: Path, as_json: bool,
                  summary: Callable[[dict, Path], str]) -> None:
    """Print what ``train forward`` / ``train inverse`` trained: the scalar numbers of ``metrics``
    as JSON with ``--json``, otherwise the one-paragraph ``summary(metrics, output)``."""
    from amorphxas.cli._common import console

    if as_json:
        console.print_json(json.dumps(scalars(metrics), default=float))
    else:
        console.print(summary(metrics, output), highlight=False, soft_wrap=True)


def forward_summary(metrics: dict, output: Path) -> str:
    """``train forward``: what was trained on how many spectra and cells, test RMSE vs the baseline."""
    if "method" in metrics:  # the default model (forward.compact_model)
        what = (f"{metrics['method']} on {'+'.join(metrics.get('kinds', []))} features"
                + (", residual on the valence-mean spectrum" if metrics.get("residual") else ""))
    else:  # study 1's ridge on a descriptor
        what = f"ridge ({metrics.get('mode', 'direct')}) on {metrics.get('kind')} descriptors"
    cells = metrics.get("n_cells_train")
    train = f"{metrics['n_train']} site spectra" + (f" from {cells} cells" if cells else "")
    test_cells = metrics.get("n_cells_test")
    test = f"{metrics['n_test']} held-out site spectra" + (
        f" from {test_cells} unseen cells" if test_cells else "")
    rmse, base = metrics.get("rmse_total"), metrics.get("baseline_rmse_total")
    ratio = metrics.get("ratio_to_baseline", rmse / base if rmse is not None and base else None)
    if ratio is None:
        verdict = "compared with"
    elif round(100 * (1 - ratio)) == 0:
        verdict = "at the level of"
    else:
        verdict = f"{abs(100 * (1 - ratio)):.0f} % {'below' if ratio < 1 else 'above'}"
    return (f"Forward model ({what}) trained on {train} ({metrics.get('split')} split, seed "
            f"{metrics.get('seed')}). On {test} its RMSE is {_g(rmse)}, {verdict} the valence-mean "
            f"spectrum baseline ({_g(base)}; spectra normalised: "
            f"{metrics.get('normalisation', 'model normalisation')}). Model and metrics.json -> {output}")


def inverse_summary(metrics: dict, output: Path) -> str:
    """``train inverse``: target, data, test RMSE and R^2 vs the heuristic and constant baselines."""
    target = metrics.get("target")
    unit = INVERSE_UNITS.get(target, "")
    baselines = [f"{_g(metrics['baseline_rmse'])} for the linear edge heuristic"
                 if metrics.get("baseline_rmse") is not None else None,
                 f"{_g(metrics.get('constant_rmse'))} for the training mean"]
    cells = f" from {metrics['n_test_cells']} cells" if metrics.get("n_test_cells") else ""
    return (f"Inverse network ensemble (spectrum -> {target}) trained on {metrics.get('n_train')} "
            f"site spectra ({metrics.get('split')} split, seed {metrics.get('seed')}; "
            f"{metrics.get('n_sites')} spectra in {metrics.get('n_cells')} cells). On "
            f"{metrics.get('n_test')} held-out site spectra{cells}: RMSE {_g(metrics.get('rmse'))} "
            f"{unit}, R^2 {_g(metrics.get('r2'), 2)}, against "
            f"{' and '.join(b for b in baselines if b)}. Model and metrics.json -> {output}")


def measured_summary(info: dict, targets: list[str], output: Path) -> str:
    """``train measured``: which networks, on how many training / calibration cells."""
    return (f"Networks for measured spectra ({', '.join(targets)}) trained on site-spectrum mixtures "
            f"of {len(info.get('train_cells', []))} cells, intervals calibrated on "
            f"{len(info.get('calibration_cells', []))} other cells "
            f"({_g(info.get('train_seconds'), 3)} s). Models -> {output}")


def predict_summary(summary: dict, output: Path, sites_csv: Path | None) -> str:
    """``predict``: how many Si sites, how many outside the training domain, where the files are."""
    text = f"{summary['n_sites']} Si sites -> {output} (per-site spectra, their mean and std)"
    if "n_outside" in summary:
        text += (f"; {summary['n_outside']} of them outside the training domain "
                 f"({summary['n_outside_knn']} far from every training cell, "
                 f"{summary['n_overcoordinated']} with > 4 O), per-site flags -> {sites_csv}")
    else:
        text += (f"; domain check: {summary.get('n_outside_leverage')} sites with high leverage, "
                 f"{summary.get('n_outside_mahalanobis')} far in Mahalanobis distance")
    return text
