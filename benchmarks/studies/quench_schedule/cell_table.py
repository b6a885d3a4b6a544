"""Network statistics of built cells, one row per cell, and the best-of-N choice per composition.

    .venv/bin/python benchmarks/studies/quench_schedule/cell_table.py runs/cells_nvt1000/*.extxyz \\
        --keep 2 --out docs/figures/cells_nvt1000.json

Prints a markdown table (Si with 0..5 O, O with 1/2/3 Si, density, Si-O-Si angle) and, per
nominal x, which ``--keep`` cells have the fewest coordination defects: Si with more than four O
plus O with three or more Si (Tersoff artefacts of a fast quench; real a-SiO2 has almost none).
Ties go to the lower seed.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from amorphxas.structures import read_structure
from amorphxas.structures.network import network_statistics


def defects(stats: dict) -> int:
    """Si with > 4 O plus O with >= 3 Si."""
    return int(sum(stats["si_coordination"][5:]) + sum(stats["o_coordination"][3:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cells", type=Path, nargs="+")
    parser.add_argument("--keep", type=int, default=2, help="cells to keep per composition")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for path in sorted(args.cells):
        atoms = read_structure(path)
        stats = network_statistics(atoms)
        x_nominal = float(path.stem.split("_x")[1].split("_")[0])
        seed = int(path.stem.rsplit("_s", 1)[1])
        rows.append(dict(cell=path.stem, file=str(path), x_nominal=x_nominal, seed=seed,
                         defects=defects(stats), preset=atoms.info.get("preset", ""), **stats))
    by_x = defaultdict(list)
    for r in rows:
        by_x[r["x_nominal"]].append(r)
    for group in by_x.values():
        for rank, r in enumerate(sorted(group, key=lambda r: (r["defects"], r["seed"]))):
            r["kept"] = rank < args.keep
    print("| cell | Si / O | density g/cm3 | Si with 0/1/2/3/4/5+ O | O with 1/2/3 Si | defects "
          "| Si-O-Si deg | kept |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        si = r["si_coordination"][:5] + [sum(r["si_coordination"][5:])]
        o = (r["o_coordination"] + [0, 0, 0, 0])[1:3] + [sum(r["o_coordination"][3:])]
        angle = ("-" if r["n_o"] == 0 else
                 f"{r['sio_si_angle_mean']:.0f} +- {r['sio_si_angle_std']:.0f}")
        print(f"| {r['cell']} | {r['n_si']} / {r['n_o']} | {r['density_g_cm3']:.2f} | "
              f"{'/'.join(map(str, si))} | {'/'.join(map(str, o)) if r['n_o'] else '-'} | "
              f"{r['defects']} | {angle} | {'yes' if r['kept'] else 'no'} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
