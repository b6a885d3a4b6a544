"""MD speed and structure sweep for docs/structures.md.

    nice -n 10 .venv/bin/python benchmarks/structures/bench_md.py speed            # atom-steps/s, ps/hour
    nice -n 10 .venv/bin/python benchmarks/structures/bench_md.py sweep [--seeds 0] # x = 0..2, both protocols
    .venv/bin/python benchmarks/structures/bench_md.py figures                      # PNGs from the sweep JSON

LAMMPS runs single-process (one core). Results go to docs/figures/structures_*.json and *.png.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIG = ROOT / "docs" / "figures"
XS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]


def speed(args) -> None:
    from amorphxas.structures import Stage, random_cell, run_md
    from amorphxas.structures.builders import start_density

    rows = []
    for n_atoms in (100, 384):
        atoms = random_cell(n_atoms // 2, n_atoms - n_atoms // 2, start_density(1.0), seed=0)
        for temp, dt in ((5000.0, 0.5), (300.0, 1.0)):
            n_steps = int(args.atom_steps / n_atoms)
            stage = Stage("bench", "nvt", temp, temp, n_steps * dt / 1000.0, dt)
            run_md(atoms, [Stage("warm", "nvt", temp, temp, 0.1, dt)], seed=1, minimize=False,
                   progress=False)
            t0 = time.perf_counter()
            run_md(atoms, [stage], seed=1, minimize=False, progress=False)
            wall = time.perf_counter() - t0
            rate = n_atoms * stage.n_steps / wall
            row = {"n_atoms": n_atoms, "T_K": temp, "dt_fs": dt, "steps": stage.n_steps,
                   "wall_s": round(wall, 2), "atom_steps_per_s": round(rate),
                   "ps_per_hour": round(stage.duration_ps / wall * 3600.0, 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = FIG / "structures_speed.json"
    out.write_text(json.dumps({"load": os.getloadavg(), "rows": rows}, indent=1))
    print("->", out)


def sweep(args) -> None:
    from amorphxas.sites import analyse, first_peak, partial_rdf
    from amorphxas.structures import depleted_supercell, melt_quench, write_structure

    out_path = FIG / "structures_sweep.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else []
    done = {(r["protocol"], r["x"], r["seed"]) for r in results}
    cells = ROOT / "benchmarks" / "cells"
    cells.mkdir(exist_ok=True)
    for protocol in args.protocols:
        for seed in args.seeds:
            for x in XS:
                if (protocol, x, seed) in done:
                    continue
                t0 = time.perf_counter()
                if protocol == "random-melt":
                    atoms = melt_quench(x, args.atoms, preset="dataset", seed=seed,
                                        progress=False)
                else:
                    atoms = depleted_supercell(x, preset="dataset", seed=seed, progress=False)
                wall = time.perf_counter() - t0
                write_structure(atoms, cells / f"{protocol}_x{x:g}_s{seed}.extxyz")
                res = analyse(atoms)
                r, g_so = partial_rdf(atoms, ("Si", "O"), 6.0, 300)
                _, g_ss = partial_rdf(atoms, ("Si", "Si"), 6.0, 300)
                _, g_oo = partial_rdf(atoms, ("O", "O"), 6.0, 300)
                row = {
                    "protocol": protocol, "x": x, "seed": seed, "n_atoms": len(atoms),
                    "n_si": res.n_si, "n_o": res.n_o, "wall_s": round(wall, 1),
                    "density": round(res.density_g_cm3, 4),
                    "si_o_peak": first_peak(r, g_so, (1.3, 2.0)),
                    "si_si_peak": first_peak(r, g_ss, (2.0, 2.75)),
                    "valence_counts": res.valence_counts().tolist(),
                    "motifs": {m: int(c) for m, c in zip(*np.unique(res.motif.astype(str),
                                                                     return_counts=True))},
                    "si_o_zero_gap": _zero_gap(r, g_so, 1.7),
                    "o_coordination": _o_coordination(atoms),
                    "r": r.round(4).tolist(), "g_sio": g_so.round(4).tolist(),
                    "g_sisi": g_ss.round(4).tolist(), "g_oo": g_oo.round(4).tolist(),
                }
                print(json.dumps({k: v for k, v in row.items()
                                  if k not in ("r", "g_sio", "g_sisi", "g_oo")}), flush=True)
                results.append(row)
                out_path.write_text(json.dumps(results))


def _zero_gap(r, g, after):
    """[first r > after where g = 0, last r of that zero run]."""
    idx = np.flatnonzero((r > after) & (g == 0))
    if len(idx) == 0:
        return None
    run_end = idx[0]
    while run_end + 1 < len(g) and g[run_end + 1] == 0:
        run_end += 1
    return [round(float(r[idx[0]]), 3), round(float(r[run_end]), 3)]


def _o_coordination(atoms, cutoff=2.10):
    from ase.neighborlist import neighbor_list

    sym = np.array(atoms.get_chemical_symbols())
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    m = (sym[i] == "O") & (sym[j] == "Si")
    counts = np.bincount(i[m], minlength=len(atoms))[sym == "O"]
    return np.bincount(counts, minlength=4).tolist()


def table(args) -> None:
    """Re-analyse the saved sweep cells (current defaults) and refresh the JSON summary."""
    from amorphxas.sites import analyse
    from amorphxas.structures import read_structure

    out_path = FIG / "structures_sweep.json"
    results = json.loads(out_path.read_text())
    cells = ROOT / "benchmarks" / "cells"
    gaps = []
    for row in results:
        path = cells / f"{row['protocol']}_x{row['x']:g}_s{row['seed']}.extxyz"
        if not path.exists():
            continue
        atoms = read_structure(path)
        res = analyse(atoms)
        row["valence_counts"] = res.valence_counts().tolist()
        row["o_coordination"] = _o_coordination(atoms)
        gaps.append(_gap_counts(atoms))
        print(f"{row['protocol']:19s} x={row['x']:<5g} N={row['n_atoms']:3d} "
              f"rho={row['density']:.3f} SiO={row['si_o_peak']:.3f} SiSi={row['si_si_peak']:.3f} "
              f"val={row['valence_counts']} O-coord={row['o_coordination']} "
              f"gap={row['si_o_zero_gap']} wall={row['wall_s']}s")
    gaps = np.sum(gaps, axis=0)
    print(f"pairs over all cells: Si-O in 1.85-2.35 A: {gaps[0]}, Si-Si in 2.55-2.75 A: {gaps[1]}")
    out_path.write_text(json.dumps(results))


def _gap_counts(atoms):
    from ase.neighborlist import neighbor_list

    sym = np.array(atoms.get_chemical_symbols())
    i, j, d = neighbor_list("ijd", atoms, 3.0)
    si_o = (sym[i] == "Si") & (sym[j] == "O") & (d > 1.85) & (d < 2.35)
    si_si = (sym[i] == "Si") & (sym[j] == "Si") & (d > 2.55) & (d < 2.75)
    return [int(si_o.sum()), int(si_si.sum()) // 2]


def figures(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads((FIG / "structures_sweep.json").read_text())
    for protocol in ("random-melt", "depleted-supercell"):
        rows = sorted([r for r in results if r["protocol"] == protocol], key=lambda r: r["x"])
        if not rows:
            continue
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        cmap = plt.get_cmap("viridis")
        for k, row in enumerate(rows):
            c = cmap(k / max(len(rows) - 1, 1))
            off = 0.0
            axes[0].plot(row["r"], np.array(row["g_sio"]) + off, color=c, label=f"x={row['x']:g}")
            axes[1].plot(row["r"], row["g_sisi"], color=c)
        axes[0].set(xlabel="r (A)", ylabel="g_SiO(r)", title=f"Si-O, {protocol}", xlim=(0, 6))
        axes[1].set(xlabel="r (A)", ylabel="g_SiSi(r)", title="Si-Si", xlim=(0, 6))
        axes[0].legend(fontsize=7)
        xs = [r["x"] for r in rows]
        width = max(len(r["valence_counts"]) for r in rows)
        counts = np.array([r["valence_counts"] + [0] * (width - len(r["valence_counts"]))
                           for r in rows], dtype=float)
        frac = counts / counts.sum(axis=1, keepdims=True)
        bottom = np.zeros(len(rows))
        for v in range(width):
            label = f"Si{v}+" if v <= 4 else f"{v} O (over-coordinated)"
            axes[2].bar(range(len(rows)), frac[:, v], bottom=bottom, label=label)
            bottom += frac[:, v]
        axes[2].set_xticks(range(len(rows)), [f"{x:g}" for x in xs])
        axes[2].set(xlabel="x in SiOx", ylabel="fraction of Si", title="valence (O neighbours)")
        axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        out = FIG / f"structures_{protocol}.png"
        fig.savefig(out, dpi=110)
        print("->", out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--atom-steps", type=float, default=4e6)
    w = sub.add_parser("sweep")
    w.add_argument("--seeds", type=int, nargs="+", default=[0])
    w.add_argument("--atoms", type=int, default=100)
    w.add_argument("--protocols", nargs="+", default=["random-melt", "depleted-supercell"])
    sub.add_parser("figures")
    sub.add_parser("table")
    args = p.parse_args()
    {"speed": speed, "sweep": sweep, "figures": figures, "table": table}[args.cmd](args)


if __name__ == "__main__":
    main()
