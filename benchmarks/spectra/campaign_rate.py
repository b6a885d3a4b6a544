"""Cost per site from the timings every spectrum stores (no DFT is run).

    .venv/bin/python benchmarks/spectra/campaign_rate.py [DATASET]
Prints, per site: ground state (s, once per cell), core-hole SCF (s, iterations), xspectra (s,
3 polarisations), CPU seconds of both (stored since session 7), and the median cost per site
excluding the cell's ground state, over the sites computed under this dataset's protocol (not
those moved in from another dataset).
"""

import json
import sys

import h5py
import numpy as np

from amorphxas.dataset import embedded_path

path = sys.argv[1] if len(sys.argv) > 1 else embedded_path()
rows = []
with h5py.File(path, "r") as h5:
    settings = json.loads(h5["spectra"].attrs.get("settings", "{}"))
    for key, group in h5["spectra/raw"].items():
        seconds = json.loads(group.attrs["seconds"])
        xs = sum(v for k, v in seconds.items() if k.startswith("xanes"))
        cpu = seconds.get("cpu_core_hole_scf", 0.0) + sum(
            v for k, v in seconds.items() if k.startswith("cpu_xanes"))
        # sites moved from another dataset keep the timings of the protocol that computed them
        moved = seconds.get("recut_from") or seconds.get("reevaluated_from") or ""
        rows.append((key, seconds["ground_state"], seconds["core_hole_scf"],
                     int(group.attrs["core_hole_iterations"]), xs, moved, cpu))
print(f"{'site':24s} {'GS s':>7s} {'CH s':>7s} {'CH it':>6s} {'xs s':>7s} {'CPU s':>7s}  timed in")
for key, gs, ch, it, xs, moved, cpu in rows:
    print(f"{key:24s} {gs:7.0f} {ch:7.0f} {it:6d} {xs:7.0f} {cpu or float('nan'):7.0f}  "
          f"{moved or 'this dataset'}")
rows = [row for row in rows if not row[5]]
if rows:
    per_site = np.array([ch + xs for _, _, ch, _, xs, _, _ in rows])
    print(f"{len(rows)} sites; core-hole SCF + xspectra per site: median {np.median(per_site):.0f} s "
          f"({60 / (np.median(per_site) / 60):.1f} sites/hour per worker, before ground states); "
          f"n_procs per site: {settings.get('n_procs')}")
    # CPU seconds (stored since session 7) do not depend on what else shared the cores
    cpu = np.array([row[6] for row in rows if row[6] > 0])
    if len(cpu):
        print(f"{len(cpu)} sites with CPU seconds: median {np.median(cpu):.0f} s of CPU per site "
              f"(core-hole SCF + xspectra, one rank)")
