"""Two DFT protocols on the same sites: spectral differences and cost.

Reads two datasets that hold spectra of the same (cell, atom) sites computed with different
settings (e.g. a "production-v1" dataset and a "production" one), re-broadens every site from
its raw data (study 2 Lorentzian, HWHM 0.8 eV) on the common grid, each on its own dataset's
energy scale (its own alpha-quartz constant), and prints per site:

- max |A - B| / max(A), both normalised to the maximum of A's spectrum;
- edge shift B - A (eV, half-maximum crossing) after each dataset's own alignment;
- relative shift: edge shift minus the mean edge shift over the sites (what survives once the
  global constant absorbs the protocol change);
- wall seconds of the core-hole SCF and of the three xspectra runs, and SCF iterations.

    .venv/bin/python benchmarks/studies/protocol_comparison/compare_protocols.py \
        "$(.venv/bin/amorphxas dataset path)" \
        runs/lean/lean.h5 --out runs/bench/compare_lean.json
"""

import argparse
import json
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.spectrum import COMMON_GRID, STUDY2, broaden, edge_energy


def _sites(path: Path) -> dict:
    with h5py.File(path, "r") as h5:
        constant = float(h5["spectra"].attrs["alignment_constant_eV"])
        gamma = json.loads(h5["spectra"].attrs["settings"])["xs_gamma"]
        out = {}
        for key, group in h5["spectra/raw"].items():
            curve = broaden(group["energy"][()] + constant, group["sigma"][()].mean(axis=0),
                            COMMON_GRID, STUDY2, gamma)
            seconds = json.loads(group.attrs["seconds"])
            out[key] = {"curve": curve, "edge": edge_energy(COMMON_GRID, curve),
                        "scf_s": seconds["core_hole_scf"],
                        "xs_s": sum(v for k, v in seconds.items() if k.startswith("xanes")),
                        "iterations": int(group.attrs["core_hole_iterations"])}
    return out


parser = argparse.ArgumentParser()
parser.add_argument("a", type=Path, help="reference protocol dataset")
parser.add_argument("b", type=Path, help="candidate protocol dataset")
parser.add_argument("--out", type=Path)
args = parser.parse_args()

a, b = _sites(args.a), _sites(args.b)
common = sorted(set(a) & set(b))
if not common:
    raise SystemExit(f"no common sites between {args.a} and {args.b}")
shifts = np.array([b[k]["edge"] - a[k]["edge"] for k in common])
rows = []
print(f"{'site':18s} {'maxdiff':>8s} {'dEdge':>7s} {'rel':>7s} {'scfA':>6s} {'scfB':>6s} "
      f"{'xsA':>6s} {'xsB':>6s} {'itA':>4s} {'itB':>4s}")
for key, shift in zip(common, shifts):
    scale = a[key]["curve"].max()
    row = {"site": key,
           "max_abs_diff_rel": float(np.max(np.abs(a[key]["curve"] - b[key]["curve"])) / scale),
           "edge_shift_eV": float(shift), "relative_shift_eV": float(shift - shifts.mean()),
           "scf_seconds": [a[key]["scf_s"], b[key]["scf_s"]],
           "xspectra_seconds": [a[key]["xs_s"], b[key]["xs_s"]],
           "iterations": [a[key]["iterations"], b[key]["iterations"]]}
    rows.append(row)
    print(f"{key:18s} {row['max_abs_diff_rel']:8.4f} {shift:7.3f} {row['relative_shift_eV']:7.3f} "
          f"{row['scf_seconds'][0]:6.0f} {row['scf_seconds'][1]:6.0f} {row['xspectra_seconds'][0]:6.0f} "
          f"{row['xspectra_seconds'][1]:6.0f} {row['iterations'][0]:4d} {row['iterations'][1]:4d}")
print(f"mean edge shift {shifts.mean():.3f} eV, spread (std) {shifts.std():.3f} eV over {len(common)} sites")
if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"a": str(args.a), "b": str(args.b), "sites": rows,
                                    "mean_edge_shift_eV": float(shifts.mean()),
                                    "edge_shift_std_eV": float(shifts.std())}, indent=1))
