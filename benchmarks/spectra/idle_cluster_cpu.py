"""CPU an idle two-worker Dask LocalCluster (the campaign's kind) uses, per configuration.

    .venv/bin/python benchmarks/spectra/idle_cluster_cpu.py [--seconds 60]

The campaign's workers only wait on DFT subprocesses, so whatever its cluster process burns is
taken from the DFT jobs on a 2-core machine. Prints the process CPU over ``--seconds`` (after a
10 s start-up) for Dask's defaults, for the campaign's ``QUIET_LOCAL_CLUSTER`` and for it without
the 1 s tick (session 8's version).
"""

import argparse
import time

import dask
from distributed import Client, LocalCluster

from amorphxas.spectra.campaign import QUIET_LOCAL_CLUSTER


def idle_cpu(config: dict, seconds: float) -> float:
    """% of one core used by this process while a 2-worker threaded LocalCluster idles."""
    with dask.config.set(config):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                               dashboard_address=":0")
        client = Client(cluster)
        time.sleep(10)
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        used = 100 * (time.process_time() - cpu) / (time.monotonic() - wall)
        client.close()
        cluster.close()
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    session8 = {k: v for k, v in QUIET_LOCAL_CLUSTER.items() if k != "distributed.admin.tick.interval"}
    for name, config in (("dask defaults", {}), ("session 8 (no profiler, 5 s monitors)", session8),
                         ("QUIET_LOCAL_CLUSTER", QUIET_LOCAL_CLUSTER)):
        print(f"{name:40s} {idle_cpu(config, args.seconds):5.2f} % of a core")


if __name__ == "__main__":
    main()
