"""Where a site's CPU goes, from the logs of campaign sites (no DFT is run).

    .venv/bin/python benchmarks/studies/site_cost_split/site_cost_split.py \
        runs/bench/xs_logs_s8 [--json out.json]
    .venv/bin/python benchmarks/studies/site_cost_split/site_cost_split.py src/amorphxas/data/siox_sik_v4.h5

From a dataset: the sites whose stored ``seconds`` have per-k-point xspectra CPU (campaign sites
since session 9, ``kpoint_cpu_xanes_<pol>_k<shift>``). From a directory of logs: each
sub-directory holds one site's ``ch.out`` (core-hole SCF) and ``xanes_<pol>_k<shift>.out`` (one
xspectra run per polarisation and k-point), copied from the campaign's scratch before the
site directory is removed. Prints per site the CPU seconds (one rank) of the core-hole SCF, of
the xspectra runs at Gamma and at the three other fcc points, the Lanczos steps, and two
protocol totals from the same runs: the dataset's (``production-v4``: SCF + 3 polarisations x 4
k-points) and the Gamma-spectrum protocol the engine issue's cost goal was stated for (SCF + 3
polarisations at Gamma). Machine time per site on 2 cores with two single-rank workers is half
the CPU time.
"""

import argparse
import json
import re
from pathlib import Path

import numpy as np

from amorphxas.spectra.qe import cpu_seconds


def lanczos_steps(log: Path) -> int:
    """Lanczos steps of an xspectra run: the last 'Estimated error at iter' line, or the
    'converged after' count when xerror stopped the chain earlier."""
    text = log.read_text(errors="replace")
    done = re.findall(r"(?:converged after|not converged after)\s+(\d+)\s+iterations", text)
    return int(done[-1]) if done else 0


def site_costs(site_dir: Path) -> dict | None:
    runs = sorted(site_dir.glob("xanes_*_k*.out"))
    if not (site_dir / "ch.out").exists() or len(runs) != 12:
        return None
    gamma = [r for r in runs if r.stem.endswith("_k000")]
    scf = cpu_seconds(site_dir / "ch.out", "PWSCF")
    xs_gamma = sum(cpu_seconds(r, "xanes") for r in gamma)
    xs_all = sum(cpu_seconds(r, "xanes") for r in runs)
    steps = sum(lanczos_steps(r) for r in runs)
    return split_row(site_dir.name, scf, xs_gamma, xs_all, steps)


def split_row(site: str, scf: float, xs_gamma: float, xs_all: float, steps: int) -> dict:
    """One site's row from its core-hole SCF CPU, xspectra CPU at Gamma and over all 12 runs
    (s, one rank) and its Lanczos steps."""
    return {"site": site, "cpu_core_hole_scf": scf, "cpu_xspectra_gamma": xs_gamma,
            "cpu_xspectra_other_k": xs_all - xs_gamma, "lanczos_steps": steps,
            "cpu_per_step": xs_all / steps if steps else float("nan"),
            "cpu_site_v4": scf + xs_all, "cpu_site_gamma_spectrum": scf + xs_gamma}


def dataset_site_costs(path: Path) -> list[dict]:
    """The same split from the CPU seconds and Lanczos steps a dataset stores per site."""
    import h5py

    rows = []
    with h5py.File(path, "r") as h5:
        for key, group in h5["spectra/raw"].items():
            seconds = json.loads(group.attrs["seconds"])
            per_k = {k: v for k, v in seconds.items() if k.startswith("kpoint_cpu_xanes_")}
            if len(per_k) != 12:
                continue
            scf = seconds["cpu_core_hole_scf"]
            xs_gamma = sum(v for k, v in per_k.items() if k.endswith("_k000"))
            xs_all = sum(per_k.values())
            steps = int(np.sum(group["lanczos_steps"][()]))
            rows.append(split_row(key, scf, xs_gamma, xs_all, steps))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.logs.is_file():
        rows = dataset_site_costs(args.logs)
    else:
        rows = [r for r in map(site_costs, sorted(p for p in args.logs.iterdir() if p.is_dir())) if r]
    print(f"{'site':28s} {'SCF':>6s} {'xs G':>6s} {'xs 3k':>6s} {'steps':>6s} {'s/step':>7s} "
          f"{'v4':>6s} {'Gamma':>6s}  (CPU s, one rank)")
    for r in rows:
        print(f"{r['site']:28s} {r['cpu_core_hole_scf']:6.0f} {r['cpu_xspectra_gamma']:6.0f} "
              f"{r['cpu_xspectra_other_k']:6.0f} {r['lanczos_steps']:6d} {r['cpu_per_step']:7.3f} "
              f"{r['cpu_site_v4']:6.0f} {r['cpu_site_gamma_spectrum']:6.0f}")
    if not rows:
        return
    summary = {key: float(np.median([r[key] for r in rows]))
               for key in ("cpu_core_hole_scf", "cpu_xspectra_gamma", "cpu_xspectra_other_k",
                           "cpu_site_v4", "cpu_site_gamma_spectrum")}
    summary["n_sites"] = len(rows)
    print(f"{len(rows)} sites, medians (CPU s): " + ", ".join(
        f"{k} {v:.0f}" for k, v in summary.items() if k != "n_sites"))
    print(f"machine time per site on 2 cores (two one-rank workers): v4 "
          f"{summary['cpu_site_v4'] / 120:.1f} min, Gamma spectrum "
          f"{summary['cpu_site_gamma_spectrum'] / 120:.1f} min")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "sites": rows}, indent=1))


if __name__ == "__main__":
    main()
