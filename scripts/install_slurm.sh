#!/usr/bin/env bash
# Install a single-node SLURM (Debian 12 packages: slurmctld, slurmd, the client commands and
# munge) for `pytest -m cluster`, as root. Nothing is started or enabled here: the test fixture
# (tests/slurm_local.py) writes its own slurm.conf and munge key in a temporary directory and
# runs the daemons only for the duration of the tests.
set -euo pipefail
need=()
# libpmix-dev: Debian's SLURM PMIx plugin dlopens the unversioned libpmix.so, which only the -dev
# package ships; without it `srun --mpi=pmix pw.x` fails ("can not load PMIx library") and
# Debian's Open MPI cannot be started by srun at all (it has no PMI-1/2 support)
for pkg in slurmctld slurmd slurm-client munge libpmix-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # the packages' maintainer scripts would start the system services: keep them stopped
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ "$created_policy" = 1 ] && rm -f "$policy"
fi
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null
echo "SLURM $(slurmctld -V | awk '{print $2}') and munge installed (daemons not started)"
