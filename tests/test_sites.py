"""Per-site analysis (valence, motif, per-site RDF) and the `build` / `sites` CLI commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from scipy.signal import find_peaks
from typer.testing import CliRunner

from amorphxas.cli import app
from amorphxas.core.errors import StructureError
from amorphxas.sites import RDF_POINTS, SI_O_CUTOFF, analyse, first_peak, motif_label, partial_rdf, rdf_grid
from amorphxas.structures import build_reference, depleted_start

runner = CliRunner()


@pytest.fixture(scope="module")
def quartz():
    return build_reference("alpha-quartz")


@pytest.fixture(scope="module")
def diamond():
    return build_reference("diamond-si")


def test_quartz_all_si4(quartz):
    res = analyse(quartz)
    assert len(res.index) == 24
    assert np.all(res.valence == 4) and np.all(res.n_si_neighbours == 0)
    assert set(res.motif) == {"SiO4"}
    assert res.composition_x == pytest.approx(2.0)
    assert res.density_g_cm3 == pytest.approx(2.648, abs=0.01)
    # the first peak of every per-site RDF is the Si-O bond at ~1.61 A, holding 4 atoms
    r = res.rdf_r
    rho = res.number_density
    for g in res.rdf:
        assert first_peak(r, g) == pytest.approx(1.61, abs=0.02)
        dr = r[1] - r[0]
        n_first = np.sum((4 * np.pi * r**2 * rho * g * dr)[r < 2.25])
        assert n_first == pytest.approx(4.0, abs=0.01)


def test_diamond_all_si0(diamond):
    res = analyse(diamond)
    assert len(res.index) == 64
    assert np.all(res.valence == 0) and np.all(res.n_si_neighbours == 4)
    assert set(res.motif) == {"SiSi4"}
    assert res.composition_x == 0.0
    assert res.density_g_cm3 == pytest.approx(2.329, abs=0.002)


def test_diamond_rdf_shells(diamond):
    res = analyse(diamond)
    assert res.rdf.shape == (64, RDF_POINTS) and res.rdf_r.shape == (RDF_POINTS,)
    assert res.rdf_r[0] > 0 and res.rdf_r[-1] < 5.0
    assert np.allclose(res.rdf, res.rdf[0], atol=1e-8)  # all sites equivalent
    peaks, _ = find_peaks(res.rdf[0], height=1.0)
    found = res.rdf_r[peaks]
    a = 5.431
    assert found == pytest.approx([a * np.sqrt(3) / 4, a / np.sqrt(2), a * np.sqrt(11) / 4],
                                  abs=0.015)
    assert found == pytest.approx([2.35, 3.84, 4.50], abs=0.015)
    # shell populations 4, 12, 12 from integrating 4 pi R^2 rho g dR
    r = res.rdf_r
    counts = 4 * np.pi * r**2 * res.number_density * res.rdf[0] * (r[1] - r[0])
    assert counts[(r > 2.0) & (r < 2.7)].sum() == pytest.approx(4, abs=0.01)
    assert counts[(r > 3.5) & (r < 4.2)].sum() == pytest.approx(12, abs=0.01)
    assert counts[(r > 4.2) & (r < 4.8)].sum() == pytest.approx(12, abs=0.02)


def test_rdf_normalisation_tends_to_one():
    # for a large random (ideal gas) cell the per-site RDF averages to ~1 at large R
    rng = np.random.default_rng(0)
    atoms = Atoms(["Si"] * 400 + ["O"] * 400, positions=rng.random((800, 3)) * 25.0,
                  cell=[25.0] * 3, pbc=True)
    from amorphxas.sites import site_rdfs

    r, g = site_rdfs(atoms, np.arange(400))
    assert g.mean(axis=0)[(r > 3) & (r < 4.8)].mean() == pytest.approx(1.0, abs=0.05)


def test_invariance_translation_and_wrap(quartz):
    amorph = depleted_start(1.0, seed=4)
    amorph.rattle(0.15, seed=1)
    for atoms in (quartz, amorph):
        ref = analyse(atoms)
        moved = atoms.copy()
        moved.translate([3.3, -7.1, 11.9])
        moved.wrap()
        unwrapped = atoms.copy()
        shifts = np.random.default_rng(0).integers(-2, 3, size=(len(atoms), 3))
        unwrapped.positions += shifts @ np.asarray(atoms.cell)
        for other in (moved, unwrapped):
            res = analyse(other)
            assert np.array_equal(res.index, ref.index)
            assert np.array_equal(res.valence, ref.valence)
            assert list(res.motif) == list(ref.motif)
            assert np.allclose(res.rdf, ref.rdf, atol=1e-8)
            assert res.density_g_cm3 == pytest.approx(ref.density_g_cm3)


def test_mixed_motifs_and_cutoff():
    # one Si with 2 Si at 2.35 A and 2 O at 1.62 A, in a big box
    atoms = Atoms("Si3O2", positions=[[5, 5, 5], [7.35, 5, 5], [5, 7.35, 5], [5, 5, 6.62],
                                        [3.38, 5, 5]], cell=[12] * 3, pbc=True)
    res = analyse(atoms)
    assert res.motif[0] == "SiSi2O2" and res.valence[0] == 2
    assert list(res.valence[1:]) == [0, 0] and list(res.motif[1:]) == ["SiSi1", "SiSi1"]
    assert analyse(atoms, cutoff=1.5).valence[0] == 0
    assert motif_label(0, 4) == "SiO4" and motif_label(4, 0) == "SiSi4" and motif_label(0, 0) == "Si"


def test_records(quartz):
    res = analyse(quartz)
    recs = res.records(include_rdf=False)
    assert len(recs) == 24 and set(recs[0]) == {"index", "valence", "motif"}
    assert recs[0] == {"index": int(res.index[0]), "valence": 4, "motif": "SiO4"}
    with_rdf = res.records(include_rdf=True)
    assert len(with_rdf[0]["rdf"]) == 256
    json.dumps(with_rdf)


def test_partial_rdf_quartz_and_first_peak(quartz):
    r, g = partial_rdf(quartz, ("Si", "O"), r_max=6.0, n_bins=300)
    assert first_peak(r, g) == pytest.approx(1.61, abs=0.02)
    assert np.all(g[(r > 1.7) & (r < 2.9)] == 0)
    r2, g2 = partial_rdf(quartz, ("Si", "Si"), r_max=6.0, n_bins=300)
    assert first_peak(r2, g2) == pytest.approx(3.06, abs=0.03)
    assert np.isnan(first_peak(r2, g2, window=(2.0, 2.75)))
    assert np.allclose(rdf_grid(), np.linspace(5 / 512, 5 - 5 / 512, 256))


def test_default_cutoff_in_sio_gap(quartz):
    assert 1.9 < SI_O_CUTOFF < 2.6


def test_analyse_rejects_bad_structure():
    with pytest.raises(StructureError, match="non-periodic"):
        analyse(Atoms("SiO", positions=[[0, 0, 0], [1.6, 0, 0]]))


# --------------------------------------------------------------------------------------- CLI

def test_cli_reference_and_sites_json(tmp_path):
    path = tmp_path / "f.extxyz"
    result = runner.invoke(app, ["build", "reference", "alpha-quartz", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert path.exists()
    result = runner.invoke(app, ["sites", str(path), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert isinstance(records, list) and len(records) == 24
    assert all(set(r) == {"index", "valence", "motif"} for r in records)
    assert {r["valence"] for r in records} == {4} and {r["motif"] for r in records} == {"SiO4"}
    result = runner.invoke(app, ["sites", str(path), "--json", "--rdf"])
    records = json.loads(result.stdout)
    assert all(len(r["rdf"]) == 256 for r in records)


def test_cli_sites_table(tmp_path):
    path = tmp_path / "d.extxyz"
    assert runner.invoke(app, ["build", "reference", "diamond-si", "-o", str(path)]).exit_code == 0
    result = runner.invoke(app, ["sites", str(path)])
    assert result.exit_code == 0 and "64" in result.stdout and "Si0+" in result.stdout


def test_cli_bad_input_one_line(tmp_path):
    bad = tmp_path / "bad.extxyz"
    bad.write_text("not a structure\n")
    result = runner.invoke(app, ["sites", str(bad), "--json"])
    assert result.exit_code == 1
    err = result.stderr if hasattr(result, "stderr") else result.output
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0] and "bad.extxyz" in lines[0]
    assert "Traceback" not in result.output


def test_cli_unknown_element_exit_1(tmp_path):
    atoms = build_reference("alpha-quartz")
    atoms[0].symbol = "C"
    path = tmp_path / "c.extxyz"
    atoms.write(path)
    result = runner.invoke(app, ["sites", str(path)])
    assert result.exit_code == 1 and "not supported" in " ".join(result.output.split())


def test_cli_melt_quench_test_preset(tmp_path):
    path = tmp_path / "mq.extxyz"
    result = runner.invoke(app, ["build", "melt-quench", "--x", "0.5", "--atoms", "30",
                                 "--preset", "test", "--seed", "2", "-o", str(path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sites", str(path), "--json"])
    assert len(json.loads(result.stdout)) == 20


def test_cli_bad_x(tmp_path):
    result = runner.invoke(app, ["build", "depleted-supercell", "--x", "0.3", "-o",
                                 str(tmp_path / "z.extxyz")])
    assert result.exit_code == 1 and "0.3" in result.output
