"""Figure of the xspectra variant study: Gamma-only vs the other variants, per site.

    .venv/bin/python benchmarks/studies/xs_variants/plot_xs_variants.py \
        docs/figures/spectra_xs_variants_si0.json \
        docs/figures/spectra_xs_variants_si4.json -o docs/figures/spectra_kpoints.png
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("reports", type=Path, nargs="+")
parser.add_argument("-o", "--output", type=Path, required=True)
args = parser.parse_args()

fig, axes = plt.subplots(1, len(args.reports), figsize=(5 * len(args.reports), 3.6), squeeze=False)
for ax, path in zip(axes[0], args.reports):
    report = json.loads(path.read_text())
    energy = np.array(report["fine_energy"])
    base = np.array(report["base_curves"]["study2_lorentzian_0.8"])
    scale = base.max()
    ax.plot(energy, base / scale, "k-", label="k = Gamma (dataset)")
    for name, row in report["variants"].items():
        curve = np.array(row["study2_lorentzian_0.8"]["curve"])
        diff = row["study2_lorentzian_0.8"]["max_abs_diff_rel"]
        ax.plot(energy, curve / scale, label=f"{name} (max diff {diff:.3f})")
    ax.set_xlim(energy[0], energy[0] + 30)
    ax.set_title(f"{Path(report['structure']).stem} site {report['site']}", fontsize=9)
    ax.set_xlabel("energy before the global constant (eV)")
    ax.legend(fontsize=7)
axes[0, 0].set_ylabel("intensity / max (Lorentzian 0.8 eV)")
fig.tight_layout()
fig.savefig(args.output, dpi=120)
