"""Descriptor memory estimate (``Descriptor.estimate_memory``) against the measured peak RSS.

Each case runs in a fresh child process: the descriptor is set up and warmed on a 2-atom cell,
then the backend alone (``_compute_chunked``, no density check) computes the Si sites of the test
cell; the growth of the peak resident size (ru_maxrss) is compared with the estimate.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/descriptors/bench_descriptor_memory.py

Cases: 1 Si in an L-A box (``fast``; L = 300, 600: DScribe's cell list dominates) and a 4x4x4
alpha-quartz supercell (4,608 atoms, 1,536 Si, ``study1``).
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import resource, sys
import numpy as np
from ase import Atoms
from amorphxas.descriptors import get_descriptor
from amorphxas.structures import build_reference
kind, preset, case = sys.argv[1], sys.argv[2], sys.argv[3]
d = get_descriptor(kind, preset)
d.compute(Atoms("Si2", positions=[[0, 0, 0], [1.36, 1.36, 1.36]], cell=[5.43] * 3, pbc=True))
if case == "quartz4":
    q = build_reference("alpha-quartz").repeat(4)
    atoms = Atoms(numbers=q.numbers, positions=q.positions, cell=q.cell, pbc=True)
else:
    atoms = Atoms("Si", positions=[[0.5, 0.5, 0.5]], cell=[float(case)] * 3, pbc=True)
si = np.flatnonzero(atoms.numbers == 14)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
est = d.estimate_memory(atoms, si.size)
d._compute_chunked(atoms, si)
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print((rss1 - rss0) / 2 ** 20, est / 2 ** 20)
"""

CASES = [(k, "fast", L) for k in ("soap-gto", "acsf") for L in ("300", "600")] + [
    (k, "study1", "quartz4") for k in ("soap-gto", "snap", "qsnap")]


def main() -> None:
    rows = []
    for kind, preset, case in CASES:
        out = subprocess.run([sys.executable, "-c", CHILD, kind, preset, case],
                             capture_output=True, text=True, check=True).stdout.split()
        measured, estimate = float(out[-2]), float(out[-1])
        rows.append({"kind": kind, "preset": preset, "case": case, "measured_MiB": round(measured),
                     "estimate_MiB": round(estimate), "ratio": round(estimate / measured, 2)})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
