"""Move sites of a dataset to a protocol that differs only in the chain cut (no DFT).

For every directory ``<cell_id>_site_<i>`` under CHAINS_DIR holding the site's ``xanes_0..2.in``
and ``.dat.sav`` files (kept from the campaign that computed SOURCE), the site is re-evaluated
from its Lanczos chains under PRESET and written into TARGET (``amorphxas.spectra.campaign.
recut_site``). Sites already in TARGET or missing from SOURCE are skipped and listed.

    .venv/bin/python scripts/recut_chains.py src/amorphxas/data/siox_sik_v2.h5 \
        src/amorphxas/data/siox_sik_v3.h5 runs/bench/chains --preset production-v3
"""

import argparse
import re
from pathlib import Path

from amorphxas.core.errors import AmorphxasError
from amorphxas.dataset import store
from amorphxas.spectra.campaign import recut_site
from amorphxas.spectra.lanczos import read_save_file

parser = argparse.ArgumentParser()
parser.add_argument("source", type=Path)
parser.add_argument("target", type=Path)
parser.add_argument("chains_dir", type=Path)
parser.add_argument("--preset", default="production-v3")
args = parser.parse_args()

done = store.done_keys(args.target)
for site_dir in sorted(p for p in args.chains_dir.iterdir() if p.is_dir()):
    match = re.fullmatch(r"(.+)_site_(\d+)", site_dir.name)
    saves = sorted(site_dir.glob("xanes_*.dat.sav"))
    if match is None or len(saves) != 3:
        print(f"skip {site_dir.name}: not a complete site ({len(saves)} chains)")
        continue
    cell_id, index = match.group(1), int(match.group(2))
    if store.site_key(cell_id, index) in done:
        print(f"skip {cell_id}:{index}: already in {args.target}")
        continue
    try:
        recut_site(args.source, args.target, cell_id, index, [read_save_file(p) for p in saves],
                   args.preset)
        print(f"recut {cell_id}:{index}")
    except AmorphxasError as exc:
        print(f"skip {cell_id}:{index}: {exc}")
