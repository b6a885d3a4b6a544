"""Benchmark of the measured-spectrum LCF (``amorphxas invert``) on held-out cells.

The dataset's cells are split into 6 folds; for each fold the per-valence standards are built
from the other cells only, and two kinds of measured-like spectra are made from the held-out
cells' real DFT site spectra (raw, aligned, un-normalised; a sample's spectrum is the sum over
its absorbers):

- ``valence mixtures``: Dirichlet-weighted mixtures of the held-out per-valence mean spectra
  (truth = the weights), ``--mixtures`` per fold and seed;
- ``cell averages``: each held-out cell's mean site spectrum (truth = its sites' valences).

Each is perturbed as a beamline would (arbitrary scale x1000 and offset always): a pre-edge
line rising by 5 % or 20 % of the edge step over 1830-1880 eV, 1 % (of the edge step) white
noise, an energy-scale error of +-1 eV with and without a reference (the reference = the
dataset's computed alpha-quartz spectrum with the same error and 1 % noise), an extra Gaussian
broadening (std 1 eV), and combined. The slope, noise and broadening cases are measured with a
reference (a calibrated measurement, as the goals state them); "clean, no reference" shows what
fitting the shift within its prior costs. The answer is ``analyse``'s default: mean valence from
the linear functional, fractions from the fractions functional made consistent with it
(``--fractions lcf-constrained`` / ``lcf``: the LCF's, constrained to that mean valence / free).

Mixture sizes: a valence mixture holds all of the held-out fold's sites of each valence (~4 per
valence, the most held-out cells allow), a cell average ~7 sites; a real sample averages
~1e20 sites, so these errors contain the sample's own site-sampling error, which a measured
spectrum does not have (``measured_error_budget.py`` separates the two).
Runs :func:`amorphxas.measured.answer.analyse`, the code behind ``amorphxas invert``.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 19 .venv/bin/python \\
        benchmarks/inverse/bench_measured_inversion.py --dataset /tmp/copy.h5 --mixtures 4 \\
        --seeds 3 --bootstrap 30 --out docs/figures/measured_inversion.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from amorphxas.dataset import embedded_path, load_sites, load_spectra
from amorphxas.dataset.loader import load_reference, spectrum_site_rows
from amorphxas.measured.answer import analyse
from amorphxas.measured.io import MeasuredSpectrum
from amorphxas.measured.standards import build_standards

CONDITIONS = {  # name: (slope, noise, shift eV, reference, extra broadening std eV)
    "clean, reference": (0.0, 0.0, 0.0, True, 0.0),
    "clean, no reference": (0.0, 0.0, 0.0, False, 0.0),
    "slope 5 %, reference": (0.05, 0.0, 0.0, True, 0.0),
    "slope 20 %, reference": (0.20, 0.0, 0.0, True, 0.0),
    "noise 1 %, reference": (0.0, 0.01, 0.0, True, 0.0),
    "broadening 1 eV, reference": (0.0, 0.0, 0.0, True, 1.0),
    "shift +1 eV, reference": (0.0, 0.0, 1.0, True, 0.0),
    "shift -1 eV, reference": (0.0, 0.0, -1.0, True, 0.0),
    "shift +1 eV, no reference": (0.0, 0.0, 1.0, False, 0.0),
    "shift -1 eV, no reference": (0.0, 0.0, -1.0, False, 0.0),
    "slope 20 % + noise 1 % + shift +1 eV, reference": (0.20, 0.01, 1.0, True, 0.0),
    "slope 20 % + noise 1 % + shift +1 eV, no reference": (0.20, 0.01, 1.0, False, 0.0),
}


def measured_like(energy, raw, step, slope, noise, shift, rng, broadening=0.0) -> MeasuredSpectrum:
    """x1000 + offset 2, extra Gaussian broadening (std ``broadening`` eV), pre-edge line
    (``slope`` x step over 1830-1880 eV), white noise (``noise`` x step), energies read ``shift``
    eV low (E_measured = E_theory - shift)."""
    if broadening > 0:
        raw = gaussian_filter1d(raw, broadening / float(energy[1] - energy[0]), mode="nearest")
    mu = 1000.0 * (raw + slope * step * (energy - energy[0]) / (energy[-1] - energy[0])
                   + noise * step * rng.standard_normal(energy.size)) + 2.0
    return MeasuredSpectrum(energy=energy - shift, mu=mu, source="benchmark")


def run(dataset: Path, mixtures: int, seeds: int, n_boot: int, fractions: str = "linear",
        conditions: dict = CONDITIONS) -> dict:
    sites, spectra = load_sites(dataset), load_spectra(dataset)
    rows = spectrum_site_rows(sites, spectra)
    valence, energy = sites.valence[rows], spectra.energy
    ref_e, ref_i = load_reference(dataset, "alpha-quartz")
    cells = sorted(set(spectra.cell_id.tolist()))
    folds = [cells[i::6] for i in range(6)]
    records = []
    t0 = time.perf_counter()
    for f, fold in enumerate(folds):
        standards = build_standards(dataset, exclude_cells=fold)
        held = np.isin(spectra.cell_id, fold)
        present = [n for n in range(5) if np.any(held & (valence == n))]
        comp = np.stack([spectra.intensity[held & (valence == n)].mean(0) if n in present
                         else np.zeros(energy.size) for n in range(5)])
        for seed in range(seeds):
            rng = np.random.default_rng(1000 * f + seed)
            samples = []
            for _ in range(mixtures):
                w = np.zeros(5)
                w[present] = rng.dirichlet(np.ones(len(present)))
                samples.append(("valence mixture", w @ comp, w))
            if seed == 0:
                for c in fold:
                    m = spectra.cell_id == c
                    truth = np.array([np.mean(valence[m] == n) for n in range(5)])
                    samples.append(("cell average", spectra.intensity[m].mean(0), truth))
            for kind, raw, truth in samples:
                for name, (slope, noise, shift, with_ref, broad) in conditions.items():
                    sample = measured_like(energy, raw, standards.common_step, slope, noise, shift,
                                           rng, broad)
                    refs = []
                    if with_ref:
                        ref_mu = 1000.0 * (ref_i + 0.01 * ref_i[-40:].mean()
                                           * rng.standard_normal(ref_i.size))
                        refs = [(MeasuredSpectrum(ref_e - shift, ref_mu, "reference"), "alpha-quartz")]
                    out = analyse(sample, references=refs, dataset=dataset, standards=standards,
                                  n_boot=n_boot, seed=seed, fractions=fractions).result
                    frac = np.array(list(out["fractions"].values()))
                    fstd = np.array(list(out["fractions_std"].values()))
                    records.append({
                        "fold": f, "seed": seed, "kind": kind, "condition": name,
                        "true_mean_valence": float(truth @ np.arange(5)),
                        "mean_valence": out["mean_valence"], "mean_valence_std": out["mean_valence_std"],
                        "mean_valence_lcf": out["mean_valence_lcf"],
                        "true_fractions": truth.round(4).tolist(), "fractions": frac.round(4).tolist(),
                        "fractions_std": fstd.round(4).tolist(), "shift_eV": out["energy_shift_eV"],
                        "true_shift_eV": shift, "r_factor": out["fit"]["r_factor"],
                        "out_of_domain": out["out_of_domain"]})
        print(f"fold {f + 1}/6 done, {len(records)} fits, {time.perf_counter() - t0:.0f} s", flush=True)
    return {"records": records, "seconds": time.perf_counter() - t0}


def summarise(records: list[dict]) -> dict:
    table = {}
    for kind in ("valence mixture", "cell average"):
        for name in CONDITIONS:
            rs = [r for r in records if r["kind"] == kind and r["condition"] == name]
            if not rs:
                continue
            err = np.array([r["mean_valence"] - r["true_mean_valence"] for r in rs])
            std = np.array([r["mean_valence_std"] for r in rs])
            ferr = np.array([np.subtract(r["fractions"], r["true_fractions"]) for r in rs])
            fstd = np.array([r["fractions_std"] for r in rs])
            table.setdefault(kind, {})[name] = {
                "n": len(rs),
                "mean_valence_rmse": float(np.sqrt(np.mean(err ** 2))),
                "mean_valence_max_abs_error": float(np.max(np.abs(err))),
                "mean_valence_mean_std": float(np.mean(std)),
                "mean_valence_coverage_95": float(np.mean(np.abs(err) <= 1.96 * std)),
                "mean_valence_coverage_68": float(np.mean(np.abs(err) <= std)),
                "mean_valence_lcf_rmse": float(np.sqrt(np.mean(
                    [(r["mean_valence_lcf"] - r["true_mean_valence"]) ** 2 for r in rs]))),
                "fractions_rmse_pp": float(100 * np.sqrt(np.mean(ferr ** 2))),
                "fractions_coverage_95": float(np.mean(np.abs(ferr) <= 1.96 * fstd)),
                "fractions_coverage_68": float(np.mean(np.abs(ferr) <= fstd)),
                "shift_rmse_eV": float(np.sqrt(np.mean([(r["shift_eV"] - r["true_shift_eV"]) ** 2
                                                        for r in rs]))),
                "out_of_domain_flagged": int(sum(r["out_of_domain"] for r in rs)),
            }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=None, help="a copy of the dataset")
    parser.add_argument("--mixtures", type=int, default=6, help="valence mixtures per fold and seed")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=50)
    parser.add_argument("--fractions", default="linear", choices=("linear", "lcf-constrained", "lcf"),
                        help="fractions estimator of analyse (default: the linear functional)")
    parser.add_argument("--conditions", default=None,
                        help="semicolon-separated subset of the condition names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/measured_inversion.json"))
    args = parser.parse_args()
    dataset = args.dataset or embedded_path()
    conditions = CONDITIONS
    if args.conditions:
        names = [c.strip() for c in args.conditions.split(";")]
        unknown = [c for c in names if c not in CONDITIONS]
        if unknown:
            parser.error(f"unknown condition(s) {unknown}; known: {list(CONDITIONS)}")
        conditions = {c: CONDITIONS[c] for c in names}
    result = run(dataset, args.mixtures, args.seeds, args.bootstrap, args.fractions, conditions)
    n_sites = int(load_spectra(dataset).intensity.shape[0])
    report = {"benchmark": "benchmarks/inverse/bench_measured_inversion.py", "dataset": str(dataset),
              "n_site_spectra": n_sites, "folds": 6, "mixtures_per_fold_and_seed": args.mixtures,
              "seeds": args.seeds, "bootstrap": args.bootstrap,
              "fractions_estimator": args.fractions, "conditions": {
                  k: dict(zip(("pre_edge_slope_of_step", "noise_of_step", "shift_eV", "reference",
                               "extra_broadening_std_eV"), v))
                  for k, v in conditions.items()},
              "summary": summarise(result["records"]), "seconds": round(result["seconds"], 1),
              "records": result["records"]}
    args.out.write_text(json.dumps(report, indent=1))
    for kind, rows in report["summary"].items():
        print(kind)
        for name, row in rows.items():
            print(f"  {name:52s} MV rmse {row['mean_valence_rmse']:.3f} "
                  f"(std {row['mean_valence_mean_std']:.3f}, cov95 {row['mean_valence_coverage_95']:.2f})"
                  f"  fractions {row['fractions_rmse_pp']:.1f} pp (cov95 {row['fractions_coverage_95']:.2f})"
                  f"  n {row['n']}")


if __name__ == "__main__":
    main()
