"""Sites per hour of a small real-QE campaign through SLURM vs the local Dask cluster.

    .venv/bin/python benchmarks/spectra/bench_cluster_rate.py [--sites 2] [-o result.json]

Runs the same workload twice, back to back, each time in a fresh dataset and scratch directory:
``--sites`` sites of the 8-atom diamond Si cell (one shared ground state) with the cheap test
protocol of tests/test_cluster.py (``fast``, one polarisation, 200 Lanczos steps, 1 MPI rank),

1. ``slurm``: through a dask-jobqueue ``SLURMCluster`` with 1 job x 1 core (one Dask worker,
   QE launched by ``srun --mpi=pmix``), on a single-node SLURM started on localhost for the run
   (tests/slurm_local.py; needs root and ``scripts/install_slurm.sh``), or on a running SLURM
   with ``--slurm-conf`` / ``--partition``;
2. ``local``: through the campaign's local Dask cluster with 1 worker (QE launched by
   ``mpirun -np 1``).

For each it reports the wall time of the whole campaign call (cluster start, job start and
worker connection included), the DFT wall seconds stored with the sites (ground state once +
core-hole SCF + xspectra) and the rest, the scheduling overhead, in seconds per site. The
difference of the two overheads is what SLURM costs per site on top of the local cluster.
Must run from the repository root (it imports tests.slurm_local).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import h5py
from ase.build import bulk
from ase.io import write

from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.dataset import create, transaction
from amorphxas.spectra.campaign import SiteTask, add_cells, run_campaign
from amorphxas.spectra.cluster import load_cluster_config, make_cluster
from amorphxas.spectra.qe import PRESETS

# the protocol of tests/test_cluster.py::test_real_qe_sites_through_slurm (tests/test_campaign.TINY)
TINY_ONE_RANK = replace(PRESETS["fast"], xs_polarisations=((1, 0, 0),), xs_niter=200,
                        xs_nepoint=401, n_procs=1)
CONSTANT = 1905.0  # eV: puts the tiny cell's spectra inside the common grid (benchmark only)


def _dataset(path: Path) -> Path:
    """A fresh dataset holding the 8-atom diamond Si cell (a = 5.431 Angstrom) as ``si8``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path.parent / "si8.extxyz", bulk("Si", "diamond", a=5.431, cubic=True))
    create(path, COMMON_GRID)
    add_cells(path, [path.parent / "si8.extxyz"])
    with transaction(path) as h5:
        h5["spectra"].attrs["alignment_constant_eV"] = CONSTANT
    return path


def _slurm_file(root: Path, partition: str | None) -> Path:
    """One job of one core, one worker, one rank per site; QE through srun."""
    lines = ["[cluster]", 'walltime = "01:00:00"', "cores = 1", 'memory = "400MB"', "jobs = 1",
             "ranks_per_site = 1", f"scratch = {json.dumps(str(root / 'scratch'))}",
             f"log_directory = {json.dumps(str(root / 'logs'))}"]
    if partition:
        lines.append(f"queue = {json.dumps(partition)}")
    lines += ["[qe]", 'launcher = "srun --mpi=pmix --ntasks={ranks} --cpus-per-task=1"']
    path = root / "cluster.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _dft_seconds(path: Path) -> dict:
    """Per-site DFT wall seconds stored in ``path``: {key: {ground_state, site}} (site: core-hole
    SCF + every xspectra run)."""
    out = {}
    with h5py.File(path, "r") as h5:
        for key, group in h5["spectra/raw"].items():
            seconds = json.loads(group.attrs["seconds"])
            out[key] = {"ground_state": seconds["ground_state"],
                        "site": seconds["core_hole_scf"] + sum(
                            v for k, v in seconds.items() if k.startswith("xanes"))}
    return out


def run_once(kind: str, root: Path, tasks: list[SiteTask], partition: str | None) -> dict:
    """One campaign of ``tasks`` through ``kind`` (slurm or local) in ``root``; its timings (s)."""
    path = _dataset(root / "data" / "d.h5")
    cluster = None
    start = time.monotonic()
    if kind == "slurm":
        config = load_cluster_config(_slurm_file(root, partition), "slurm")
        cluster = make_cluster(config)
        executables = config.executables()
    else:
        executables = None
    try:
        stats = run_campaign(path, tasks, TINY_ONE_RANK, root / "scratch", 1, cluster=cluster,
                             progress=False, executables=executables)
    finally:
        if cluster is not None:
            cluster.close()
    wall = time.monotonic() - start
    if (stats["done"], stats["failed"]) != (len(tasks), 0):
        raise SystemExit(f"{kind}: {stats} (see {root})")
    sites = _dft_seconds(path)
    ground_state = max(s["ground_state"] for s in sites.values())  # one cached ground state
    dft = ground_state + sum(s["site"] for s in sites.values())
    n = len(tasks)
    return {"sites": n, "wall_s": round(wall, 1), "dft_wall_s": round(dft, 1),
            "ground_state_s": round(ground_state, 1),
            "site_dft_s": [round(s["site"], 1) for s in sites.values()],
            "wall_per_site_s": round(wall / n, 1), "overhead_per_site_s": round((wall - dft) / n, 1),
            "sites_per_hour": round(3600 * n / wall, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--sites", type=int, default=2, help="sites of the 8-atom Si cell (<= 8)")
    parser.add_argument("--order", default="slurm,local",
                        help="which runs, in this order (comma-separated: slurm, local)")
    parser.add_argument("--slurm-conf", type=Path, default=None,
                        help="use this running SLURM (its slurm.conf) instead of starting one")
    parser.add_argument("--partition", default=None, help="SLURM partition (with --slurm-conf)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the datasets, scratch and logs go (default: a temporary "
                             "directory, kept)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write the result as JSON")
    args = parser.parse_args(argv)
    order = [kind.strip() for kind in args.order.split(",") if kind.strip()]
    if not 1 <= args.sites <= 8 or not order or set(order) - {"slurm", "local"}:
        parser.error("--sites must be 1..8 and --order a list of slurm, local")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_cluster_rate_"))
    tasks = [SiteTask("si8", i) for i in range(args.sites)]
    slurm = None
    if "slurm" in order:
        if args.slurm_conf:
            os.environ["SLURM_CONF"] = str(args.slurm_conf.resolve())
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
            from tests.slurm_local import LocalSlurm, slurm_available

            reason = slurm_available()
            if reason:
                raise SystemExit(f"cannot start a local SLURM: {reason}")
            slurm = LocalSlurm(workdir / "slurm")
            slurm.start()
            os.environ["SLURM_CONF"] = str(slurm.conf)
    results = {}
    try:
        for kind in order:
            print(f"{kind}: {args.sites} site(s) of si8 ...", flush=True)
            results[kind] = run_once(kind, workdir / kind, tasks, args.partition)
            print(f"{kind}: {json.dumps(results[kind])}", flush=True)
        if slurm is not None:
            results["sacct"] = slurm.sacct(parsable=True)
    finally:
        if slurm is not None:
            slurm.stop()
    if {"slurm", "local"} <= set(results):
        extra = results["slurm"]["overhead_per_site_s"] - results["local"]["overhead_per_site_s"]
        results["slurm_extra_overhead_per_site_s"] = round(extra, 1)
        print(f"SLURM overhead beyond the local cluster: {extra:.1f} s per site")
    results["conditions"] = {"cpus": os.cpu_count(), "load_average": os.getloadavg(),
                             "host": platform.node(), "workdir": str(workdir),
                             "protocol": "fast, 1 polarisation, 200 Lanczos steps, 1 rank"}
    if args.output:
        args.output.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
