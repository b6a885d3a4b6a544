"""Cost of the core-hole SCF against cell size: a few SCF iterations of each cell, extrapolated.

Runs the production core-hole SCF of one Si site of each structure for ``--iterations``
iterations only (``electron_maxstep``), reads pw.x's cumulative CPU time after every iteration,
and reports the set-up time, the mean time per iteration after the first, and the estimate
set-up + ``--typical-iterations`` x mean (the 100-atom production SCFs converge in 13-16
iterations). The xspectra step is not run (it needs a converged SCF). pw.x's per-iteration
"total cpu time" lines are wall seconds (contention-sensitive); the ``cpu_*`` fields come from its
final CPU clocks. With ``production-v4`` the core-hole SCF runs with gamma_only wavefunctions.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/studies/cell_size_384/bench_cell_size.py \
        runs/cells/siox_x1.00_s1.extxyz runs/bench/size/siox_x1.00_n384.extxyz --iterations 3 \
        --preset production-v4 --workdir runs/bench/size/work_v4 \
        --out docs/figures/spectra_cell_size_v4.json

    nice .venv/bin/python benchmarks/studies/cell_size_384/bench_cell_size.py \
        runs/cells/siox_x1.00_s1.extxyz \
        runs/bench/size/siox_x1.00_n384.extxyz --iterations 3 --out runs/bench/cell_size.json
"""

import argparse
import json
import re
from pathlib import Path

from amorphxas.core.errors import EngineError
from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.qe import PRESETS, Executables, cpu_seconds, run_mpi, write_pw_input
from amorphxas.structures import read_structure

parser = argparse.ArgumentParser()
parser.add_argument("structures", type=Path, nargs="+")
parser.add_argument("--iterations", type=int, default=3)
parser.add_argument("--typical-iterations", type=int, default=14)
parser.add_argument("--preset", default="production")
parser.add_argument("--workdir", type=Path, default=Path("runs/bench/size/work"))
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

settings = PRESETS[args.preset]
pseudos = prepare_pseudos()
rows = []
for path in args.structures:
    atoms = read_structure(path)
    site = atoms.get_chemical_symbols().index("Si")
    work = (args.workdir / path.stem).resolve()
    work.mkdir(parents=True, exist_ok=True)
    write_pw_input(work / "ch.in", atoms, settings, pseudos, "ch", work / "out", absorber=site,
                   gamma_only=settings.core_hole_gamma_only)
    text = (work / "ch.in").read_text().replace("electron_maxstep = 150",
                                                f"electron_maxstep = {args.iterations}")
    (work / "ch.in").write_text(text)
    try:
        run_mpi(Executables(), "pw.x", work / "ch.in", work / "ch.out", work, settings.n_procs)
    except EngineError as exc:
        if "convergence NOT achieved" not in str(exc):
            raise
    log = (work / "ch.out").read_text()
    cpu = [float(v) for v in re.findall(r"total cpu time spent up to now is\s+([\d.]+) secs", log)]
    grid = re.search(r"Dense\s+grid:.*FFT dimensions: \(\s*(\d+),\s*(\d+),\s*(\d+)\)", log)
    per_iteration = (cpu[-1] - cpu[0]) / max(len(cpu) - 1, 1)
    # pw.x's "total cpu time" lines are wall seconds; its final clocks give CPU seconds
    electrons_cpu = cpu_seconds(work / "ch.out", "electrons")
    total_cpu = cpu_seconds(work / "ch.out", "PWSCF")
    # the first "total cpu time" line comes before iteration 1 (set-up)
    n_iterations = len(re.findall(r"^\s*iteration #", log, re.M))
    cpu_per_iteration = electrons_cpu / n_iterations
    row = {"structure": str(path), "n_atoms": len(atoms), "site": site,
           "n_bands": int(re.search(r"number of Kohn-Sham states=\s+(\d+)", log).group(1)),
           "dense_fft": [int(g) for g in grid.groups()] if grid else None,
           "cpu_after_each_iteration_s": cpu, "setup_and_first_iteration_s": cpu[0],
           "mean_later_iteration_s": per_iteration,
           "estimated_scf_s": cpu[0] + (args.typical_iterations - 1) * per_iteration,
           "n_procs": settings.n_procs, "gamma_only": settings.core_hole_gamma_only,
           "cpu_setup_s": total_cpu - electrons_cpu, "cpu_per_iteration_s": cpu_per_iteration,
           "estimated_scf_cpu_s": total_cpu - electrons_cpu
           + args.typical_iterations * cpu_per_iteration}
    rows.append(row)
    print(json.dumps({k: v for k, v in row.items() if k != "cpu_after_each_iteration_s"}), flush=True)
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps({"preset": args.preset, "iterations": args.iterations,
                                "typical_iterations": args.typical_iterations, "rows": rows}, indent=1))
