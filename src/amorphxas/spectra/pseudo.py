"""Pseudopotentials for the Si K edge: the shipped ground-state ones and a generated 1s core-hole one.

Debian's Quantum ESPRESSO ships no Si 1s core-hole pseudopotential, so one is generated with
``ld1.x`` from the input in ``amorphxas/data/ld1/`` (pslibrary 1.0.0 Si parameters, configuration
``1s1 2s2 2p6 3s2 3p2``, ultrasoft with GIPAW reconstruction; PAW+GIPAW generation crashes in
ld1.x 6.7). It is generated once into the user cache, keyed by the SHA-256 of its input.

The core wavefunction file that ``xspectra.x`` reads (``filecore``: one header line, then
``r  psi_1s(r)`` per radial mesh point) is extracted from the UPF's ``PP_GIPAW_CORE_ORBITAL.1``;
Debian ships no ``upf2plotcore.sh``, and the extraction is a few lines of parsing.

The ground-state pseudopotentials (and the PAW O used for Bader charges) are shipped in
``amorphxas/data/pseudo/``: they are the files of Debian's ``quantum-espresso-data`` 6.7-2 (from
the QE pseudopotential library, GPL), copied byte for byte so that the engine needs no Debian
paths and runs with a user's own QE build on a cluster. Their SHA-256 is checked on every use;
``AMORPHXAS_PSEUDO_DIR`` points the engine at another folder holding the same files.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amorphxas.core.errors import EngineError

PSEUDO_DIR_DEFAULT = Path(__file__).resolve().parent.parent / "data" / "pseudo"
GROUND_STATE_PSEUDOS = {
    "Si": "Si.pbe-nl-rrkjus_psl.1.0.0.UPF",
    "O": "O.pbe-rrkjus.UPF",
}
# SHA-256 of the shipped files (Debian quantum-espresso-data 6.7-2); every spectrum of the
# embedded datasets records the same hashes in its provenance.
SHIPPED_PSEUDO_SHA256 = {
    "Si.pbe-nl-rrkjus_psl.1.0.0.UPF": "2bd1a6a56a5231397d3d090c5009683b9e2caeebd80ebaa8452b1cf228ed2d27",
    "O.pbe-rrkjus.UPF": "eb99ed77e1be5beba915844dce6ee9ebd0367f3c576481c0629daefc7b7fe3ce",
    "O.pbe-kjpaw.UPF": "2b6ba2a535fad72e0dd8046da3f14876a13829f33e398447fc366012bd7b8999",
}
CORE_HOLE_INPUT = Path(__file__).resolve().parent.parent / "data" / "ld1" / "Si_1s_corehole.in"
CORE_HOLE_UPF = "Si.pbe-1s1-rrkjus-gipaw.UPF"


@dataclass(frozen=True)
class PseudoSet:
    """Where the pseudopotentials are and what they are (hashes go into every spectrum)."""

    directory: Path
    ground_state: dict[str, str]
    core_hole: str
    core_wavefunction: Path

    def hashes(self) -> dict[str, str]:
        hashes = {name: sha256_file(self.directory / name) for name in self.ground_state.values()}
        hashes[self.core_hole] = sha256_generated_upf(self.directory / self.core_hole)
        return hashes


def sha256_generated_upf(path: Path) -> str:
    """SHA-256 of an ld1.x-generated UPF without its generation date (ld1.x stamps the day, so
    the same input gives the same hash on every day)."""
    text = Path(path).read_text()
    text = re.sub(r'date="[^"]*"', 'date=""', re.sub(r"Generation date:\s*\S+", "Generation date:", text))
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cache_dir() -> Path:
    root = os.environ.get("AMORPHXAS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "amorphxas")
    return Path(root)


def pseudo_dir() -> Path:
    """The folder the pseudopotentials are read from: ``AMORPHXAS_PSEUDO_DIR`` or the package's."""
    override = os.environ.get("AMORPHXAS_PSEUDO_DIR")
    return Path(override) if override else PSEUDO_DIR_DEFAULT


def find_pseudo(name: str) -> Path:
    """A shipped pseudopotential file by name, its SHA-256 checked against the shipped one."""
    path = pseudo_dir() / name
    if not path.is_file():
        raise EngineError(f"pseudopotential {path} not found (AMORPHXAS_PSEUDO_DIR="
                          f"{os.environ.get('AMORPHXAS_PSEUDO_DIR', 'unset')})")
    expected = SHIPPED_PSEUDO_SHA256.get(name)
    if expected is not None and sha256_file(path) != expected:
        raise EngineError(f"pseudopotential {path} differs from the one the datasets were computed "
                          f"with (SHA-256 {expected[:12]}...): restore it or unset AMORPHXAS_PSEUDO_DIR")
    return path


def find_ground_state_pseudo(element: str) -> Path:
    """The ground-state pseudopotential of ``element`` (``Si`` or ``O``), hash-checked."""
    return find_pseudo(GROUND_STATE_PSEUDOS[element])


def generate_core_hole_pseudo(ld1_executable: str = "ld1.x") -> Path:
    """Generate (once) the Si 1s core-hole pseudopotential; returns the cached UPF path."""
    text = CORE_HOLE_INPUT.read_text()
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    target_dir = cache_dir() / "pseudo" / key
    upf = target_dir / CORE_HOLE_UPF
    if upf.is_file():
        return upf
    target_dir.mkdir(parents=True, exist_ok=True)
    work = target_dir / f"work.{os.getpid()}"
    work.mkdir(exist_ok=True)
    try:
        result = subprocess.run([ld1_executable], input=text, capture_output=True, text=True,
                                cwd=work, check=False)
    except FileNotFoundError:
        raise EngineError(f"{ld1_executable} not found: install Quantum ESPRESSO "
                          "(apt-get install quantum-espresso)") from None
    (work / "ld1.out").write_text(result.stdout + result.stderr)
    produced = work / CORE_HOLE_UPF
    if result.returncode != 0 or not produced.is_file():
        raise EngineError(f"ld1.x failed to generate the core-hole pseudopotential; "
                          f"log: {work / 'ld1.out'}")
    os.replace(produced, upf)
    return upf


def extract_core_wavefunction(upf: Path, target: Path, orbital: int = 1) -> Path:
    """Write xspectra's ``filecore`` (header, then ``r psi(r)``) from a GIPAW UPF.

    ``orbital`` 1 is the 1s state (K edge).
    """
    text = Path(upf).read_text()
    mesh_match = re.search(r"<PP_R[^>]*>(.*?)</PP_R>", text, re.S)
    core_match = re.search(
        rf"<PP_GIPAW_CORE_ORBITAL\.{orbital}\b([^>]*)>(.*?)</PP_GIPAW_CORE_ORBITAL\.{orbital}>",
        text, re.S)
    if mesh_match is None or core_match is None:
        raise EngineError(f"{upf}: no radial mesh or no GIPAW core orbital {orbital}; "
                          "the pseudopotential must be generated with lgipaw_reconstruction")
    radius = np.array(mesh_match.group(1).split(), dtype=float)
    wavefunction = np.array(core_match.group(2).split(), dtype=float)
    if radius.size != wavefunction.size:
        raise EngineError(f"{upf}: core orbital has {wavefunction.size} points, mesh {radius.size}")
    label = re.search(r'label="([^"]+)"', core_match.group(1))
    header = f"# core orbital {label.group(1) if label else orbital} from {Path(upf).name}"
    lines = [header] + [f"{r:.12e} {psi:.12e}" for r, psi in zip(radius, wavefunction)]
    Path(target).write_text("\n".join(lines) + "\n")
    return Path(target)


def prepare_pseudos(workdir: Path | None = None) -> PseudoSet:
    """Ground-state and core-hole pseudopotentials in one directory that pw.x can use."""
    upf = generate_core_hole_pseudo()
    directory = upf.parent
    for element in GROUND_STATE_PSEUDOS:
        source = find_ground_state_pseudo(element)
        link = directory / source.name
        # pw.x reads this copy: a missing or modified one is replaced by the checked source
        if not link.is_file() or sha256_file(link) != sha256_file(source):
            tmp = directory / f"{source.name}.{os.getpid()}.tmp"
            tmp.write_bytes(source.read_bytes())
            os.replace(tmp, link)
    core_file = directory / "Si.1s.core.wfc"
    if not core_file.is_file():
        tmp = directory / f"Si.1s.core.wfc.{os.getpid()}.tmp"
        extract_core_wavefunction(upf, tmp)
        os.replace(tmp, core_file)
    return PseudoSet(directory=directory, ground_state=dict(GROUND_STATE_PSEUDOS),
                     core_hole=upf.name, core_wavefunction=core_file)
