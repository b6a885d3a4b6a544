"""How far is the ``screening-gamma`` spectrum (Gamma only) from the ``production-v4`` one
(four fcc points), site by site? No DFT: the v4 dataset is re-evaluated from its stored Lanczos
chains under ``screening-gamma`` (its three Gamma chains out of twelve), exactly what a screening
campaign would have computed for the same core-hole SCFs.

    .venv/bin/python benchmarks/studies/screening_gamma_vs_v4/screening_gamma_vs_v4.py [DATASET] \
        --json docs/figures/spectra_screening_gamma_vs_v4.json

Prints per site max |diff| / max (v4 spectrum, dataset broadening, common grid) and the edge
shift (eV, half maximum), and the medians and maxima per valence.
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from amorphxas.core.spectrum import COMMON_GRID, edge_energy
from amorphxas.dataset import embedded_path, load_sites, load_spectra
from amorphxas.spectra.campaign import reevaluate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, nargs="?", default=embedded_path())
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        screen_path = Path(tmp) / "screening.h5"
        reevaluate_dataset(args.dataset, screen_path, "production-v4", "screening-gamma",
                           log=lambda *_: None)
        v4, gamma = load_spectra(args.dataset), load_spectra(screen_path)
    keys_v4 = [f"{c}:{i}" for c, i in zip(v4.cell_id, v4.atom_index)]
    keys_gamma = [f"{c}:{i}" for c, i in zip(gamma.cell_id, gamma.atom_index)]
    assert keys_v4 == keys_gamma, "re-evaluation keeps the row order"
    sites = load_sites(args.dataset)
    valence_of = {f"{c}:{i}": int(v) for c, i, v in zip(sites.cell_id, sites.atom_index, sites.valence)}
    rows = []
    for key, a, b in zip(keys_v4, v4.intensity, gamma.intensity):
        valence = valence_of[key]
        rows.append({"site": key, "valence": int(valence),
                     "max_abs_diff_over_max": float(np.abs(b - a).max() / a.max()),
                     "edge_shift_eV": float(edge_energy(COMMON_GRID, b) - edge_energy(COMMON_GRID, a))})
        print(f"{key:22s} Si{valence}+ {rows[-1]['max_abs_diff_over_max']:.3f} "
              f"{rows[-1]['edge_shift_eV']:+.3f} eV")
    summary = {}
    for valence in sorted({r["valence"] for r in rows}):
        diffs = [r["max_abs_diff_over_max"] for r in rows if r["valence"] == valence]
        shifts = [abs(r["edge_shift_eV"]) for r in rows if r["valence"] == valence]
        summary[f"Si{valence}+"] = {"n": len(diffs), "median_diff": float(np.median(diffs)),
                                    "max_diff": float(np.max(diffs)),
                                    "median_abs_edge_shift_eV": float(np.median(shifts))}
    diffs = [r["max_abs_diff_over_max"] for r in rows]
    summary["all"] = {"n": len(rows), "median_diff": float(np.median(diffs)),
                      "max_diff": float(np.max(diffs)),
                      "median_abs_edge_shift_eV": float(np.median([abs(r["edge_shift_eV"]) for r in rows]))}
    for name, s in summary.items():
        print(f"{name:6s} n {s['n']:3d}  max|diff|/max median {s['median_diff']:.3f} "
              f"max {s['max_diff']:.3f}  |edge shift| median {s['median_abs_edge_shift_eV']:.3f} eV")
    if args.json:
        args.json.write_text(json.dumps({"dataset": str(args.dataset), "summary": summary,
                                         "sites": rows}, indent=1))


if __name__ == "__main__":
    main()
