"""Is the 2x2x2 spectrum k-converged? Compare k-meshes of one site from their Lanczos chains.

Each input is ``label=path/to/run.in``: an xspectra input whose ``x_save_file`` holds the chains of
one k-mesh (same site, same polarisation, same core-hole SCF; e.g. from
``benchmarks/studies/xs_variants/bench_xs_kpoints.py ... --variants k=3x3x3+xerror=0.02``). Every
mesh is evaluated as the dataset evaluates it (``production-v3``: chains truncated to 250 steps,
Fermi-Dirac occupied cut of the SCF smearing width, study 2 Lorentzian HWHM 0.8 eV) and compared
with the ``--reference`` mesh: max |diff| / max and edge shift (eV).

    .venv/bin/python benchmarks/studies/kmesh_convergence/kmesh_convergence.py \
        k222=runs/bench/work/siox_x0.00_s1/site_49/v_k_2x2x2_xerror_0.02_0.in \
        k222s=runs/bench/work/siox_x0.00_s1/site_49/v_k_2x2x2s_xerror_0.02_0.in \
        k333=runs/bench/work/siox_x0.00_s1/site_49/v_k_3x3x3_xerror_0.02_0.in \
        --reference k333 --out docs/figures/spectra_kmesh_si0.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

from amorphxas.core.spectrum import STUDY2, broaden, edge_energy
from amorphxas.spectra.lanczos import read_save_file
from amorphxas.spectra.qe import PRESETS, xspectra_input_value, xspectra_save_file
from amorphxas.spectra.site import occupied_fermi_cut

parser = argparse.ArgumentParser()
parser.add_argument("runs", nargs="+", help="label=xspectra input with a save file")
parser.add_argument("--reference", required=True, help="label of the reference mesh")
parser.add_argument("--preset", default="production-v3")
parser.add_argument("--out", type=Path)
args = parser.parse_args()
settings = PRESETS[args.preset]


energy = np.linspace(-15.0, 55.0, 1401)  # eV from xe0, as xspectra's plot grid
fine = np.arange(-10.0, 45.0, 0.05)
curves, steps = {}, {}
for item in args.runs:
    label, _, path = item.partition("=")
    chains = read_save_file(xspectra_save_file(path),
                            settings.xs_check_conv).truncated(settings.xs_niter)
    sigma = occupied_fermi_cut(chains, energy, float(xspectra_input_value(path, "xe0")), settings)
    curves[label] = broaden(energy, sigma, fine, STUDY2, settings.xs_gamma)
    steps[label] = {"n_k": len(chains.steps), "steps": [int(n) for n in chains.steps]}
reference = curves[args.reference]
rows = {}
for label, curve in curves.items():
    rows[label] = {**steps[label],
                   "max_abs_diff_rel": float(np.abs(curve - reference).max() / reference.max()),
                   "edge_shift_eV": float(edge_energy(fine, curve) - edge_energy(fine, reference))}
    print(f"{label:>8s} ({steps[label]['n_k']:2d} k): max|diff|/max "
          f"{rows[label]['max_abs_diff_rel']:.4f}  edge {rows[label]['edge_shift_eV']:+.3f} eV")
if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"preset": args.preset, "reference": args.reference,
                                    "broadening": "lorentzian 0.8 eV", "rows": rows,
                                    "fine_energy_eV": fine.tolist(),
                                    "curves": {k: v.tolist() for k, v in curves.items()}}))
