"""amorphxas: structure <-> Si K-edge XANES for amorphous SiOx.

The main entry points, one per stage (each also an ``amorphxas`` command):

- :func:`build`: a cell (melt-quench, depleted supercell) or a crystal reference -> ase.Atoms
- :func:`analyse_sites`: per-Si-site valence, motif and RDF of a cell
- :func:`compute_site`: core-hole DFT spectrum of one Si site (Quantum ESPRESSO)
- :class:`Dataset`: the HDF5 dataset of cells, site spectra and Bader charges
- :func:`train_forward`: structure -> spectrum model; :func:`predict`: its per-site spectra
- :func:`train_inverse`: spectrum -> valence / Bader charge / RDF networks
- :func:`invert`: Si valence fractions and mean valence of a measured spectrum

Energies are in eV, distances in Angstrom, charges in e; see :mod:`amorphxas.api` for the shapes.
The names are imported on first use, so ``import amorphxas`` stays light.
"""

# a literal, not importlib.metadata: reading the installed metadata cost ~0.6 s of every import
from amorphxas._version import __version__

#: public name -> module it lives in (imported on first access, PEP 562)
_LAZY = {
    "build": "amorphxas.api", "analyse_sites": "amorphxas.api", "compute_site": "amorphxas.api",
    "Dataset": "amorphxas.dataset", "train_forward": "amorphxas.api",
    "train_inverse": "amorphxas.api", "predict": "amorphxas.api", "invert": "amorphxas.api",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'amorphxas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
