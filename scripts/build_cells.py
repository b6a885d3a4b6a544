"""Build the dataset's amorphous cells: random-melt (study 1 protocol), ~100 atoms, x = 0..2.

Usage: python scripts/build_cells.py OUTDIR --seeds 1 2 [--atoms 100 | 0] [--preset study1]
Writes OUTDIR/siox_x<x>_s<seed>.extxyz, skipping files that exist (safe to re-run).
"""

import argparse
import os
from pathlib import Path

from amorphxas.structures import melt_quench, random_composition, write_structure

COMPOSITIONS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]

parser = argparse.ArgumentParser()
parser.add_argument("outdir", type=Path)
parser.add_argument("--seeds", type=int, nargs="+", default=[1])
parser.add_argument("--atoms", type=int, default=100,
                    help="atoms per cell; 0: the count within 100 +- 5 closest to the exact x")
parser.add_argument("--preset", default="study1")
parser.add_argument("--x", type=float, nargs="+", default=COMPOSITIONS)
args = parser.parse_args()
args.outdir.mkdir(parents=True, exist_ok=True)
for seed in args.seeds:
    for x in args.x:
        path = args.outdir / f"siox_x{x:.2f}_s{seed}.extxyz"
        if path.exists():
            continue
        n_atoms = args.atoms or min(range(95, 106), key=lambda n: (
            abs(random_composition(x, n)[1] / random_composition(x, n)[0] - x), abs(n - 100)))
        atoms = melt_quench(x=x, n_atoms=n_atoms, preset=args.preset, seed=seed, progress=False)
        tmp = path.with_suffix(".tmp.extxyz")
        write_structure(atoms, tmp)
        os.replace(tmp, path)
        print(path, len(atoms), flush=True)
