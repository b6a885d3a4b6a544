"""The datasets shipped in the package (the embedded default and its successors, one protocol
each): schema, finiteness, consistency with their own structures and, where the Lanczos chains
are stored, with those chains."""

import h5py
import numpy as np
import pytest

from amorphxas.dataset import embedded_path, info, load_sites, load_spectra, load_structure, validate
from amorphxas.report.figures import chemical_shifts
from amorphxas.sites import analyse
from amorphxas.spectra.processing import COMMON_GRID

SHIPPED = sorted(embedded_path().parent.glob("siox_sik_v*.h5"))


@pytest.fixture(params=SHIPPED, ids=[p.stem for p in SHIPPED])
def PATH(request):
    return request.param


def test_the_embedded_default_is_shipped():
    assert embedded_path() in SHIPPED


def test_validates_against_the_schema(PATH):
    validate(PATH)
    summary = info(PATH)
    assert summary["n_cells"] >= 9
    assert set(summary["references"]) == {"alpha-quartz", "diamond-si"}


def test_spectra_are_finite_on_the_common_grid_and_come_from_the_engine(PATH):
    spectra = load_spectra(PATH)
    np.testing.assert_allclose(spectra.energy, COMMON_GRID)
    assert np.all(np.isfinite(spectra.intensity)) and np.all(spectra.intensity >= -1e-6)
    with h5py.File(PATH, "r") as h5:
        if spectra.intensity.shape[0]:
            assert "pw.x" in h5["spectra"].attrs["engine"]
        for key in h5["spectra/raw"]:
            raw = h5["spectra/raw"][key]
            assert raw["sigma"].shape[0] == 3 and raw["sigma"].shape[1] == raw["energy"].shape[0]


def test_references_sit_at_their_experimental_energies(PATH):
    """Quartz main peak fixes the scale (1846.8 eV); the diamond-Si edge is then a prediction."""
    from amorphxas.dataset import load_reference
    from amorphxas.spectra.processing import edge_energy, main_peak

    e, quartz = load_reference(PATH, "alpha-quartz")
    assert main_peak(e, quartz) == pytest.approx(1846.8, abs=0.2)
    e, silicon = load_reference(PATH, "diamond-si")
    assert 1838.5 < edge_energy(e, silicon) < 1841.0


def test_stored_valences_equal_a_recomputation_from_the_stored_structures(PATH):
    sites = load_sites(PATH)
    for cell_id in np.unique(sites.cell_id):
        rows = sites.cell_id == cell_id
        fresh = analyse(load_structure(PATH, cell_id))
        order = np.argsort(sites.atom_index[rows])
        np.testing.assert_array_equal(fresh.index, sites.atom_index[rows][order])
        np.testing.assert_array_equal(fresh.valence, sites.valence[rows][order])


def test_bader_charges_of_each_computed_cell_sum_to_zero(PATH):
    """The basins hold all valence electrons: the charges sum to zero within 0.1 % of them."""
    with h5py.File(PATH, "r") as h5:
        cells = [c for c in h5["sites"] if "bader_total_charge" in h5["sites"][c].attrs]
        for cell_id in cells:
            symbols = load_structure(PATH, cell_id).get_chemical_symbols()
            electrons = 4 * symbols.count("Si") + 6 * symbols.count("O")
            assert abs(h5["sites"][cell_id].attrs["bader_total_charge"]) < 1e-3 * electrons
            charges = h5["sites"][cell_id]["bader_charge"][()]
            assert np.all(np.isfinite(charges))


def test_mean_edge_rises_from_si0_to_si4(PATH):
    shifts = chemical_shifts(PATH)
    populated = [v for v in range(5) if shifts.get(v, {}).get("n_sites", 0) >= 3]
    if len(populated) < 2:
        pytest.skip(f"only {len(populated)} valence classes with >= 3 site spectra so far")
    edges = [shifts[v]["edge_eV"] for v in populated]
    assert np.all(np.diff(edges) > 0), dict(zip(populated, edges))


def test_stored_spectra_are_the_stored_lanczos_chains_evaluated(PATH):
    """Where chains are stored (the "fermi" protocol), the raw spectrum of a site or reference
    is exactly their evaluation with the dataset's cut by this amorphxas: nothing in the file
    was made another way or by an older evaluation (``amorphxas dataset reevaluate``)."""
    import json

    from amorphxas.spectra.lanczos import RY_EV, chains_from_arrays, cross_section

    with h5py.File(PATH, "r") as h5:
        settings = json.loads(h5["spectra"].attrs.get("settings", "{}"))
        if settings.get("occupied_cut") != "fermi":
            pytest.skip("this protocol keeps xspectra's own plotted spectra (no chains)")
        keys = sorted(h5["spectra/raw"])
        groups = [(h5["spectra/raw"][key], h5["spectra/raw"][key].attrs)
                  for key in keys[:2] + keys[-1:]]
        groups += [(ref["raw"], ref.attrs) for ref in h5["references"].values()]
        for raw, attrs in groups:
            chains = chains_from_arrays(raw, settings["xs_check_conv"])
            xe0, delta = float(attrs["xe0"]), float(attrs["delta_total_energy"])
            rel = raw["energy"][()] - xe0 - delta
            for pol, chain in enumerate(chains):
                expected = cross_section(chain, rel, xe0, settings["xs_gamma"],
                                         occupied_width=settings["degauss"] * RY_EV)
                np.testing.assert_allclose(raw["sigma"][pol], expected, rtol=1e-9, atol=0)
