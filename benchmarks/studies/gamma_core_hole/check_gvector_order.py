"""Check ``qe_save.kpoint_gvector_order`` against every k-point-code density in a scratch tree.

For each ``charge-density.dat`` written by pw.x's k-point code (``gamma_only`` false in its
``data-file-schema.xml``) under ``ROOT``, shuffles its Miller indices, re-orders them with
``kpoint_gvector_order`` and checks that QE's own order comes back exactly. This is what
``gamma_save_to_kpoint`` relies on when it writes a whole-sphere density for xspectra.

    .venv/bin/python benchmarks/studies/gamma_core_hole/check_gvector_order.py scratch
(session 7: 19 densities of the project's cells, 291k-901k G-vectors, cubic and hexagonal: all
exact.)
"""

import re
import sys
from pathlib import Path

import numpy as np

from amorphxas.spectra.qe_save import kpoint_gvector_order, read_charge_density

root = Path(sys.argv[1] if len(sys.argv) > 1 else "scratch")
results = []
for xml in sorted(root.glob("**/*.save/data-file-schema.xml")):
    text = xml.read_text()
    if not re.search(r"<gamma_only>\s*false", text) or not (xml.parent / "charge-density.dat").is_file():
        continue
    alat = float(re.search(r'<atomic_structure[^>]*alat="([^"]+)"', text).group(1))
    density = read_charge_density(xml.parent / "charge-density.dat")
    shuffled = density.mill[np.random.default_rng(0).permutation(len(density.mill))]
    exact = np.array_equal(shuffled[kpoint_gvector_order(shuffled, density.bvectors, alat)],
                           density.mill)
    results.append(exact)
    print(f"{xml.parent}  {len(density.mill)} G-vectors  {'exact' if exact else 'DIFFERENT'}",
          flush=True)
print(f"{sum(results)} of {len(results)} densities in QE's order")
sys.exit(0 if all(results) else 1)
