"""Bader charges from the PAW all-electron density, on a 9-atom quartz cell (real DFT, ~1 min)."""

from dataclasses import replace

import numpy as np
import pytest

from amorphxas.spectra.qe import PRESETS
from tests.conftest import needs_qe

pytest.importorskip("pybader")


@needs_qe
def test_quartz_bader_charges_are_ionic_and_neutral(quartz9, tmp_path):
    from amorphxas.spectra.bader import bader_charges

    charges = bader_charges(quartz9, tmp_path, replace(PRESETS["fast"], scf_kpoints=(2, 2, 2)))
    symbols = np.array(quartz9.get_chemical_symbols())
    # the basin charges of a neutral cell sum to zero (all valence electrons are assigned)
    assert abs(charges.sum()) < 0.05
    # quartz is strongly ionic in Bader's sense: Si ~ +3.2 e, O ~ -1.6 e (literature 3.1-3.3)
    assert np.all((charges[symbols == "Si"] > 2.5) & (charges[symbols == "Si"] < 3.6))
    assert np.allclose(charges[symbols == "O"], -charges[symbols == "Si"].mean() / 2, atol=0.15)
    # all three Si of quartz are equivalent by symmetry
    assert np.ptp(charges[symbols == "Si"]) < 0.05


@needs_qe
def test_gamma_point_bader_run_uses_gamma_tricks_and_stays_neutral(quartz9, tmp_path):
    """At k = Gamma the PAW SCF runs gamma_only; pp.x and the basin partition must still see the
    whole density (a half-sphere density would lose electrons: the sum would not be ~0)."""
    from amorphxas.spectra.bader import bader_charges

    charges = bader_charges(quartz9, tmp_path, PRESETS["fast"])
    assert "gamma-point specific algorithms" in (tmp_path / "bader" / "paw.out").read_text()
    symbols = np.array(quartz9.get_chemical_symbols())
    assert abs(charges.sum()) < 0.05
    assert np.all((charges[symbols == "Si"] > 2.5) & (charges[symbols == "Si"] < 3.6))
