"""Cost and accuracy of a cheaper PAW SCF for Bader charges, against the cell's stored charges.

Re-runs :func:`amorphxas.spectra.bader.bader_charges` on one cell at lower PAW cut-offs (Ry) in
its own work directory and compares every atom's charge (e) with the reference
``charges.json`` (the production 35/280 Ry run): max and mean |dq| for Si and O, the total
charge, and the PAW SCF wall time.

    nice .venv/bin/python benchmarks/studies/bader_cutoffs/bench_bader.py runs/cells/siox_x0.25_s1.extxyz \
        scratch/siox_x0.25_s1/bader/charges.json --cutoffs 30 180 --out runs/bench/bader_x0.25.json
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from amorphxas.spectra.bader import bader_charges
from amorphxas.spectra.qe import PRESETS
from amorphxas.structures import read_structure

parser = argparse.ArgumentParser()
parser.add_argument("structure", type=Path)
parser.add_argument("reference", type=Path, help="charges.json of the reference run")
parser.add_argument("--cutoffs", nargs=2, type=float, required=True, metavar=("ECUTWFC", "ECUTRHO"))
parser.add_argument("--workdir", type=Path, default=Path("runs/bench/bader"))
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

atoms = read_structure(args.structure)
reference = json.loads(args.reference.read_text())
q_ref = np.array(reference["charges"])
workdir = args.workdir / f"{args.structure.stem}_{args.cutoffs[0]:g}_{args.cutoffs[1]:g}"
start = time.perf_counter()
charges = bader_charges(atoms, workdir, PRESETS["production"], paw_cutoffs=tuple(args.cutoffs))
wall = time.perf_counter() - start
run = json.loads((workdir / "bader" / "charges.json").read_text())
symbols = np.array(atoms.get_chemical_symbols())
report = {"structure": str(args.structure), "cutoffs_ry": args.cutoffs,
          "reference_cutoffs_ry": reference.get("paw_cutoffs_ry", [35.0, 280.0]),
          "wall_seconds": wall, "pw_seconds": run["pw_seconds"],
          "reference_pw_seconds": reference.get("pw_seconds"),
          "total_charge": float(charges.sum()), "reference_total_charge": float(q_ref.sum())}
for element in ("Si", "O"):
    mask = symbols == element
    if mask.any():
        dq = np.abs(charges[mask] - q_ref[mask])
        report[element] = {"n": int(mask.sum()), "max_abs_dq": float(dq.max()),
                           "mean_abs_dq": float(dq.mean())}
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps(report, indent=1))
print(json.dumps(report, indent=1))
