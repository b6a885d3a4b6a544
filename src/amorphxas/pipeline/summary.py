"""What a run found, in rows and in a verdict: read from the stages' metrics, nothing retrained.

RMSEs: forward on the normalised spectra (dimensionless), inverse valence in O neighbours,
charge in e.
"""

from __future__ import annotations

import math

from amorphxas.dataset.fidelity import fidelity_of_settings


def _forward_rows(report: dict) -> list[dict]:
    """One row per descriptor, split and mode: mean total RMSE and the valence-mean baseline."""
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
    """One row per target and split (site spectra), plus the cell-averaged rows of the held-out
    cells (valence and charge) with the heuristic and LCF RMSEs."""
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


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def forward_verdict(forward: dict) -> dict | None:
    """The best forward model on unseen cells (cell split, lowest mean total RMSE over seeds)
    against the valence-mean spectrum of the same runs, and every model that does not beat it.

    ``percent_vs_baseline`` = 100 (RMSE / baseline - 1): negative is better than the baseline."""
    rows = []
    for kind, entry in forward.get("kinds", {}).items():
        for split, modes in entry["table"].items():
            for mode, m in modes.items():
                rmse, base = m["rmse_total"]["mean"], m["baseline_rmse_total"]["mean"]
                if _finite(rmse) and _finite(base) and base > 0:
                    rows.append({"kind": kind, "mode": mode, "split": split, "rmse": rmse,
                                 "baseline_rmse": base, "n_seeds": m["rmse_total"]["n_seeds"],
                                 "n_test": min(m["n_test"]) if m["n_test"] else 0,
                                 "percent_vs_baseline": 100.0 * (rmse / base - 1.0)})
    out: dict = {}
    for split in ("cell", "random"):
        ranked = sorted((r for r in rows if r["split"] == split), key=lambda r: r["rmse"])
        if ranked:
            out[split] = {"best": ranked[0], "n_models": len(ranked),
                          "not_better_than_baseline": [f"{r['kind']} {r['mode']}" for r in ranked
                                                       if r["percent_vs_baseline"] >= 0]}
    if forward.get("default_model"):
        out["default"] = forward["default_model"]
    if not out:
        return None
    for kind, entry in forward.get("kinds", {}).items():
        curve = entry.get("learning_curve", {})
        if "sizes" in curve:
            out.setdefault("active_learning", {})[kind] = {
                "n_sizes": len(curve["sizes"]), "n_ur_better": len(curve["ur_beats_random_at"])}
    return out


def _averaged(entry: dict) -> dict | None:
    a = entry.get("cell", {}).get("averaged_test_cells")
    if not a:
        return None
    methods = {"network": a["rmse"], "heuristic": a.get("baseline_rmse"), "LCF": a.get("lcf_rmse")}
    methods = {k: v for k, v in methods.items() if _finite(v)}
    return {"n_cells": a["n_cells"], "n_sites": a["n_sites"], "rmse": methods,
            "best": min(methods, key=methods.get)}


def inverse_verdict(inverse: dict) -> dict | None:
    """Network vs linear-combination fit (LCF) vs heuristic (linear regression on white-line
    intensity, its integral and the edge position) on the cell-averaged spectra of the held-out
    cells, per scalar target; and the per-site cell-split numbers."""
    out: dict = {}
    for target in ("valence", "charge"):
        entry = inverse.get("targets", {}).get(target, {})
        averaged = _averaged(entry)
        if averaged:
            out[f"{target}_averaged"] = averaged
        site = entry.get("cell", {})
        if _finite(site.get("rmse")):
            out[f"{target}_sites"] = {"rmse": site["rmse"], "r2": site.get("r2"),
                                      "heuristic_rmse": site.get("baseline_rmse"),
                                      "n_test": site["n_test"]}
    rdf = inverse.get("targets", {}).get("rdf", {}).get("cell", {})
    if _finite(rdf.get("rmse")):
        out["rdf_sites"] = {"rmse": rdf["rmse"], "r2": rdf.get("r2"), "n_test": rdf["n_test"]}
    return out or None


def verdict(metrics: dict) -> dict:
    """What was run on how much data, and the forward and inverse verdicts (numbers only; the
    report words them). Stored as ``metrics["verdict"]``."""
    dataset = metrics.get("dataset", {})
    forward = metrics.get("forward", {})
    inverse = metrics.get("inverse", {})
    n_spectra = dataset.get("n_sites", 0)
    # rows of the dataset's own protocol; every other row is a screening (or corrected) one
    primary = fidelity_of_settings(dataset.get("settings", {}))
    n_primary = dataset.get("n_sites_by_fidelity", {}).get(primary, n_spectra)
    run = {"n_spectra": n_spectra, "n_cells": dataset.get("n_cells", 0),
           "n_spectra_primary": n_primary, "n_spectra_screening": n_spectra - n_primary,
           "n_si_sites": dataset.get("n_si_sites_analysed", 0), "quick": metrics.get("quick", False),
           "forward_kinds": list(forward.get("kinds", {})), "forward_seeds": len(forward.get("seeds", [])),
           "inverse_targets": [t for t, e in inverse.get("targets", {}).items() if "refused" not in e],
           "n_large_cells": len(metrics.get("large_models", []))}
    return {"run": run, "forward": forward_verdict(forward) if forward else None,
            "inverse": inverse_verdict(inverse) if inverse else None,
            "not_run": list(metrics.get("missing", []))}
