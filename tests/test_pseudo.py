"""The engine's pseudopotentials come from the package (no Debian ``quantum-espresso-data``
folder), their SHA-256 is checked on use, ``AMORPHXAS_PSEUDO_DIR`` overrides, and the wheel and
sdist carry the files."""

import hashlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import amorphxas
from amorphxas.core.errors import EngineError
from amorphxas.spectra import pseudo
from amorphxas.spectra.pseudo import (
    GROUND_STATE_PSEUDOS,
    PSEUDO_DIR_DEFAULT,
    SHIPPED_PSEUDO_SHA256,
    find_ground_state_pseudo,
    find_pseudo,
    prepare_pseudos,
)
from tests.conftest import HAVE_QE

PACKAGE = Path(amorphxas.__file__).resolve().parent
ROOT = PACKAGE.parent.parent
DEBIAN_PSEUDO = Path("/usr/share/espresso/pseudo")


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_shipped_files_are_in_the_package_with_their_recorded_hashes():
    assert PSEUDO_DIR_DEFAULT == PACKAGE / "data" / "pseudo"
    shipped = {p.name: _sha(p) for p in PSEUDO_DIR_DEFAULT.glob("*.UPF")}
    assert shipped == SHIPPED_PSEUDO_SHA256
    # the embedded dataset's spectra were computed with exactly these ground-state files
    import json

    import h5py

    from amorphxas.dataset import embedded_path

    with h5py.File(embedded_path(), "r") as h5:
        recorded = json.loads(h5["spectra"].attrs["pseudopotentials"])
    for name in GROUND_STATE_PSEUDOS.values():
        assert recorded[name] == SHIPPED_PSEUDO_SHA256[name]


def test_no_source_file_reads_a_debian_pseudo_folder():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "/usr/share/espresso" not in text and "espresso/pseudo" not in text, path


def test_ground_state_pseudos_resolve_into_the_package_without_the_override(monkeypatch):
    monkeypatch.delenv("AMORPHXAS_PSEUDO_DIR", raising=False)
    for element, name in GROUND_STATE_PSEUDOS.items():
        path = find_ground_state_pseudo(element)
        assert path == PSEUDO_DIR_DEFAULT / name and PACKAGE in path.resolve().parents
    assert find_pseudo("O.pbe-kjpaw.UPF").parent == PSEUDO_DIR_DEFAULT  # the PAW O of Bader


@pytest.mark.skipif(not HAVE_QE, reason="ld1.x (Quantum ESPRESSO) generates the core-hole UPF")
def test_prepare_pseudos_works_with_no_debian_folder_and_no_override(monkeypatch, tmp_path):
    """A fresh user cache, ``AMORPHXAS_PSEUDO_DIR`` unset: every file pw.x reads is there and
    byte-identical to the package's (on this machine the Debian folder does not even exist)."""
    monkeypatch.delenv("AMORPHXAS_PSEUDO_DIR", raising=False)
    monkeypatch.setenv("AMORPHXAS_CACHE", str(tmp_path / "cache"))
    pseudos = prepare_pseudos()
    assert (tmp_path / "cache") in pseudos.directory.parents
    for name in GROUND_STATE_PSEUDOS.values():
        assert _sha(pseudos.directory / name) == SHIPPED_PSEUDO_SHA256[name]
    assert pseudos.core_wavefunction.is_file() and (pseudos.directory / pseudos.core_hole).is_file()
    hashes = pseudos.hashes()
    assert {k: hashes[k] for k in GROUND_STATE_PSEUDOS.values()} == {
        k: SHIPPED_PSEUDO_SHA256[k] for k in GROUND_STATE_PSEUDOS.values()}
    if not DEBIAN_PSEUDO.exists():
        assert not any(str(DEBIAN_PSEUDO) in str(p) for p in pseudos.directory.rglob("*"))


@pytest.mark.skipif(not HAVE_QE, reason="ld1.x (Quantum ESPRESSO) generates the core-hole UPF")
def test_a_tampered_copy_in_the_cache_is_replaced_not_used(monkeypatch, tmp_path):
    """pw.x reads the copies in the cache folder: a modified copy there must not be used."""
    monkeypatch.delenv("AMORPHXAS_PSEUDO_DIR", raising=False)
    monkeypatch.setenv("AMORPHXAS_CACHE", str(tmp_path / "cache"))
    directory = prepare_pseudos().directory
    name = GROUND_STATE_PSEUDOS["O"]
    (directory / name).write_bytes((directory / name).read_bytes().replace(b"0.", b"1.", 1))
    pseudos = prepare_pseudos()
    assert _sha(pseudos.directory / name) == SHIPPED_PSEUDO_SHA256[name]


def test_a_modified_pseudo_is_refused_with_a_clear_error(monkeypatch, tmp_path):
    for name in SHIPPED_PSEUDO_SHA256:
        shutil.copyfile(PSEUDO_DIR_DEFAULT / name, tmp_path / name)
    target = tmp_path / GROUND_STATE_PSEUDOS["Si"]
    target.write_bytes(target.read_bytes() + b"\n")  # one extra byte
    monkeypatch.setenv("AMORPHXAS_PSEUDO_DIR", str(tmp_path))
    with pytest.raises(EngineError, match="differs from the one the datasets were computed with") as exc:
        find_ground_state_pseudo("Si")
    assert str(target) in str(exc.value) and "\n" not in str(exc.value)
    assert find_ground_state_pseudo("O") == tmp_path / GROUND_STATE_PSEUDOS["O"]  # untouched one
    if HAVE_QE:
        monkeypatch.setenv("AMORPHXAS_CACHE", str(tmp_path / "cache"))
        with pytest.raises(EngineError, match="differs"):
            prepare_pseudos()


def test_override_folder_is_used_and_a_missing_file_names_it(monkeypatch, tmp_path):
    monkeypatch.setenv("AMORPHXAS_PSEUDO_DIR", str(tmp_path))
    with pytest.raises(EngineError, match=f"{tmp_path}/O.pbe-rrkjus.UPF not found") as exc:
        find_ground_state_pseudo("O")
    assert f"AMORPHXAS_PSEUDO_DIR={tmp_path}" in str(exc.value)
    shutil.copyfile(PSEUDO_DIR_DEFAULT / "O.pbe-rrkjus.UPF", tmp_path / "O.pbe-rrkjus.UPF")
    assert find_ground_state_pseudo("O") == tmp_path / "O.pbe-rrkjus.UPF"
    assert pseudo.pseudo_dir() == tmp_path
    monkeypatch.delenv("AMORPHXAS_PSEUDO_DIR")
    assert pseudo.pseudo_dir() == PSEUDO_DIR_DEFAULT


def test_package_data_globs_cover_the_engine_inputs():
    from fnmatch import fnmatch

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["amorphxas"]
    needed = [p.relative_to(PACKAGE).as_posix() for p in
              [*PSEUDO_DIR_DEFAULT.glob("*.UPF"), *(PACKAGE / "data" / "ld1").glob("*.in")]]
    assert len(needed) >= len(SHIPPED_PSEUDO_SHA256) + 1
    for name in needed:
        assert any(fnmatch(name, g) for g in globs), name


def test_wheel_and_sdist_carry_the_pseudopotentials(tmp_path):
    """Build both from a copy of the source tree (without the HDF5 datasets, for speed)."""
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    src = tmp_path / "src_tree"
    shutil.copytree(PACKAGE, src / "src" / "amorphxas",
                    ignore=shutil.ignore_patterns("*.h5", "__pycache__", "large"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, src / name)
    for build in ("build_wheel", "build_sdist"):  # one process each (setuptools keeps state)
        code = f"import sys; from setuptools import build_meta as b; b.{build}(sys.argv[1])"
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "dist")], cwd=src, check=True,
                       capture_output=True)
    wanted = {f"amorphxas/data/pseudo/{n}": h for n, h in SHIPPED_PSEUDO_SHA256.items()}
    wanted["amorphxas/data/ld1/Si_1s_corehole.in"] = _sha(PACKAGE / "data/ld1/Si_1s_corehole.in")
    with zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))) as whl:
        for name, digest in wanted.items():
            assert hashlib.sha256(whl.read(name)).hexdigest() == digest, name
    with tarfile.open(next((tmp_path / "dist").glob("*.tar.gz"))) as sdist:
        members = {m.name.split("/src/", 1)[-1]: m for m in sdist.getmembers() if "/src/" in m.name}
        for name, digest in wanted.items():
            assert hashlib.sha256(sdist.extractfile(members[name]).read()).hexdigest() == digest, name
