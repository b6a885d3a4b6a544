"""Cost of the core-hole SCF under different convergence aids, on one site of an amorphous cell.

For each variant: wall seconds, SCF iterations, total energy (eV) and Fermi level (eV), so the
change in the aligned energy (dE_total + xe0) against the baseline can be read off.

    nice .venv/bin/python benchmarks/studies/cost_levers/bench_scf_levers.py \
        runs/cells/siox_x1.00_s1.extxyz 0 \
        --out runs/bench/scf_levers_x1.json
Variants: baseline (production), no restart from the ground-state density, restart also from
the ground-state wavefunctions, conv_thr 1e-5, mixing_beta 0.5, plain mixing.
"""

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.qe import PRESETS, Executables, parse_pw_output, run_mpi, write_pw_input
from amorphxas.spectra.site import ground_state, ground_state_dir
from amorphxas.structures import read_structure

parser = argparse.ArgumentParser()
parser.add_argument("structure", type=Path)
parser.add_argument("site", type=int)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--workdir", type=Path, default=Path("runs/bench/levers"))
parser.add_argument("--only", nargs="*")
args = parser.parse_args()

atoms = read_structure(args.structure)
base = PRESETS["production"]
pseudos = prepare_pseudos()
work = (args.workdir / args.structure.stem).resolve()
gs = ground_state(atoms, work, base, pseudos)
variants = {
    "baseline": (base, "density"),
    "no_restart": (base, "none"),
    "restart_wfc": (base, "wfc"),
    "conv_thr_1e-5": (replace(base, conv_thr=1e-5), "density"),
    "beta_0.5": (replace(base, mixing_beta=0.5), "density"),
    "plain_mixing": (replace(base, mixing_mode="plain"), "density"),
}
report = {"structure": str(args.structure), "site": args.site, "n_atoms": len(atoms),
          "ground_state": {"seconds": gs.seconds, "iterations": gs.n_iterations}, "variants": {}}
gs_save = ground_state_dir(work, base) / "out" / "gs.save"
for name, (settings, restart) in variants.items():
    if args.only and name not in args.only:
        continue
    d = work / f"lever_{name}"
    shutil.rmtree(d, ignore_errors=True)
    (d / "out" / "ch.save").mkdir(parents=True)
    if restart in ("density", "wfc"):
        shutil.copyfile(gs_save / "charge-density.dat", d / "out" / "ch.save" / "charge-density.dat")
    write_pw_input(d / "ch.in", atoms, settings, pseudos, "ch", d / "out", absorber=args.site,
                   startingpot_file=restart in ("density", "wfc"))
    if restart == "wfc":
        for wfc in gs_save.glob("wfc*.dat"):
            shutil.copyfile(wfc, d / "out" / "ch.save" / wfc.name)
        text = (d / "ch.in").read_text().replace("  startingpot = 'file'",
                                                 "  startingpot = 'file'\n  startingwfc = 'file'")
        (d / "ch.in").write_text(text)
    seconds = run_mpi(Executables(), "pw.x", d / "ch.in", d / "ch.out", d, settings.n_procs)
    result = parse_pw_output(d / "ch.out", seconds)
    report["variants"][name] = {"seconds": seconds, "iterations": result.n_iterations,
                                "total_energy_eV": result.total_energy,
                                "fermi_eV": result.fermi_energy,
                                "aligned_shift_eV": result.total_energy + result.energy_zero}
    print(name, report["variants"][name], flush=True)
    shutil.rmtree(d / "out", ignore_errors=True)
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps(report, indent=1))
