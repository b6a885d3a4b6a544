"""How many Lanczos steps does a site spectrum need, after the dataset's broadening?

xspectra stops a k-point's Lanczos chain when its own error estimate (relative L1 change of the
raw 0.3 eV spectrum over ``xcheck_conv`` steps) falls below ``xerror``. That estimate is made on
the raw width, per k-point, per polarisation; the dataset keeps the k-averaged spectrum broadened
to 0.8 eV. This benchmark measures the error of the *final* curve directly: it takes chains
already computed (the ``x_save_file`` of a run), truncates every k-point's chain to n steps (the
first n Lanczos coefficients do not depend on where the chain stops), and compares with the full
chains after the study 2 Lorentzian (HWHM 0.8 eV): max |diff| / max, edge shift (eV), and where
the largest difference sits (eV from ``xe0``).

``--cut xspectra`` re-plots with ``xspectra.x`` itself (``xonly_plot``, its sharp occupied-state
cut, ~5 s per plot); ``--cut fermi`` evaluates the chains with ``amorphxas.spectra.lanczos`` and
the Fermi-Dirac cut of width ``--width`` (eV; default the production smearing, 0.136 eV).
``--average``: the inputs are the polarisations of one site; their mean is compared, as the
dataset stores it.

    .venv/bin/python benchmarks/studies/lanczos_truncation/lanczos_truncation.py \
        runs/bench/work/siox_x0.00_s1/site_49/v_k_2x2x2_0.in --steps 100 150 200 250 300 \
        --cut xspectra --out docs/figures/lanczos_truncation.json
    .venv/bin/python benchmarks/studies/lanczos_truncation/lanczos_truncation.py \
        runs/bench/chains/siox_x1.75_s2_site_51/xanes_?.in \
        --average --cut fermi --steps 150 200 250 300
"""

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from amorphxas.core.spectrum import STUDY2, broaden, edge_energy
from amorphxas.spectra.lanczos import RY_EV, cross_section, read_save_file
from amorphxas.spectra.qe import read_xanes_file, xspectra_input_value, xspectra_save_file

parser = argparse.ArgumentParser()
parser.add_argument("inputs", type=Path, nargs="+", help="xspectra inputs of runs with save files")
parser.add_argument("--steps", type=int, nargs="+", default=[50, 100, 150, 200, 250, 300])
parser.add_argument("--cut", choices=["xspectra", "fermi"], default="xspectra")
parser.add_argument("--width", type=float, default=0.01 * RY_EV,
                    help="Fermi-Dirac width of the 'fermi' cut (eV)")
parser.add_argument("--raw-gamma", type=float, default=0.3, help="xspectra xgamma (eV)")
parser.add_argument("--window", type=float, nargs=2, default=[-10.0, 45.0],
                    help="compared energies relative to xe0 (eV): the dataset's 50 eV grid")
parser.add_argument("--average", action="store_true",
                    help="the inputs are the polarisations of one site: compare their mean")
parser.add_argument("--out", type=Path)
args = parser.parse_args()

STEPS_LINE = 13  # 0-based line of the save file holding the steps per k-point


def xspectra_plot(input_text: str, save_lines: list[str], steps: int | None,
                  workdir: Path) -> tuple:
    """xspectra's own (energy, sigma) of the chains truncated to ``steps`` (None: full)."""
    lines = list(save_lines)
    if steps is not None:
        lines[STEPS_LINE] = " " + " ".join(str(min(steps, int(n)))
                                           for n in lines[STEPS_LINE].split())
    tag = "full" if steps is None else f"n{steps}"
    save = workdir / f"{tag}.sav"
    save.write_text("\n".join(lines))
    text = re.sub(r"x_save_file\s*=\s*'[^']*'", f"x_save_file = '{save}'\n  xonly_plot = .true.",
                  input_text)
    text = re.sub(r"xanes_file\s*=\s*'[^']*'", f"xanes_file = '{workdir / tag}.dat'", text)
    (workdir / f"{tag}.in").write_text(text)
    with open(workdir / f"{tag}.out", "w") as log:
        subprocess.run(["xspectra.x", "-inp", str(workdir / f"{tag}.in")], stdout=log,
                       stderr=subprocess.STDOUT, cwd=workdir, check=True,
                       env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    return read_xanes_file(workdir / f"{tag}.dat")


def truncated_curves(input_file: Path, fine: np.ndarray) -> tuple:
    """Broadened curves on ``fine``: full chains, each truncation; and the full chain lengths."""
    input_text = input_file.read_text()
    save_file = xspectra_save_file(input_file)
    chains = read_save_file(save_file)
    steps_list = [None, *args.steps]
    if args.cut == "fermi":
        xe0 = float(xspectra_input_value(input_file, "xe0"))
        energy = np.linspace(-15.0, 55.0, 1401)
        sigmas = [cross_section(chains if n is None else chains.truncated(n), energy, xe0,
                                args.raw_gamma, occupied_width=args.width) for n in steps_list]
    else:
        save_lines = save_file.read_text().split("\n")
        with tempfile.TemporaryDirectory() as tmp:
            plots = [xspectra_plot(input_text, save_lines, n, Path(tmp)) for n in steps_list]
        energy = plots[0][0]
        sigmas = [sigma for _, sigma in plots]
    curves = [broaden(energy, s, fine, STUDY2, args.raw_gamma) for s in sigmas]
    return curves[0], curves[1:], chains.steps.tolist()


def compare(label: str, full: np.ndarray, cut: list[np.ndarray], fine: np.ndarray) -> list[dict]:
    rows = []
    for steps, curve in zip(args.steps, cut):
        worst = float(fine[np.abs(curve - full).argmax()])
        rows.append({"steps": steps, "worst_energy_eV": worst,
                     "max_abs_diff_rel": float(np.abs(curve - full).max() / full.max()),
                     "edge_shift_eV": float(edge_energy(fine, curve) - edge_energy(fine, full))})
        print(f"{label}: {steps:4d} steps  max|diff|/max {rows[-1]['max_abs_diff_rel']:.4f}"
              f"  edge {rows[-1]['edge_shift_eV']:+.3f} eV  at {worst:+.1f} eV", flush=True)
    return rows


fine = np.arange(args.window[0], args.window[1], 0.05)
results = []
curves = [(f, *truncated_curves(f, fine)) for f in args.inputs]
if args.average:
    full = np.mean([c[1] for c in curves], axis=0)
    cut = [np.mean([c[2][i] for c in curves], axis=0) for i in range(len(args.steps))]
    label = f"{args.inputs[0].parent.name} (mean of {len(curves)}, {args.cut} cut)"
    results.append({"inputs": [str(f) for f in args.inputs], "averaged": True,
                    "full_chain_steps": [c[3] for c in curves],
                    "rows": compare(label, full, cut, fine)})
else:
    for input_file, full, cut, chain in curves:
        results.append({"input": str(input_file), "full_chain_steps": chain,
                        "rows": compare(f"{input_file} ({args.cut} cut)", full, cut, fine)})

if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"window_eV": args.window, "broadening": "lorentzian 0.8 eV",
                                    "cut": args.cut, "fermi_width_eV": args.width,
                                    "results": results}, indent=1))
