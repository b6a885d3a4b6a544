"""Sites per hour of each campaign run, measured from the dataset itself (no DFT is run).

    .venv/bin/python benchmarks/spectra/campaign_runs.py [DATASET] [--gap MIN] [--git] [-o JSON]

Two sources, both the dataset's own record:
* the ``finished_at`` time (UTC) every site stores since it was added: sites are grouped into
  runs where consecutive sites are less than ``--gap`` minutes apart; a run's rate is
  (sites - 1) / (last - first finish), per fidelity (``v4``, ``gamma``) and in CPU-equivalent
  v4 sites (a Gamma site costs 234 / 564 of a v4 site's CPU, docs/spectra.md);
* with ``--git``, the checkpoint commits of the dataset file ("dataset: campaign checkpoint, N
  site spectra"), for sites stored before ``finished_at`` existed: a run is a chain of
  checkpoints less than ``--gap`` minutes apart, its rate (N_last - N_first) / (t_last - t_first).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import h5py

V4_CPU_S, GAMMA_CPU_S = 564.0, 234.0  # median CPU per site (docs/spectra.md, docs/dataset.md)


def finished_runs(path: Path, gap_min: float) -> list[dict]:
    """Runs from the sites' ``finished_at`` attributes, oldest first."""
    stamps = []
    with h5py.File(path, "r") as h5:
        for key, group in h5["spectra/raw"].items():
            when = group.attrs.get("finished_at")
            if when is not None:
                when = when.decode() if isinstance(when, bytes) else str(when)
                fid = group.attrs.get("fidelity", "v4")
                fid = fid.decode() if isinstance(fid, bytes) else str(fid)
                stamps.append((datetime.fromisoformat(when), key, fid))
    stamps.sort()
    runs: list[list] = []
    for row in stamps:
        if runs and (row[0] - runs[-1][-1][0]).total_seconds() <= gap_min * 60:
            runs[-1].append(row)
        else:
            runs.append([row])
    out = []
    for run in runs:
        hours = (run[-1][0] - run[0][0]).total_seconds() / 3600
        counts = {f: sum(1 for r in run if r[2] == f) for f in sorted({r[2] for r in run})}
        v4_equivalent = counts.get("v4", 0) + counts.get("gamma", 0) * GAMMA_CPU_S / V4_CPU_S
        out.append({"first": run[0][0].isoformat(), "last": run[-1][0].isoformat(),
                    "sites": len(run), "by_fidelity": counts, "hours": round(hours, 3),
                    "sites_per_hour": round((len(run) - 1) / hours, 2) if hours > 0 else None,
                    "cpu_v4_equivalent_per_hour": round(
                        v4_equivalent * (len(run) - 1) / len(run) / hours, 2) if hours > 0 else None})
    return out


def checkpoint_runs(path: Path, gap_min: float) -> list[dict]:
    """Runs from the git checkpoint commits of ``path``, oldest first."""
    done = subprocess.run(["git", "log", "--format=%ct %s", "--", str(path)], capture_output=True,
                          text=True, cwd=path.parent)
    if done.returncode != 0:
        raise SystemExit(f"error: {path}: not a file in a git checkout (--git reads its commits)")
    log = done.stdout
    points = []
    for line in log.splitlines():
        m = re.match(r"(\d+) dataset: campaign checkpoint, (\d+) site spectra", line)
        if m:
            points.append((int(m.group(1)), int(m.group(2))))
    points.sort()
    runs: list[list] = []
    for t, n in points:
        if runs and t - runs[-1][-1][0] <= gap_min * 60:
            runs[-1].append((t, n))
        else:
            runs.append([(t, n)])
    out = []
    for run in runs:
        if len(run) < 2:
            continue
        hours = (run[-1][0] - run[0][0]) / 3600
        added = run[-1][1] - run[0][1]
        if hours <= 0 or added <= 0:
            continue
        out.append({"first": datetime.fromtimestamp(run[0][0]).isoformat(),
                    "last": datetime.fromtimestamp(run[-1][0]).isoformat(),
                    "checkpoints": len(run), "sites_added": added, "hours": round(hours, 3),
                    "sites_per_hour": round(added / hours, 2)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path,
                        default=Path(__file__).resolve().parents[2] / "src/amorphxas/data/siox_sik_v4.h5")
    parser.add_argument("--gap", type=float, default=45.0, help="minutes between runs (default 45)")
    parser.add_argument("--git", action="store_true", help="also the git checkpoint commits")
    parser.add_argument("-o", "--output", type=Path, help="write the runs as JSON")
    args = parser.parse_args()
    result = {"dataset": str(args.dataset), "gap_minutes": args.gap,
              "finished_at_runs": finished_runs(args.dataset, args.gap)}
    if args.git:
        result["checkpoint_runs"] = checkpoint_runs(args.dataset.resolve(), args.gap)
    for run in result["finished_at_runs"]:
        print(f"run {run['first']} .. {run['last']}: {run['sites']} sites {run['by_fidelity']}, "
              f"{run['sites_per_hour']} sites/h, {run['cpu_v4_equivalent_per_hour']} v4-CPU-equivalent/h")
    for run in result.get("checkpoint_runs", []):
        print(f"checkpoints {run['first']} .. {run['last']}: +{run['sites_added']} sites in "
              f"{run['hours']:.2f} h = {run['sites_per_hour']} sites/h")
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
