"""How many Lanczos steps does a site spectrum need, after the dataset's broadening?

xspectra stops a k-point's Lanczos chain when its own error estimate (relative L1 change of the
raw 0.3 eV spectrum over ``xcheck_conv`` steps) falls below ``xerror``. That estimate is made on
the raw width, per k-point, per polarisation; the dataset keeps the k-averaged spectrum broadened
to 0.8 eV. This benchmark measures the error of the *final* curve directly: it takes a long chain
already computed (an ``x_save_file`` run with a tight ``xerror``), truncates every k-point's chain
to n steps (the first n Lanczos coefficients do not depend on where the chain stops), re-plots
with ``xspectra.x`` itself (``xonly_plot``: terminator, occupied-state cut and prefactors exactly
as in production, ~5 s per plot) and compares with the full chain, after the study 2 Lorentzian
(HWHM 0.8 eV): max |diff| / max and edge shift (eV).

    .venv/bin/python benchmarks/lanczos_truncation.py \
        runs/bench/work/siox_x0.00_s1/site_49/v_k_2x2x2_0.in --steps 50 75 100 125 150 200 250 \
        --out docs/figures/lanczos_truncation_si0.json

The input names the save file (``x_save_file``) and the core-hole SCF (``outdir``); the save file
is plain text (version 2: header, k-point norms, steps per k-point, then the a and b coefficients
as (steps, k) arrays).
"""

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from amorphxas.spectra.processing import STUDY2, broaden, edge_energy
from amorphxas.spectra.qe import read_xanes_file

parser = argparse.ArgumentParser()
parser.add_argument("inputs", type=Path, nargs="+", help="xspectra inputs of long-chain runs")
parser.add_argument("--steps", type=int, nargs="+", default=[50, 100, 150, 200, 250, 300])
parser.add_argument("--raw-gamma", type=float, default=0.3, help="xspectra xgamma (eV)")
parser.add_argument("--window", type=float, nargs=2, default=[-10.0, 45.0],
                    help="compared energies relative to xe0 (eV): the dataset's 50 eV grid")
parser.add_argument("--out", type=Path)
args = parser.parse_args()

STEPS_LINE = 13  # 0-based line of the save file holding the steps per k-point


def namelist_value(text: str, key: str) -> str:
    match = re.search(rf"^\s*{key}\s*=\s*'?([^'\n]+)'?", text, re.M)
    if match is None:
        raise SystemExit(f"{key} not found in the xspectra input")
    return match.group(1).strip()


def plot(input_text: str, save_lines: list[str], steps: int | None, workdir: Path) -> tuple:
    """(energy, sigma) of the chain truncated to ``steps`` per k-point (None: the full chain)."""
    lines = list(save_lines)
    full = [int(v) for v in lines[STEPS_LINE].split()]
    if steps is not None:
        lines[STEPS_LINE] = " " + " ".join(str(min(steps, n)) for n in full)
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
    return read_xanes_file(workdir / f"{tag}.dat"), full


results = []
for input_file in args.inputs:
    input_text = input_file.read_text()
    save_file = Path(namelist_value(input_text, "x_save_file"))
    if not save_file.is_absolute():
        save_file = input_file.parent / save_file
    save_lines = save_file.read_text().split("\n")
    with tempfile.TemporaryDirectory() as tmp:
        (energy, sigma_full), chain = plot(input_text, save_lines, None, Path(tmp))
        fine = np.arange(args.window[0], args.window[1], 0.05)
        reference = broaden(energy, sigma_full, fine, STUDY2, args.raw_gamma)
        peak = reference.max()
        rows = []
        for steps in args.steps:
            (_, sigma), _ = plot(input_text, save_lines, steps, Path(tmp))
            curve = broaden(energy, sigma, fine, STUDY2, args.raw_gamma)
            worst = float(fine[np.abs(curve - reference).argmax()])
            rows.append({"steps": steps, "worst_energy_eV": worst,
                         "max_abs_diff_rel": float(np.abs(curve - reference).max() / peak),
                         "edge_shift_eV": float(edge_energy(fine, curve)
                                                - edge_energy(fine, reference))})
            print(f"{input_file}: {steps:4d} steps  max|diff|/max {rows[-1]['max_abs_diff_rel']:.4f}"
                  f"  edge {rows[-1]['edge_shift_eV']:+.3f} eV  at {worst:+.1f} eV", flush=True)
    results.append({"input": str(input_file), "full_chain_steps": chain, "rows": rows})

if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"window_eV": args.window, "broadening": "lorentzian 0.8 eV",
                                    "results": results}, indent=1))
