"""Finite-size check: one site's spectrum in its ~100-atom cell and in a repeated supercell.

The repeated cell keeps the absorber's local environment exactly and doubles the distance to
the core hole's periodic images along the repeated axes, so the difference measures the
hole-hole interaction. The supercell's xspectra k-mesh is the cell's divided by the repeat
(2x2x2 -> 1x2x2 for a 2x1x1 repeat), which samples exactly the same Bloch states, so k-point
sampling does not enter the difference. ``--cell-dataset`` takes the cell's spectrum from a
dataset computed with the same preset instead of recomputing it (raw spectra are stored on the
reference-free scale E_xspectra + xe0 + dE_total, so the two runs compare directly).
Prints max |diff| / max of the Lorentzian-0.8 eV broadened spectra, the edge shift (eV) and the
wall seconds of each run.

    nice .venv/bin/python benchmarks/studies/finite_size/bench_supercell.py \
        runs/cells/siox_x1.00_s1.extxyz 76 \
        --repeat 2 1 1 --preset production --cell-dataset src/amorphxas/data/siox_sik_v2.h5 \
        --out docs/figures/spectra_supercell_x1.00_76.json

The Si0 site of a-Si, x polarisation only, core-hole SCFs with real wavefunctions (session 7)::

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/studies/finite_size/bench_supercell.py \
        runs/cells/siox_x0.00_s1.extxyz 49 --repeat 2 1 1 --preset production-v3 --pols 1 \
        --gamma-core-hole --cell-dataset src/amorphxas/data/siox_sik_v3.h5 \
        --out docs/figures/spectra_supercell_x0.00_49_pol0.json
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.spectrum import STUDY2, broaden, edge_energy
from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.qe import PRESETS
from amorphxas.spectra.site import compute_site
from amorphxas.structures import read_structure

parser = argparse.ArgumentParser()
parser.add_argument("structure", type=Path)
parser.add_argument("site", type=int)
parser.add_argument("--repeat", type=int, nargs=3, default=[2, 1, 1])
parser.add_argument("--preset", default="production")
parser.add_argument("--procs", type=int)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--workdir", type=Path, default=Path("runs/bench/supercell"))
parser.add_argument("--cell-dataset", type=Path,
                    help="take the cell's spectrum from this dataset (same preset) instead")
parser.add_argument("--pols", type=int, default=3,
                    help="compare only the first N polarisations (x, y, z): cheaper supercell")
parser.add_argument("--gamma-core-hole", action="store_true",
                    help="core-hole SCFs with real wavefunctions (same spectra, ~3x cheaper SCF)")
args = parser.parse_args()

settings = PRESETS[args.preset]
if args.procs:
    settings = replace(settings, n_procs=args.procs)
settings = replace(settings, xs_polarisations=settings.xs_polarisations[:args.pols],
                   core_hole_gamma_only=args.gamma_core_hole or settings.core_hole_gamma_only)
pseudos = prepare_pseudos()
small = read_structure(args.structure)
big = small.repeat(args.repeat)  # atom i of the small cell stays atom i of the repeated one
super_settings = replace(settings, xs_kpoints=tuple(
    max(1, k // r) for k, r in zip(settings.xs_kpoints, args.repeat)))
runs = {}
if args.cell_dataset:
    key = f"{small.info.get('cell_id', args.structure.stem)}:{args.site}"
    with h5py.File(args.cell_dataset, "r") as h5:
        if key not in h5["spectra/raw"]:
            raise SystemExit(f"{args.cell_dataset}: no site {key}")
        runs["cell"] = {"n_atoms": len(small), "from": str(args.cell_dataset),
                        "energy": h5[f"spectra/raw/{key}/energy"][()],
                        "sigma": h5[f"spectra/raw/{key}/sigma"][:args.pols].mean(axis=0)}
for name, atoms, run_settings in (("cell", small, settings), ("supercell", big, super_settings)):
    if name in runs:
        continue
    start = time.perf_counter()
    result = compute_site(atoms, args.site, args.workdir / f"{args.structure.stem}_{name}",
                          run_settings, pseudos)
    runs[name] = {"n_atoms": len(atoms), "xs_kpoints": list(run_settings.xs_kpoints),
                  "wall_seconds": time.perf_counter() - start,
                  "seconds": result.seconds, "iterations": result.core_hole_iterations,
                  "energy": result.energy, "sigma": result.sigma.mean(axis=0)}
    print(name, len(atoms), "atoms", {k: round(v) for k, v in result.seconds.items()}, flush=True)
fine = np.arange(runs["cell"]["energy"][0] + 5, runs["cell"]["energy"][-1] - 5, 0.05)
curves = {name: broaden(r["energy"], r["sigma"], fine, STUDY2, settings.xs_gamma)
          for name, r in runs.items()}
scale = curves["cell"].max()
report = {
    "structure": str(args.structure), "site": args.site, "repeat": args.repeat,
    "preset": args.preset, "n_procs": settings.n_procs, "polarisations": args.pols,
    "core_hole_gamma_only": settings.core_hole_gamma_only,
    "max_abs_diff_rel": float(np.max(np.abs(curves["supercell"] - curves["cell"])) / scale),
    "edge_shift_eV": edge_energy(fine, curves["supercell"]) - edge_energy(fine, curves["cell"]),
    "runs": {name: {k: v for k, v in r.items() if k not in ("energy", "sigma")}
             for name, r in runs.items()},
    "fine_energy": fine.tolist(), "curves": {k: v.tolist() for k, v in curves.items()},
}
print({k: report[k] for k in ("max_abs_diff_rel", "edge_shift_eV")})
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps(report))
