"""Compatibility shim: DScribe 2.1.x LMBTR with ASE >= 3.27.

DScribe's internal ``System(ase.Atoms)`` forwards its constructor arguments to ``Atoms.__init__``
*positionally* in the ASE <= 3.26 order ``(..., celldisp, constraint, calculator, info)``. ASE 3.27
moved ``calculator`` to a keyword-only argument and appended ``velocities`` to the positional list,
so DScribe's ``calculator`` lands in ``info`` and its ``info`` in ``velocities``; together with the
``momenta`` it also passes, ASE raises ``TypeError: Use only one of "momenta" and "velocities"``.
Only LMBTR (and MBTR) build ``System`` objects; SOAP and ACSF are unaffected.

The shim is a subclass of DScribe's ``System`` whose constructor passes every argument *by
keyword* (valid for every ASE >= 3.23), and whose ``from_atoms`` builds the subclass. It is
installed only into the namespace of ``dscribe.descriptors.lmbtr`` (the module-level name
``System`` that LMBTR looks up), so nothing else in DScribe or ASE is changed. It is idempotent
and tested in ``tests/test_descriptors.py``.
"""

from __future__ import annotations

_INSTALLED = False


def _make_system_class():
    from ase import Atoms
    from dscribe.core.system import System

    class CompatSystem(System):
        def __init__(self, symbols=None, positions=None, numbers=None, tags=None, momenta=None,
                     masses=None, magmoms=None, charges=None, scaled_positions=None, cell=None,
                     pbc=None, celldisp=None, constraint=None, calculator=None, info=None,
                     wyckoff_positions=None, equivalent_atoms=None):
            Atoms.__init__(self, symbols=symbols, positions=positions, numbers=numbers,
                           tags=tags, momenta=momenta, masses=masses, magmoms=magmoms,
                           charges=charges, scaled_positions=scaled_positions, cell=cell,
                           pbc=pbc, celldisp=celldisp, constraint=constraint,
                           calculator=calculator, info=info)
            self.wyckoff_positions = wyckoff_positions
            self.equivalent_atoms = equivalent_atoms
            self._cell_inverse = None
            self._displacement_tensor = None
            self._distance_matrix = None
            self._inverse_distance_matrix = None

        @staticmethod
        def from_atoms(atoms):
            constraints = getattr(atoms, "constraints", None)
            return CompatSystem(
                symbols=atoms.get_chemical_symbols(),
                positions=atoms.get_positions(),
                tags=atoms.get_tags(),
                momenta=atoms.get_momenta(),
                masses=atoms.get_masses(),
                magmoms=atoms.get_initial_magnetic_moments(),
                charges=atoms.get_initial_charges(),
                cell=atoms.get_cell(),
                pbc=atoms.get_pbc(),
                celldisp=atoms.get_celldisp(),
                constraint=constraints,
                calculator=atoms.calc,
                info=atoms.info,
            )

    return CompatSystem


def install() -> type:
    """Install the keyword-argument ``System`` into DScribe's LMBTR module; return the class."""
    global _INSTALLED
    import dscribe.descriptors.lmbtr as lmbtr_module

    if not _INSTALLED or not getattr(lmbtr_module.System, "_amorphxas_compat", False):
        cls = _make_system_class()
        cls._amorphxas_compat = True
        lmbtr_module.System = cls
        _INSTALLED = True
    return lmbtr_module.System
