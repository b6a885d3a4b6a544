"""`amorphxas compute-site`: one site on the absolute scale of a dataset's alignment constant.

The constant is refused for a protocol other than the one it was fitted under (no DFT needed to
see it); with the engine replaced by the stored raw result of a real site of the embedded
dataset, the command's CSV is that site's stored spectrum; one real DFT run (slow)."""

import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

import amorphxas.spectra.site as site_module
from amorphxas.cli import app
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.dataset import embedded_path, load_structure
from amorphxas.spectra.qe import PRESETS, get_settings
from amorphxas.spectra.site import SiteResult, check_alignment_protocol
from amorphxas.structures import write_structure
from tests.conftest import needs_qe

runner = CliRunner()


@pytest.fixture
def no_dft(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("compute-site ran the DFT engine")

    monkeypatch.setattr(site_module, "compute_site", refuse)


def _real_site(tmp_path, row=0):
    """(structure file, atom index, stored intensity, SiteResult from the stored raw data)."""
    path = embedded_path()
    with h5py.File(path, "r") as h5:
        spectra = h5["spectra"]
        cell = spectra["cell_id"][row]
        cell = cell.decode() if isinstance(cell, bytes) else str(cell)
        index = int(spectra["atom_index"][row])
        raw = spectra["raw"][f"{cell}:{index}"]
        attrs = raw.attrs
        result = SiteResult(index, raw["energy"][()], raw["sigma"][()], float(attrs["xe0"]),
                            float(attrs["delta_total_energy"]), float(attrs["ground_state_energy"]),
                            float(attrs["core_hole_energy"]), int(attrs["core_hole_iterations"]),
                            {k: v for k, v in json.loads(attrs["seconds"]).items()
                             if isinstance(v, (int, float))})  # (re-cut sites add a file name)
        intensity = spectra["intensity"][row]
    structure = tmp_path / f"{cell}.extxyz"
    write_structure(load_structure(path, cell), structure)
    return structure, index, intensity, result


def test_another_protocol_than_the_constants_is_refused_before_any_dft(tmp_path, no_dft):
    structure, index, _, _ = _real_site(tmp_path)
    out = tmp_path / "site.csv"
    result = runner.invoke(app, ["compute-site", str(structure), "--site", str(index), "--preset",
                                 "fast", "-o", str(out)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert f"{embedded_path()}: its alignment constant was fitted under another DFT protocol" in text
    assert "differs in ecutrho, ecutwfc" in text and "use --preset production-v4" in text
    assert not out.exists()


def test_the_embedded_constant_belongs_to_exactly_its_own_presets():
    """v4's quartz reference: production-v4 (and production-v3, screening-gamma, which differ
    only in the k-points of the site chains, not in how quartz was computed); all others refused."""
    from amorphxas.core.errors import DatasetError

    accepted = []
    for name, preset in PRESETS.items():
        try:
            check_alignment_protocol(embedded_path(), preset)
            accepted.append(name)
        except DatasetError as exc:
            assert "\n" not in str(exc)
    assert sorted(accepted) == ["production-v3", "production-v4", "screening-gamma"]


def test_a_dataset_without_a_recorded_quartz_protocol_is_refused(tmp_path, no_dft):
    import shutil

    copy = tmp_path / "copy.h5"
    shutil.copyfile(embedded_path(), copy)
    with h5py.File(copy, "a") as h5:
        del h5["references/alpha-quartz"].attrs["settings"]
    structure, index, _, _ = _real_site(tmp_path)
    result = runner.invoke(app, ["compute-site", str(structure), "--site", str(index),
                                 "--dataset", str(copy), "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and "no recorded protocol" in result.output


@pytest.mark.parametrize("row", [0, -1])
def test_with_the_stored_raw_result_the_csv_is_the_stored_spectrum(tmp_path, monkeypatch, row):
    """Engine replaced by the site's stored raw result (real DFT of the embedded dataset): the
    CSV must be the dataset's own intensity row (same constant, broadening, grid)."""
    structure, index, intensity, stored = _real_site(tmp_path, row)
    calls = []

    def engine(atoms, site, workdir, settings, pseudos=None):
        calls.append((len(atoms), site, settings))
        return stored

    monkeypatch.setattr(site_module, "compute_site", engine)
    out = tmp_path / "site.csv"
    result = runner.invoke(app, ["compute-site", str(structure), "--site", str(index), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert calls == [(len(load_structure(embedded_path(), structure.stem)), index,
                      get_settings("production-v4"))]
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert out.read_text().splitlines()[0] == "energy_eV,intensity"
    np.testing.assert_allclose(table[:, 0], COMMON_GRID, atol=5e-7)
    np.testing.assert_allclose(table[:, 1], intensity, atol=5.1e-7)  # written with %.6f
    assert intensity.max() > 1e3 * 5e-7


@needs_qe
@pytest.mark.slow
def test_real_dft_site_through_the_cli(tmp_path, si8):
    """The fast preset on 8-atom Si against a dataset whose quartz reference is (hand-made) of
    the fast protocol: the DFT runs, the CSV is finite, non-negative and has an edge."""
    from amorphxas.core.spectrum import DEFAULT_BROADENING, edge_energy
    from amorphxas.dataset import create
    from amorphxas.spectra.campaign import write_reference

    path = tmp_path / "d.h5"
    create(path, COMMON_GRID)
    energy = np.linspace(-80.0, 0.0, 801)  # hand-made quartz stand-in: fixes the constant only
    fake = SiteResult(0, energy, np.ones((3, 801)) / (1 + (energy + 40) ** 2), 5.0, 0.0, 0.0, 0.0,
                      1, {})
    write_reference(path, "alpha-quartz", si8, fake, PRESETS["fast"], DEFAULT_BROADENING, {})
    structure = tmp_path / "si8.extxyz"
    write_structure(si8, structure)
    out = tmp_path / "si8.csv"
    result = runner.invoke(app, ["compute-site", str(structure), "--site", "0", "--preset", "fast",
                                 "--dataset", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert np.all(np.isfinite(table)) and table[:, 1].min() >= 0 and table[:, 1].max() > 0
    edge_energy(table[:, 0], table[:, 1])
