"""The worked example of docs/howto-measured.md: `invert`'s text answer for the average of one
embedded cell's computed v4 site spectra (real DFT spectra, known mean valence), with the
dataset's computed alpha-quartz spectrum as the "measured" reference.

    .venv/bin/python benchmarks/inverse/howto_example.py --dataset COPY.h5 --cell siox_x1.00_s1
"""

from __future__ import annotations

import argparse

import numpy as np

from amorphxas.dataset import embedded_path, load_sites, load_spectra
from amorphxas.dataset.loader import load_reference, spectrum_site_rows
from amorphxas.measured.answer import analyse, format_text
from amorphxas.measured.io import MeasuredSpectrum


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(embedded_path()))
    parser.add_argument("--cell", default="siox_x1.00_s1")
    parser.add_argument("--bootstrap", type=int, default=100)
    args = parser.parse_args()
    sites, spectra = load_sites(args.dataset), load_spectra(args.dataset)
    mine = spectra.cell_id == args.cell
    valence = sites.valence[spectrum_site_rows(sites, spectra)][mine]
    sample = MeasuredSpectrum(energy=spectra.energy, mu=spectra.intensity[mine].mean(0),
                              source=f"{args.cell[5:]}_cell_average.csv")
    ref_e, ref_i = load_reference(args.dataset, "alpha-quartz")
    reference = MeasuredSpectrum(energy=ref_e, mu=ref_i, source="quartz.csv")
    analysis = analyse(sample, references=[(reference, "alpha-quartz")], dataset=args.dataset,
                       n_boot=args.bootstrap)
    print(f"{int(mine.sum())} v4 site spectra of {args.cell}, true mean valence "
          f"{np.mean(valence):.2f}, Si0..Si4+ {np.bincount(valence, minlength=5)[:5].tolist()}")
    print(format_text(analysis.result))


if __name__ == "__main__":
    main()
