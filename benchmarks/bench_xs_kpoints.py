"""k-point convergence and cost of the xspectra step on an amorphous cell.

Runs one production site (ground state + core-hole SCF + xspectra at Gamma, 3 polarisations,
files kept), then re-runs xspectra on the same core-hole SCF with other k-meshes, and prints
the broadened (Gaussian 1 eV) spectra's differences: max |diff| / max, edge shift (eV).

    nice .venv/bin/python benchmarks/bench_xs_kpoints.py runs/cells/siox_x0.00_s1.extxyz 0 \
        --meshes 1x1x1 1x1x1s 2x2x2 --out runs/bench/kpts_x0.json
('s' = the mesh shifted by half a step.)
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from amorphxas.spectra.processing import STUDY1, broaden, edge_energy
from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.qe import PRESETS, Executables, read_xanes_file, run_mpi, write_xspectra_input
from amorphxas.spectra.site import _absorber_type, compute_site
from amorphxas.structures import read_structure

parser = argparse.ArgumentParser()
parser.add_argument("structure", type=Path)
parser.add_argument("site", type=int)
parser.add_argument("--meshes", nargs="+", default=["1x1x1", "2x2x2"])
parser.add_argument("--pols", type=int, default=1, help="polarisations per extra mesh (x, y, z)")
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--workdir", type=Path, default=Path("runs/bench/work"))
parser.add_argument("--preset", default="production")
parser.add_argument("--procs", type=int, help="MPI ranks (default: the preset's)")
args = parser.parse_args()

atoms = read_structure(args.structure)
settings = PRESETS[args.preset]
if args.procs:
    settings = replace(settings, n_procs=args.procs)
pseudos = prepare_pseudos()
workdir = args.workdir / args.structure.stem
start = time.perf_counter()
base = compute_site(atoms, args.site, workdir, settings, pseudos, keep_files=True)
report = {"structure": str(args.structure), "site": args.site, "n_atoms": len(atoms),
          "preset": args.preset, "n_procs": settings.n_procs,
          "base_seconds": base.seconds, "core_hole_iterations": base.core_hole_iterations,
          "meshes": {}}
site_dir = (workdir / f"site_{args.site}").resolve()
fine = np.arange(base.energy[0] + 5, base.energy[-1] - 5, 0.05)
pols = settings.xs_polarisations[: args.pols]
ref_curve = broaden(base.energy, base.sigma[: args.pols].mean(axis=0), fine, STUDY1, 0.1)
for mesh in args.meshes:
    shifted = mesh.endswith("s")
    k = tuple(int(v) for v in mesh.rstrip("s").split("x"))
    sigmas = []
    seconds = 0.0
    for n, pol in enumerate(pols):
        name = f"k{mesh}_{n}"
        s = replace(settings, xs_kpoints=k)
        write_xspectra_input(site_dir / f"{name}.in", s, "ch", site_dir / "out",
                             _absorber_type(atoms, args.site), pol, pseudos.core_wavefunction,
                             base.xe0, f"{name}.dat")
        if shifted:
            text = (site_dir / f"{name}.in").read_text().rstrip().rsplit("\n", 1)[0]
            (site_dir / f"{name}.in").write_text(text + f"\n{k[0]} {k[1]} {k[2]} 1 1 1\n")
        seconds += run_mpi(Executables(), "xspectra.x", site_dir / f"{name}.in",
                           site_dir / f"{name}.out", site_dir, settings.n_procs)
        energy, sigma = read_xanes_file(site_dir / f"{name}.dat")
        sigmas.append(sigma)
    curve = broaden(energy + base.xe0 + base.delta_total_energy, np.mean(sigmas, axis=0), fine,
                    STUDY1, 0.1)
    report["meshes"][mesh] = {
        "seconds_per_polarisation": seconds / len(pols),
        "max_abs_diff_rel_to_gamma": float(np.max(abs(curve - ref_curve)) / ref_curve.max()),
        "edge_shift_eV_vs_gamma": edge_energy(fine, curve) - edge_energy(fine, ref_curve),
        "curve": curve.tolist(),
    }
    print(mesh, {k: v for k, v in report["meshes"][mesh].items() if k != "curve"}, flush=True)
report["fine_energy"] = fine.tolist()
report["gamma_curve"] = ref_curve.tolist()
report["wall_seconds"] = time.perf_counter() - start
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps(report))
