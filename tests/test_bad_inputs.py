"""The bad-input corpus: every command fed broken, odd or edge-case inputs.

Each case runs one ``amorphxas`` command line (typer's CliRunner, in process) on inputs written
at test time into a temporary folder, and asserts either a clear error (exit code != 0, no
traceback, a message of one line that names the input at fault; for typer's own usage errors,
exit code 2 and the option named) or the correct result (checked, not just exit code 0).
Outputs that an error case points at must not be created (no zero-byte or half-written files).

Fixtures, named so: tiny real crystal cells (alpha-quartz 9 atoms, diamond Si 8 atoms) and their
broken variants; ``fixture_corpus.h5``, a dataset of three rattled crystal cells whose "spectra"
are real site spectra of the embedded dataset copied by valence (a labelling fixture, not data);
a forward model trained on it with the ``fast`` descriptor preset, and an inverse model trained
on the embedded dataset with a tiny network. DFT, campaigns and the pipeline are replaced by
sentinels that fail the case if a bad input ever reaches them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore")

GOOD, ERROR = "ok", "error"
VERDICTS = ("clear error", "correct result", "traceback", "silent wrong", "unclear error")


class DFTStarted(RuntimeError):
    """Raised by the sentinels: a bad input got as far as DFT / a campaign / the pipeline."""


@dataclass
class Case:
    """One command line. ``args`` may hold ``{name}`` placeholders (paths of the corpus folder);
    ``names``: a string the error message must contain (formatted the same way); ``check``:
    for good cases, a function (root, output) -> bool of the real result; ``absent``: paths
    that must not exist afterwards; ``unchanged``: files whose bytes must not change; ``setup``:
    run on the corpus folder before the command."""

    id: str
    args: list[str]
    expect: str = ERROR
    names: str | None = None
    check: Callable[[Path, str], bool] | None = None
    absent: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    max_seconds: float | None = None  # checks that must come before any long work
    setup: Callable[[Path], None] | None = None
    hint: str | None = None  # a second string the error must contain (what is wrong)


# -- inputs ------------------------------------------------------------------------------------

def _quartz9():
    from ase.spacegroup import crystal

    return crystal(["Si", "O"], basis=[(-0.4697, 0.0, 2 / 3), (0.4135, 0.4135 - 0.2669, -0.1191)],
                   spacegroup=154, cellpar=[4.9134, 4.9134, 5.4052, 90, 90, 120])


def _si8():
    from ase.build import bulk

    return bulk("Si", "diamond", a=5.431, cubic=True)


def write_structures(root: Path) -> None:
    """The structure files of the corpus (good ones and broken variants)."""
    from ase import Atoms
    from ase.io import write

    q, si = _quartz9(), _si8()
    write(root / "q.extxyz", q, format="extxyz")
    write(root / "si.extxyz", si, format="extxyz")
    write(root / "q.cif", q, format="cif")
    write(root / "POSCAR", q, format="vasp")
    write(root / "multi.extxyz", [si, q], format="extxyz")
    text = (root / "q.extxyz").read_text()
    (root / "bom.extxyz").write_text("\ufeff" + text, encoding="utf-8")
    (root / "crlf.extxyz").write_bytes(text.replace("\n", "\r\n").encode())
    lines = text.splitlines()
    (root / "comma.extxyz").write_text("\n".join(lines[:2] + [re.sub(r"(\d)\.(\d)", r"\1,\2", ln)
                                                              for ln in lines[2:]]) + "\n")
    (root / "truncated.extxyz").write_text("\n".join(lines[:6]) + "\n")
    (root / "empty.extxyz").write_text("")
    (root / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (root / "garbage.extxyz").write_text("hello world\nthis is not a structure\n")
    write(root / "nocell.xyz", Atoms("SiO2", positions=[[0, 0, 0], [1.6, 0, 0], [-1.6, 0, 0]]),
          format="xyz")
    carbon = q.copy()
    carbon[5].symbol = "C"
    write(root / "carbon.extxyz", carbon, format="extxyz")
    write(root / "oxygen.extxyz", Atoms("O2", positions=[[0, 0, 0], [1.5, 0, 0]], cell=[6, 6, 6],
                                         pbc=True), format="extxyz")
    write(root / "overlap.extxyz", Atoms("SiO", positions=[[0, 0, 0], [0.4, 0, 0]], cell=[6, 6, 6],
                                          pbc=True), format="extxyz")
    write(root / "self_overlap.extxyz", Atoms("Si", cell=[0.5, 0.5, 0.5], pbc=True), format="extxyz")
    write(root / "flat.extxyz", Atoms("SiO", positions=[[0, 0, 0], [1.6, 0, 0]],
                                       cell=[[5, 0, 0], [0, 5, 0], [0, 0, 0]], pbc=True),
          format="extxyz")
    nan = q.copy()
    nan.positions[0] = np.nan
    write(root / "nan.extxyz", nan, format="extxyz")
    write(root / "q_in.extxyz", q, format="extxyz")  # a structure that an output must not clobber
    write(root / "lone_si.extxyz", Atoms("Si", cell=[20, 20, 20], pbc=True), format="extxyz")
    (root / "sub").mkdir()
    write(root / "sub" / "q.extxyz", si, format="extxyz")  # same cell id "q", another cell


def write_spectra(root: Path, energy: np.ndarray, mu: np.ndarray) -> None:
    """Spectrum files of the corpus: ``good.csv`` (a real computed alpha-quartz spectrum of the
    embedded dataset, absolute eV) and broken variants."""
    table = np.column_stack([energy, mu])
    np.savetxt(root / "good.csv", table, delimiter=",", header="energy_eV,mu", comments="")
    text = (root / "good.csv").read_text()
    (root / "bom.csv").write_text("\ufeff" + text, encoding="utf-8")
    (root / "crlf.csv").write_bytes(text.replace("\n", "\r\n").encode())
    np.savetxt(root / "kev.csv", np.column_stack([energy / 1000.0, mu]), delimiter=",")
    np.savetxt(root / "relative.csv", np.column_stack([energy - 1839.0, mu]), delimiter=",")
    (root / "decimal_comma.csv").write_text("".join(f"{e:.3f};{m:.5f}\n".replace(".", ",")
                                                    for e, m in table))
    np.savetxt(root / "descending.csv", table[::-1], delimiter=",")
    np.savetxt(root / "one_column.csv", energy)
    bad = table.copy()
    bad[10, 1] = np.nan
    np.savetxt(root / "nan.csv", bad, delimiter=",")
    (root / "header_only.csv").write_text("energy_eV,mu\n")
    (root / "empty.csv").write_text("")
    np.savetxt(root / "narrow.csv", table[(energy > 1840) & (energy < 1850)], delimiter=",")


def build_fixture_dataset(root: Path) -> Path:
    """``fixture_corpus.h5``: two rattled 2x2x1 quartz cells and a 2x1x1 Si cell, each site
    labelled with a real embedded-dataset spectrum of its valence (4 or 0); one Si site of each
    cell left without a spectrum."""
    import h5py

    from amorphxas.dataset import create, embedded_path, store, transaction
    from amorphxas.sites import analyse

    with h5py.File(embedded_path(), "r") as h5:
        grid = h5["spectra/energy"][()]
        rows = h5["spectra/intensity"][()]
        valence = {}
        for c in h5["sites"]:
            valence.update({(c, int(i)): int(v) for i, v in zip(h5["sites"][c]["atom_index"][()],
                                                                 h5["sites"][c]["valence"][()])})
        keys = [(c.decode() if isinstance(c, bytes) else str(c), int(i))
                for c, i in zip(h5["spectra/cell_id"][()], h5["spectra/atom_index"][()])]
    by_valence = {v: rows[[k for k, key in enumerate(keys) if valence[key] == v]] for v in (0, 4)}
    path = create(root / "fixture_corpus.h5", grid)
    cells = [("q0", _quartz9().repeat((2, 2, 1)), 4), ("q1", _quartz9().repeat((2, 2, 1)), 4),
             ("s0", _si8().repeat((2, 1, 1)), 0)]
    with transaction(path) as h5:
        for k, (name, atoms, v) in enumerate(cells):
            atoms.rattle(0.03, seed=k)
            result = analyse(atoms)
            store.add_structure(h5, name, atoms.numbers, atoms.positions, np.asarray(atoms.cell),
                                np.ones(3, bool), {"composition_x": 2.0 if v else 0.0})
            store.put_sites(h5, name, {"atom_index": result.index, "valence": result.valence,
                                       "motif": np.asarray(result.motif, str), "rdf": result.rdf,
                                       "rdf_r": result.rdf_r,
                                       "bader_charge": np.full(len(result.index), np.nan)})
            for j, i in enumerate(result.index[:-1]):
                spectrum = by_valence[v][j % len(by_valence[v])]
                store.add_spectrum(h5, name, int(i), spectrum, 1840.0, np.arange(3.0),
                                   np.ones((1, 3)), {})
    return path


def _train_inverse_model(root: Path) -> Path:
    """A tiny valence network on the embedded dataset's real spectra (seconds, not minutes)."""
    from amorphxas.inverse import save_model, train_inverse

    model, _ = train_inverse(None, "valence", cv_grid={}, hidden=(16,), max_epochs=40,
                             patience=10, n_members=2, seed=0)
    return save_model(model, root / "inv")


def train_models(root: Path) -> None:
    """The two models of the corpus, trained once (on first use): ``fwd`` (study 1's ridge on
    ``fast`` SOAP, on the fixture dataset) and ``inv`` (a tiny valence network, real spectra)."""
    from typer.testing import CliRunner

    from amorphxas.cli import app

    if (root / "inv" / "model.json").is_file():
        return
    result = CliRunner().invoke(app, ["train", "forward", str(root / "fixture_corpus.h5"),
                                      "--descriptor", "soap-gto", "--preset", "fast", "--mode",
                                      "pca", "-o", str(root / "fwd")])
    assert result.exit_code == 0, result.output
    _train_inverse_model(root)


def build_corpus(root: Path, models: bool = True) -> Path:
    """Write every input of the corpus into ``root`` (and train both models if ``models``)."""
    import h5py

    from amorphxas.core.spectrum import COMMON_GRID
    from amorphxas.dataset import create, embedded_path

    write_structures(root)
    with h5py.File(embedded_path(), "r") as h5:
        ref = h5["references/alpha-quartz"]
        write_spectra(root, ref["energy"][()], ref["intensity"][()])
    build_fixture_dataset(root)
    create(root / "empty_dataset.h5", COMMON_GRID)
    (root / "adir").mkdir()
    (root / "emptymodel").mkdir()
    (root / "afile").write_text("keep me\n")
    (root / "garbage.h5").write_bytes(b"not an hdf5 file\n" * 10)
    (root / "garbage.json").write_text("{not json")
    (root / "badmodel").mkdir()
    (root / "badmodel" / "model.json").write_text("{not json")
    if models:
        train_models(root)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The corpus folder, with every input written (models: see :func:`train_models`)."""
    return build_corpus(tmp_path_factory.mktemp("corpus"), models=False)


def _fresh_add_dataset(*cells: str) -> Callable[[Path], None]:
    """Setup: ``add.h5``, an empty dataset, then with ``cells`` (structure files) added."""
    def setup(root: Path) -> None:
        from amorphxas.core.spectrum import COMMON_GRID
        from amorphxas.dataset import create
        from amorphxas.sites.ingest import add_cells

        (root / "add.h5").unlink(missing_ok=True)
        create(root / "add.h5", COMMON_GRID)
        add_cells(root / "add.h5", [root / c for c in cells])
    return setup


# -- checks of good results ----------------------------------------------------------------------

def _sites_json(n: int, valence: int | None) -> Callable[[Path, str], bool]:
    def check(root: Path, output: str) -> bool:
        records = json.loads(output)
        return len(records) == n and (valence is None or all(r["valence"] == valence for r in records))
    return check


def _npy(path: str, rows: int) -> Callable[[Path, str], bool]:
    def check(root: Path, output: str) -> bool:
        target = root / path
        X = np.load(target, allow_pickle=False)
        return (X.shape[0] == rows and np.all(np.isfinite(X)) and str(target) in output
                and not target.with_name(target.name + ".npy").exists())
    return check


def _csv(path: str, n_sites: int) -> Callable[[Path, str], bool]:
    def check(root: Path, output: str) -> bool:
        table = np.loadtxt(root / path, delimiter=",", skiprows=1)
        return table.shape == (256, 4 + 2 * n_sites) and np.all(np.isfinite(table))
    return check


def _inversion(root: Path, output: str) -> bool:
    """good.csv is the computed alpha-quartz spectrum: the LCF must read it as (mostly) Si4+."""
    out = json.loads(output)
    return (0.0 <= out["mean_valence"] <= 4.0 and out["mean_valence"] > 3.3
            and np.isfinite(out["mean_valence_std"])
            and abs(sum(out["fractions"].values()) - 1.0) < 1e-9)


def _png(path: str) -> Callable[[Path, str], bool]:
    def check(root: Path, output: str) -> bool:
        target = root / path
        return (target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                and not target.with_name(target.name + ".png").exists())
    return check


def _cells(path: str, cells: set[str]) -> Callable[[Path, str], bool]:
    def check(root: Path, output: str) -> bool:
        import h5py

        with h5py.File(root / path, "r") as h5:
            return set(h5["structures"]) == cells and set(h5["sites"]) == cells
    return check


def _sites_file(path: str, n: int) -> Callable[[Path, str], bool]:
    def check(root: Path, output: str) -> bool:
        sites = json.loads((root / path).read_text())
        return len(sites) == n and all({"cell_id", "atom_index"} <= set(s) for s in sites)
    return check


def _structure(path: str, n_atoms: int) -> Callable[[Path, str], bool]:
    def check(root: Path, output: str) -> bool:
        from ase.io import read

        return len(read(root / path, format="extxyz")) == n_atoms
    return check


# -- the corpus -----------------------------------------------------------------------------------

def _structure_cases() -> list[Case]:
    cases = [
        Case("sites-quartz", ["sites", "{q.extxyz}", "--json"], GOOD, check=_sites_json(3, 4)),
        Case("sites-si", ["sites", "{si.extxyz}", "--json"], GOOD, check=_sites_json(8, 0)),
        Case("sites-cif", ["sites", "{q.cif}", "--json"], GOOD, check=_sites_json(3, 4)),
        Case("sites-poscar", ["sites", "{POSCAR}", "--json"], GOOD, check=_sites_json(3, 4)),
        Case("sites-multi-frame-last", ["sites", "{multi.extxyz}", "--json"], GOOD,
             check=_sites_json(3, 4)),
        Case("sites-bom", ["sites", "{bom.extxyz}", "--json"], GOOD, check=_sites_json(3, 4)),
        Case("sites-crlf", ["sites", "{crlf.extxyz}", "--json"], GOOD, check=_sites_json(3, 4)),
        Case("sites-lone-si", ["sites", "{lone_si.extxyz}", "--json"], GOOD, check=_sites_json(1, 0)),
        Case("sites-table", ["sites", "{q.extxyz}"], GOOD,
             check=lambda r, o: "3 Si sites" in " ".join(o.split())),
    ]
    broken = ["missing.extxyz", "adir", "empty.extxyz", "garbage.bin", "garbage.extxyz",
              "nocell.xyz", "carbon.extxyz", "oxygen.extxyz", "overlap.extxyz",
              "self_overlap.extxyz", "flat.extxyz", "nan.extxyz", "comma.extxyz",
              "truncated.extxyz"]
    hints = {"comma.extxyz": "decimal comma", "carbon.extxyz": "C not supported",
             "overlap.extxyz": "overlap", "nocell.xyz": "periodic", "nan.extxyz": "non-finite"}
    cases += [Case(f"sites-{name}", ["sites", "{" + name + "}"], names="{" + name + "}",
                   hint=hints.get(name)) for name in broken]
    return cases


def _describe_cases() -> list[Case]:
    d = ["describe", "{q.extxyz}", "--kind", "soap-gto", "--preset", "fast"]
    return [
        Case("describe-ok", d + ["-o", "{X.npy}"], GOOD, check=_npy("X.npy", 3)),
        Case("describe-no-suffix-exact-path", d + ["-o", "{Xraw}"], GOOD, check=_npy("Xraw", 3)),
        Case("describe-overwrite", d + ["-o", "{afile2.npy}"], GOOD, check=_npy("afile2.npy", 3)),
        Case("describe-out-dir", d + ["-o", "{adir}"], names="{adir}"),
        Case("describe-out-missing-folder", d + ["-o", "{nofolder/X.npy}"], names="{nofolder}",
             absent=["nofolder"]),
        Case("describe-out-dev-full", d + ["-o", "/dev/full"], names="/dev/full"),
        Case("describe-out-read-only", d + ["-o", "/proc/X.npy"], names="/proc/X.npy"),
        Case("describe-out-under-file", d + ["-o", "{afile/X.npy}"], names="{afile}"),
        Case("describe-out-is-input", ["describe", "{q_in.extxyz}", "--preset", "fast", "-o",
                                       "{q_in.extxyz}"], names="{q_in.extxyz}",
             unchanged=["q_in.extxyz"]),
        Case("describe-bad-structure", ["describe", "{carbon.extxyz}", "--preset", "fast", "-o",
                                        "{Xc.npy}"], names="{carbon.extxyz}", absent=["Xc.npy"]),
        Case("describe-missing-structure", ["describe", "{missing.extxyz}", "-o", "{Xm.npy}"],
             names="{missing.extxyz}", absent=["Xm.npy"]),
        Case("describe-unknown-kind", ["describe", "{q.extxyz}", "--kind", "nope", "-o",
                                       "{Xk.npy}"], names="nope", absent=["Xk.npy"]),
        Case("describe-unknown-preset", ["describe", "{q.extxyz}", "--preset", "nope", "-o",
                                         "{Xp.npy}"], names="nope", absent=["Xp.npy"]),
        Case("describe-no-output", ["describe", "{q.extxyz}"], names="-o"),
        Case("describe-list-unknown-preset", ["describe", "--list", "--preset", "nope"], names="nope"),
        Case("describe-dataset-missing", ["describe", "--dataset", "{missing.h5}"],
             names="{missing.h5}"),
        Case("describe-dataset-garbage", ["describe", "--dataset", "{garbage.h5}"],
             names="{garbage.h5}"),
        Case("describe-jobs-zero", ["describe", "--dataset", "{fixture_corpus.h5}", "--preset",
                                    "fast", "--jobs", "0"], names="--jobs"),
    ]


def _predict_cases() -> list[Case]:
    return [
        Case("predict-ok", ["predict", "{fwd}", "{q.extxyz}", "-o", "{p.csv}"], GOOD,
             check=_csv("p.csv", 3)),
        Case("predict-no-suffix-exact-path", ["predict", "{fwd}", "{si.extxyz}", "-o", "{praw}"],
             GOOD, check=_csv("praw", 8)),
        Case("predict-model-missing", ["predict", "{models/nope}", "{q.extxyz}", "-o", "{p1.csv}"],
             names="{models/nope}:", absent=["p1.csv"]),
        Case("predict-model-empty-dir", ["predict", "{emptymodel}", "{q.extxyz}", "-o", "{p2.csv}"],
             names="{emptymodel}", absent=["p2.csv"]),
        Case("predict-model-garbage", ["predict", "{badmodel}", "{q.extxyz}", "-o", "{p3.csv}"],
             names="{badmodel}", absent=["p3.csv"]),
        Case("predict-inverse-model", ["predict", "{inv}", "{q.extxyz}", "-o", "{p4.csv}"],
             names="{inv}", absent=["p4.csv"]),
        Case("predict-bad-structure", ["predict", "{fwd}", "{carbon.extxyz}", "-o", "{p5.csv}"],
             names="{carbon.extxyz}", absent=["p5.csv"]),
        Case("predict-out-dir", ["predict", "{fwd}", "{q.extxyz}", "-o", "{adir}"], names="{adir}"),
        Case("predict-out-missing-folder", ["predict", "{fwd}", "{q.extxyz}", "-o",
                                            "{nofolder/p.csv}"], names="{nofolder}",
             absent=["nofolder"]),
        Case("predict-out-is-input", ["predict", "{fwd}", "{q_in.extxyz}", "-o", "{q_in.extxyz}"],
             names="{q_in.extxyz}", unchanged=["q_in.extxyz"]),
        Case("predict-out-is-model", ["predict", "{fwd}", "{q.extxyz}", "-o", "{fwd/model.json}"],
             names="{fwd/model.json}", unchanged=["fwd/model.json"]),
        Case("predict-out-dev-full", ["predict", "{fwd}", "{q.extxyz}", "-o", "/dev/full"],
             names="/dev/full"),
    ]


def _invert_cases() -> list[Case]:
    inv = ["invert", "{inv}"]
    cases = [
        Case("invert-ok", inv + ["{good.csv}", "--json"], GOOD, check=_inversion),
        Case("invert-bom", inv + ["{bom.csv}", "--json"], GOOD, check=_inversion),
        Case("invert-crlf", inv + ["{crlf.csv}", "--json"], GOOD, check=_inversion),
        Case("invert-figure", inv + ["{good.csv}", "--figure", "{f.png}"], GOOD, check=_png("f.png")),
        Case("invert-model-missing", ["invert", "{models/nope}", "{good.csv}"],
             names="{models/nope}"),
        Case("invert-forward-model", ["invert", "{fwd}", "{good.csv}"], names="{fwd}"),
        Case("invert-energy-shift-nan", inv + ["{good.csv}", "--energy-shift", "nan"],
             names="--energy-shift"),
        Case("invert-energy-shift-inf", inv + ["{good.csv}", "--energy-shift", "inf"],
             names="--energy-shift"),
        Case("invert-figure-dir", inv + ["{good.csv}", "--figure", "{adir}"], names="{adir}"),
        Case("invert-figure-missing-folder", inv + ["{good.csv}", "--figure", "{nofolder/f.png}"],
             names="{nofolder}", absent=["nofolder"]),
        Case("invert-figure-unknown-format", inv + ["{good.csv}", "--figure", "{f.xyz}"],
             names="{f.xyz}", absent=["f.xyz"]),
    ]
    broken = {"missing.csv": "not found", "empty.csv": None, "header_only.csv": None,
              "kev.csv": "keV", "relative.csv": "relative", "decimal_comma.csv": "decimal comma",
              "descending.csv": "increasing", "one_column.csv": "two columns", "nan.csv": "NaN",
              "narrow.csv": None}
    cases += [Case(f"invert-{name}", inv + ["{" + name + "}"], names="{" + name + "}", hint=hint)
              for name, hint in broken.items()]
    return cases


def _train_cases() -> list[Case]:
    fx = "{fixture_corpus.h5}"
    return [
        Case("train-forward-missing-dataset", ["train", "forward", "{missing.h5}", "-o", "{m1}"],
             names="{missing.h5}", absent=["m1"]),
        Case("train-forward-garbage-dataset", ["train", "forward", "{garbage.h5}", "-o", "{m2}"],
             names="{garbage.h5}", absent=["m2"]),
        Case("train-forward-unknown-descriptor", ["train", "forward", fx, "--descriptor", "nope",
                                                  "-o", "{m3}"], names="nope", absent=["m3"]),
        Case("train-forward-unknown-preset", ["train", "forward", fx, "--descriptor", "soap-gto",
                                              "--preset", "nope", "-o", "{m4}"], names="nope",
             absent=["m4"]),
        Case("train-forward-out-is-file", ["train", "forward", fx, "-o",
                                           "{afile}"], names="{afile}", unchanged=["afile"],
             max_seconds=3.0),
        Case("train-forward-out-read-only", ["train", "forward", fx, "-o",
                                             "/proc/amorphxas_model"],
             names="/proc/amorphxas_model", max_seconds=3.0),
        Case("train-forward-seed-negative", ["train", "forward", fx, "--seed", "-3", "-o", "{m9}"],
             names="--seed", absent=["m9"]),
        Case("train-forward-no-spectra", ["train", "forward", "{empty_dataset.h5}", "-o", "{m5}"],
             names="{empty_dataset.h5}", absent=["m5"]),
        Case("train-forward-descriptor-no-spectra", ["train", "forward", "{empty_dataset.h5}",
                                                     "--descriptor", "soap-gto", "--preset", "fast",
                                                     "-o", "{m10}"], names="{empty_dataset.h5}",
             absent=["m10"]),
        Case("train-inverse-missing-dataset", ["train", "inverse", "{missing.h5}", "-o", "{m6}"],
             names="{missing.h5}", absent=["m6"]),
        Case("train-inverse-out-is-file", ["train", "inverse", fx, "-o", "{afile}"],
             names="{afile}", unchanged=["afile"], max_seconds=3.0),
        Case("train-inverse-members-zero", ["train", "inverse", fx, "--members", "0", "-o", "{m7}"],
             names="--members", absent=["m7"], max_seconds=3.0),
        Case("train-inverse-no-spectra", ["train", "inverse", "{empty_dataset.h5}", "-o", "{m8}"],
             names="{empty_dataset.h5}", absent=["m8"]),
    ]


def _dataset_cases() -> list[Case]:
    return [
        Case("dataset-info-missing", ["dataset", "info", "{missing.h5}"], names="{missing.h5}"),
        Case("dataset-info-garbage", ["dataset", "info", "{garbage.h5}"], names="{garbage.h5}"),
        Case("dataset-info-dir", ["dataset", "info", "{adir}"], names="{adir}"),
        Case("dataset-info-ok", ["dataset", "info", "{fixture_corpus.h5}", "--json"], GOOD,
             check=lambda r, o: json.loads(o)["n_sites"] == 37),
        Case("dataset-create-exists", ["dataset", "create", "{afile}"], names="{afile}",
             unchanged=["afile"]),
        Case("dataset-create-missing-folder", ["dataset", "create", "{nofolder/d.h5}"],
             names="{nofolder}", absent=["nofolder"]),
        Case("dataset-create-read-only", ["dataset", "create", "/proc/d.h5"], names="/proc/d.h5"),
        Case("dataset-create-ok", ["dataset", "create", "{new.h5}"], GOOD,
             check=lambda r, o: (r / "new.h5").stat().st_size > 0),
        Case("dataset-add-atomic", ["dataset", "add", "{add.h5}", "{q.extxyz}", "{carbon.extxyz}"],
             names="{carbon.extxyz}", check=_cells("add.h5", set()), setup=_fresh_add_dataset()),
        Case("dataset-add-missing-structure", ["dataset", "add", "{add.h5}", "{si.extxyz}",
                                               "{missing.extxyz}"], names="{missing.extxyz}",
             check=_cells("add.h5", set()), setup=_fresh_add_dataset()),
        Case("dataset-add-same-cell-id", ["dataset", "add", "{add.h5}", "{q.extxyz}",
                                          "{sub/q.extxyz}"], names="{sub/q.extxyz}",
             check=_cells("add.h5", set()), setup=_fresh_add_dataset()),
        Case("dataset-add-ok", ["dataset", "add", "{add.h5}", "{q.extxyz}", "{si.extxyz}"], GOOD,
             check=_cells("add.h5", {"q", "si"}), setup=_fresh_add_dataset()),
        Case("dataset-add-known-id-other-structure", ["dataset", "add", "{add.h5}",
                                                      "{sub/q.extxyz}"], names="{sub/q.extxyz}",
             setup=_fresh_add_dataset("q.extxyz"), check=_cells("add.h5", {"q"})),
        Case("dataset-add-again-is-idempotent", ["dataset", "add", "{add.h5}", "{q.extxyz}",
                                                 "{si.extxyz}"], GOOD,
             setup=_fresh_add_dataset("q.extxyz", "si.extxyz"),
             check=lambda r, o: "added 0 cells" in o and _cells("add.h5", {"q", "si"})(r, o)),
        Case("dataset-add-missing-dataset", ["dataset", "add", "{missing.h5}", "{q.extxyz}"],
             names="{missing.h5}", absent=["missing.h5"]),
        Case("dataset-add-garbage-dataset", ["dataset", "add", "{garbage.h5}", "{q.extxyz}"],
             names="{garbage.h5}"),
        Case("dataset-fork-missing", ["dataset", "fork", "{missing.h5}", "{f1.h5}"],
             names="{missing.h5}", absent=["f1.h5"]),
        Case("dataset-fork-exists", ["dataset", "fork", "{fixture_corpus.h5}", "{afile}"],
             names="{afile}", unchanged=["afile"]),
        Case("dataset-fork-missing-folder", ["dataset", "fork", "{fixture_corpus.h5}",
                                             "{nofolder/f.h5}"], names="{nofolder}",
             absent=["nofolder"]),
        Case("dataset-reevaluate-missing", ["dataset", "reevaluate", "{missing.h5}", "{r1.h5}"],
             names="{missing.h5}", absent=["r1.h5"]),
        Case("dataset-reevaluate-unknown-preset", ["dataset", "reevaluate", "{fixture_corpus.h5}",
                                                   "{r2.h5}", "--preset", "nope"], names="nope",
             absent=["r2.h5"]),
    ]


def _build_cases() -> list[Case]:
    ref = ["build", "reference", "alpha-quartz", "-o"]
    mq = ["build", "melt-quench", "--atoms", "30"]
    return [
        Case("build-reference-ok", ref + ["{ref.extxyz}"], GOOD, check=_structure("ref.extxyz", 72)),
        Case("build-reference-out-dir", ref + ["{adir}"], names="{adir}"),
        Case("build-reference-missing-folder", ref + ["{nofolder/q.extxyz}"], names="{nofolder}",
             absent=["nofolder"]),
        Case("build-reference-dev-full", ref + ["/dev/full"], names="/dev/full"),
        Case("build-reference-wrong-format", ref + ["{ref.cif}"], names="{ref.cif}",
             absent=["ref.cif"]),
        Case("build-reference-unknown", ["build", "reference", "nope", "-o", "{r.extxyz}"],
             names="nope", absent=["r.extxyz"]),
        Case("build-melt-quench-x-high", mq + ["--x", "3", "-o", "{mq1.extxyz}"], names="x",
             absent=["mq1.extxyz"]),
        Case("build-melt-quench-x-nan", mq + ["--x", "nan", "-o", "{mq2.extxyz}"], names="x",
             absent=["mq2.extxyz"]),
        Case("build-melt-quench-atoms-zero", ["build", "melt-quench", "--atoms", "0", "-o",
                                              "{mq3.extxyz}"], names="atoms", absent=["mq3.extxyz"]),
        Case("build-melt-quench-unknown-preset", mq + ["--preset", "nope", "-o", "{mq4.extxyz}"],
             names="nope", absent=["mq4.extxyz"]),
        Case("build-melt-quench-out-dir", mq + ["-o", "{adir}"], names="{adir}", max_seconds=3.0),
        Case("build-melt-quench-composition-unreachable", ["build", "melt-quench", "--atoms", "2",
                                                           "--x", "2", "-o", "{mq5.extxyz}"],
             names="--atoms", absent=["mq5.extxyz"], max_seconds=3.0),
        Case("build-melt-quench-one-atom", ["build", "melt-quench", "--atoms", "1", "-o",
                                            "{mq6.extxyz}"], names="--atoms", absent=["mq6.extxyz"]),
        Case("build-melt-quench-seed-negative", mq + ["--seed", "-1", "-o", "{mq7.extxyz}"],
             names="--seed", absent=["mq7.extxyz"]),
        Case("build-depleted-x-off-grid", ["build", "depleted-supercell", "--x", "0.3", "-o",
                                           "{dp1.extxyz}"], names="0.3", absent=["dp1.extxyz"]),
        Case("build-depleted-x-negative", ["build", "depleted-supercell", "--x", "-1", "-o",
                                           "{dp2.extxyz}"], names="-1", absent=["dp2.extxyz"]),
        Case("build-depleted-out-missing-folder", ["build", "depleted-supercell", "-o",
                                                   "{nofolder/d.extxyz}"], names="{nofolder}",
             absent=["nofolder"], max_seconds=3.0),
    ]


def _compute_cases() -> list[Case]:
    cs = ["compute-site", "{q.extxyz}"]
    fx = "{fixture_corpus.h5}"
    return [
        Case("compute-site-missing-structure", ["compute-site", "{missing.extxyz}", "--site", "0",
                                                "-o", "{s.csv}"], names="{missing.extxyz}"),
        Case("compute-site-bad-structure", ["compute-site", "{carbon.extxyz}", "--site", "0",
                                            "-o", "{s.csv}"], names="{carbon.extxyz}"),
        Case("compute-site-out-of-range", cs + ["--site", "99", "-o", "{s.csv}"],
             names="{q.extxyz}", absent=["s.csv"]),
        Case("compute-site-negative", cs + ["--site", "-1", "-o", "{s.csv}"], names="{q.extxyz}",
             absent=["s.csv"]),
        Case("compute-site-oxygen", cs + ["--site", "5", "-o", "{s.csv}"], names="{q.extxyz}",
             absent=["s.csv"]),
        Case("compute-site-out-dir", cs + ["--site", "0", "-o", "{adir}"], names="{adir}"),
        Case("compute-site-out-missing-folder", cs + ["--site", "0", "-o", "{nofolder/s.csv}"],
             names="{nofolder}", absent=["nofolder"]),
        Case("compute-site-out-dev-full", cs + ["--site", "0", "-o", "/dev/full"], names="/dev/full"),
        Case("compute-site-dataset-missing", cs + ["--site", "0", "-o", "{s.csv}", "--dataset",
                                                   "{missing.h5}"], names="{missing.h5}"),
        Case("compute-site-no-alignment", cs + ["--site", "0", "-o", "{s.csv}", "--dataset", fx],
             names=fx, absent=["s.csv"]),
        Case("compute-site-workdir-is-file", cs + ["--site", "0", "-o", "{s.csv}", "--workdir",
                                                   "{afile}"], names="{afile}", absent=["s.csv"]),
        Case("compute-site-unknown-preset", cs + ["--site", "0", "-o", "{s.csv}", "--preset",
                                                  "nope"], names="nope"),
        Case("compute-missing-dataset", ["compute", "{missing.h5}"], names="{missing.h5}"),
        Case("compute-workers-zero", ["compute", fx, "--workers", "0"], names="--workers"),
        Case("compute-procs-zero", ["compute", fx, "--procs", "0"], names="--procs"),
        Case("compute-n-negative", ["compute", fx, "--n", "-1"], names="--n"),
        Case("compute-budget-negative", ["compute", fx, "--budget", "-5"], names="--budget"),
        Case("compute-sites-missing", ["compute", fx, "--sites", "{missing.json}"],
             names="{missing.json}"),
        Case("compute-sites-garbage", ["compute", fx, "--sites", "{garbage.json}"],
             names="{garbage.json}"),
    ]


def _other_cases() -> list[Case]:
    fx = "{fixture_corpus.h5}"
    return [
        Case("select-ok", ["select", fx, "--preset", "fast", "--n", "2", "-o", "{next.json}"], GOOD,
             check=_sites_file("next.json", 2)),
        Case("select-missing-dataset", ["select", "{missing.h5}", "-o", "{s1.json}"],
             names="{missing.h5}", absent=["s1.json"]),
        Case("select-out-dir", ["select", fx, "--preset", "fast", "-o", "{adir}"], names="{adir}"),
        Case("select-out-missing-folder", ["select", fx, "--preset", "fast", "-o",
                                           "{nofolder/s.json}"], names="{nofolder}",
             absent=["nofolder"]),
        Case("select-n-zero", ["select", fx, "--preset", "fast", "--n", "0", "-o", "{s2.json}"],
             names="--n", absent=["s2.json"]),
        Case("select-seed-negative", ["select", fx, "--preset", "fast", "--seed", "-1", "-o",
                                      "{s4.json}"], names="--seed", absent=["s4.json"]),
        Case("select-unknown-descriptor", ["select", fx, "--descriptor", "nope", "-o", "{s3.json}"],
             names="nope", absent=["s3.json"]),
        Case("report-missing-dir", ["report", "{norun}"], names="{norun}"),
        Case("report-empty-dir", ["report", "{adir}"], names="{adir}"),
        Case("run-out-is-file", ["run", "--out", "{afile}"], names="{afile}", unchanged=["afile"]),
        Case("run-out-read-only", ["run", "--out", "/proc/amorphxas_run"],
             names="/proc/amorphxas_run"),
        Case("run-missing-dataset", ["run", "--dataset", "{missing.h5}", "--out", "{run1}"],
             names="{missing.h5}", absent=["run1"]),
    ]


CASES = (_structure_cases() + _describe_cases() + _predict_cases() + _invert_cases()
         + _train_cases() + _dataset_cases() + _build_cases() + _compute_cases() + _other_cases())


# -- running and judging a case ---------------------------------------------------------------------

def _fill(text: str, root: Path) -> str:
    return re.sub(r"\{([^{}]+)\}", lambda m: str(root / m.group(1)), text)


def _normalise(output: str) -> str:
    """typer's usage errors come in a box: drop the frame characters and join the lines."""
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", output).split())


def _message_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def judge(case: Case, root: Path, result, before: dict[str, bytes] | None = None) -> tuple[str, str]:
    """(verdict, why) of one CliRunner result; verdicts as in :data:`VERDICTS`. ``before``: the
    bytes of ``case.unchanged`` before the run (default: the corpus's "keep me" file content)."""
    output = result.output
    exc = result.exception
    if "Traceback" in output or (exc is not None and not isinstance(exc, SystemExit)):
        if isinstance(exc, DFTStarted):
            return "silent wrong", "reached DFT/campaign/pipeline"
        return "traceback", f"{type(exc).__name__}: {exc}"
    leftovers = [p for p in case.absent if (root / p).exists()]
    leftovers += [p.name for p in root.glob(".*") if ".tmp" in p.name or p.name.endswith(".probe")]
    for p in case.unchanged:
        expected = (before or {}).get(p, b"keep me\n")
        if not (root / p).is_file() or (root / p).read_bytes() != expected:
            return "silent wrong", f"{p} was changed"
    if leftovers and result.exit_code == 0 and case.expect == GOOD:
        return "silent wrong", f"left behind {leftovers}"
    if result.exit_code == 0:
        if case.expect == ERROR:
            return "silent wrong", f"exit 0: {output.strip()[:200]}"
        try:
            ok = case.check is None or case.check(root, output)
        except Exception as check_exc:  # noqa: BLE001 - a broken output is a wrong result
            ok, output = False, f"{type(check_exc).__name__}: {check_exc}"
        return ("correct result", "") if ok else ("silent wrong", f"check failed: {output[:200]}")
    if case.expect == GOOD:
        return "unclear error", f"refused a good input: {output.strip()[:300]}"
    if leftovers:
        return "silent wrong", f"left behind {leftovers}"
    if case.check is not None and not case.check(root, output):
        return "silent wrong", "error, but the state changed (not all-or-nothing)"
    names = _fill(case.names, root) if case.names else None
    usage = result.exit_code == 2
    text = _normalise(output) if usage else output.strip()
    if not usage and len(_message_lines(output)) != 1:
        return "unclear error", f"{len(_message_lines(output))} lines: {output.strip()[:300]}"
    if names and names not in text:
        return "unclear error", f"does not name {names}: {text[:300]}"
    if case.hint and case.hint not in text:
        return "unclear error", f"does not say {case.hint!r}: {text[:300]}"
    return "clear error", ""


def run_case(case: Case, root: Path):
    """Run one case's setup and command line in the corpus folder (CliRunner, in process);
    returns (result, bytes of the ``unchanged`` files before the run)."""
    from typer.testing import CliRunner

    from amorphxas.cli import app

    if case.setup is not None:
        case.setup(root)
    before = {p: (root / p).read_bytes() for p in case.unchanged if (root / p).is_file()}
    args = [_fill(a, root) for a in case.args]
    return CliRunner().invoke(app, args), before


def install_sentinels(monkeypatch) -> None:
    """DFT, campaigns and the pipeline raise :class:`DFTStarted` instead of running."""
    import amorphxas.pipeline
    import amorphxas.spectra.campaign
    import amorphxas.spectra.site

    def sentinel(*args, **kwargs):
        raise DFTStarted("a bad input reached DFT / the campaign / the pipeline")

    monkeypatch.setattr(amorphxas.spectra.site, "compute_site", sentinel)
    for name in ("compute_references", "compute_bader", "run_campaign"):
        monkeypatch.setattr(amorphxas.spectra.campaign, name, sentinel)
    monkeypatch.setattr(amorphxas.pipeline, "run_pipeline", sentinel)


def test_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    commands = {c.args[0] if c.args[0] not in ("train", "build", "dataset") else
                " ".join(c.args[:2]) for c in CASES}
    assert {"sites", "describe", "predict", "invert", "train forward", "train inverse",
            "dataset add", "build reference", "compute-site", "compute", "select"} <= commands


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, corpus, monkeypatch):
    if any("{fwd" in a or "{inv" in a for a in case.args):
        train_models(corpus)
    install_sentinels(monkeypatch)
    start = time.perf_counter()
    result, before = run_case(case, corpus)
    seconds = time.perf_counter() - start
    verdict, why = judge(case, corpus, result, before)
    assert verdict in ("clear error", "correct result"), f"{verdict}: {why}"
    if case.max_seconds is not None:  # refused before training / MD, not after
        assert seconds < case.max_seconds, f"refused only after {seconds:.1f} s"


def test_judge_can_fail(tmp_path):
    """The judge itself: exit 0 on a bad input, a traceback and an unnamed error are caught."""
    from types import SimpleNamespace

    case = Case("x", [], names="{in.txt}")
    assert judge(case, tmp_path, SimpleNamespace(output="fine\n", exit_code=0,
                                                 exception=None))[0] == "silent wrong"
    assert judge(case, tmp_path, SimpleNamespace(output="", exit_code=1,
                                                 exception=KeyError("k")))[0] == "traceback"
    assert judge(case, tmp_path, SimpleNamespace(output="error: bad\n", exit_code=1,
                                                 exception=SystemExit(1)))[0] == "unclear error"
    named = f"error: {tmp_path / 'in.txt'}: bad\n"
    assert judge(case, tmp_path, SimpleNamespace(output=named, exit_code=1,
                                                 exception=SystemExit(1)))[0] == "clear error"
    assert judge(case, tmp_path, SimpleNamespace(output=named + "more\n", exit_code=1,
                                                 exception=SystemExit(1)))[0] == "unclear error"


# -- the output helpers themselves ---------------------------------------------------------------

def test_atomic_path_keeps_the_old_file_on_error_and_leaves_no_temp_file(tmp_path):
    from amorphxas.core.files import OutputPathError, atomic_open, atomic_path

    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write("half a fi")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    with pytest.raises(OutputPathError, match=r"out.csv: cannot write \(No space left on device\)"):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise OSError(28, "No space left on device")
    assert target.read_text() == "old\n"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".csv" and tmp != target
        tmp.write_text("new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_folder_moves_every_file_or_none(tmp_path):
    from amorphxas.core.files import atomic_folder

    model = tmp_path / "runs" / "models" / "m"  # missing parents are created, like mkdir -p
    with pytest.raises(RuntimeError):
        with atomic_folder(model) as tmp:
            (tmp / "model.npz").write_bytes(b"x")
            raise RuntimeError("training failed after the first file")
    assert not model.exists()
    with atomic_folder(model) as tmp:
        (tmp / "model.npz").write_bytes(b"x")
        (tmp / "metrics.json").write_text("{}")
    assert sorted(p.name for p in model.iterdir()) == ["metrics.json", "model.npz"]
    assert [p.name for p in (tmp_path / "runs" / "models").iterdir()] == ["m"]


def test_output_checks_name_the_path_and_the_reason(tmp_path):
    from amorphxas.core.files import OutputPathError, check_output_dir, check_output_file

    (tmp_path / "f").write_text("x")
    cases = [(lambda: check_output_file(tmp_path), "is a directory"),
             (lambda: check_output_file("/dev/full"), "not a regular file"),
             (lambda: check_output_file(tmp_path / "no" / "x.csv"), "does not exist"),
             (lambda: check_output_file(tmp_path / "f" / "x.csv"), "is not a folder"),
             (lambda: check_output_file(tmp_path / "f", overwrite=False), "already exists"),
             (lambda: check_output_file(tmp_path / "x.cif", (".extxyz",)), "must end in .extxyz"),
             (lambda: check_output_file("/proc/x.csv"), "cannot write in /proc"),
             (lambda: check_output_dir(tmp_path / "f"), "is a file"),
             (lambda: check_output_dir(tmp_path / "f" / "sub"), "is a file, not a folder")]
    for call, reason in cases:
        with pytest.raises(OutputPathError, match=reason) as info:
            call()
        assert "\n" not in str(info.value)
    assert check_output_file(tmp_path / "new.csv") == tmp_path / "new.csv"
    assert check_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # checks write nothing
