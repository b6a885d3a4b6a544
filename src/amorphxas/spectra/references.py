"""The crystal references of a dataset (alpha-quartz, diamond Si), computed with the dataset's
protocol as applied to each; alpha-quartz fixes the alignment constant of every spectrum."""

from __future__ import annotations

from pathlib import Path

from amorphxas.core.dft_settings import DFTSettings, get_settings
from amorphxas.core.errors import DatasetError
from amorphxas.core.spectrum import DEFAULT_BROADENING, Broadening, alignment_constant
from amorphxas.dataset import Dataset, results
from amorphxas.spectra.protocol import reference_settings
from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.records import raw_chains
from amorphxas.spectra.site import SiteResult, compute_site, stored_spectrum

REFERENCES = ("alpha-quartz", "diamond-si")


def compute_references(dataset: Path, preset: str | DFTSettings, scratch: Path,
                       broadening: Broadening = DEFAULT_BROADENING, names=REFERENCES,
                       log=print) -> None:
    """Compute the crystal references (if missing) and set the alignment constant from quartz.

    ``log``: called with one line per reference computed."""
    from amorphxas.structures import build_reference

    settings = get_settings(preset)
    results.check_broadening(dataset, broadening)  # before any DFT
    pseudos = prepare_pseudos()
    for name in names:
        if name in Dataset(dataset).references:
            continue
        atoms = build_reference(name)
        index = atoms.get_chemical_symbols().index("Si")
        settings_name = reference_settings(name, settings)
        log(f"reference {name}: {len(atoms)} atoms, site {index}")
        result = compute_site(atoms, index, Path(scratch) / f"reference_{name}", settings_name,
                              pseudos)
        write_reference(dataset, name, atoms, result, settings_name, broadening, pseudos.hashes())


def write_reference(dataset: Path, name: str, atoms, result: SiteResult, settings: DFTSettings,
                    broadening: Broadening, hashes: dict) -> None:
    """Store a reference; alpha-quartz also fixes (and re-applies) the alignment constant."""
    stored = Dataset(dataset)
    results.check_broadening(stored, broadening)
    fitted = None  # the constant this reference fixes (alpha-quartz only)
    if name == "alpha-quartz":
        constant = fitted = alignment_constant(result.energy, result.sigma, broadening,
                                               settings.xs_gamma)
    else:
        constant = stored.alignment_constant()
        if constant is None:
            raise DatasetError("compute alpha-quartz before other references")
    intensity = stored_spectrum(result, constant, broadening, settings)
    attrs = dict(result.provenance(), settings=settings.as_dict(), pseudopotentials=hashes,
                 n_atoms=len(atoms), formula=atoms.get_chemical_formula(),
                 structure_numbers=atoms.numbers.tolist(),
                 structure_cell=atoms.cell[:].tolist(),
                 structure_positions=atoms.positions.tolist())
    results.write_reference(dataset, name, intensity, result.energy, result.sigma, attrs,
                            raw_chains(result), broadening, fitted)
