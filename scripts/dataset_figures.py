"""The dataset page's figures and numbers (docs/dataset.md), from a dataset file.

Writes, into ``--out`` (default docs/figures):
- ``dataset_valence_means.png`` (and ``.svg``): the crystal references and the per-valence mean site spectra
  (study 1 Fig. 2 / study 2 Fig. 2 analogues);
- ``dataset_bader_vs_valence.png``: Bader charge of every Si with a charge against its O count;
- ``dataset_chemical_shifts.json``: per valence the mean spectrum's edge and main peak (eV), the
  site count and the mean Bader charge (e) of all Si of that valence; the chemical shift per O
  neighbour as the least-squares slope of edge (and peak) energy against valence.

    .venv/bin/python scripts/dataset_figures.py [DATASET] [--out docs/figures]
"""

import argparse
import json
from pathlib import Path

import numpy as np

from amorphxas.dataset import embedded_path, info, load_reference, load_sites, load_spectra
from amorphxas.dataset.statistics import chemical_shifts, valence_means
from amorphxas.report.dataset_figures import plot_bader_vs_valence, plot_references_and_valences


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path, nargs="?", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    dataset = args.dataset or embedded_path()
    args.out.mkdir(parents=True, exist_ok=True)
    spectra, sites = load_spectra(dataset), load_sites(dataset)
    references = {name: load_reference(dataset, name) for name in ("diamond-si", "alpha-quartz")}
    plot_references_and_valences(spectra.energy, valence_means(dataset, spectra), references,
                                 args.out / "dataset_valence_means.png")
    charged = np.isfinite(sites.bader_charge)
    plot_bader_vs_valence(sites.valence[charged], sites.bader_charge[charged],
                          args.out / "dataset_bader_vs_valence.png")
    shifts = chemical_shifts(dataset, spectra)
    for v, row in shifts.items():
        mine = charged & (sites.valence == v)
        row["n_bader"] = int(mine.sum())
        row["mean_bader_charge_e"] = float(sites.bader_charge[mine].mean()) if mine.any() else None
    valences = np.array(sorted(shifts))
    per_o = {key: float(np.polyfit(valences, [shifts[v][key] for v in valences], 1)[0])
             for key in ("edge_eV", "peak_eV")}
    counts = info(dataset)
    result = {"dataset": str(Path(dataset).name), "n_sites": counts["n_sites"],
              "by_valence": counts["by_valence"], "per_valence": {str(v): shifts[v] for v in valences},
              "shift_per_O_neighbour_eV": per_o}
    (args.out / "dataset_chemical_shifts.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
