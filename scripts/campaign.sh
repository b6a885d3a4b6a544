#!/usr/bin/env bash
# Grow the embedded dataset in the background, committing it every few minutes:
#   nohup bash scripts/campaign.sh 150 40 > runs/campaign/campaign.log 2>&1 &
# $1: total budget in minutes (default 60: no site starts after it, running ones finish);
# $2: minutes between commits of the dataset (default 40; the dataset file is replaced
#     atomically per site, so a commit never sees half a site);
# $3: site selection: ur-stratified (default: `amorphxas select --strategy ur-stratified`, valence
#     classes filled in turn, the most informative site of each by uncertainty reduction, redone
#     whenever a batch of 40 is used up), stratified or random (the campaign's own), or a JSON
#     site file;
# $4 x $5: concurrent sites x MPI ranks per site (default 2 x 1: on 2 cores two single-rank
# sites give ~1.2-1.35x the throughput of one two-rank site, docs/spectra.md);
# anything after $5 goes to `amorphxas compute` (e.g. --no-bader). A site file that is used up
# is followed by ur-stratified selection. AMORPHXAS_DATASET: grow this dataset instead of the
# embedded one.
# The whole script is one function, parsed before it runs: editing this file while a campaign
# runs cannot change what the running one executes.
set -uo pipefail

main() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    # DFT first: other work on the machine (tests, MD, benchmarks) must not slow the campaign.
    # With the kernel's autogroup scheduling (Debian's default) `nice` only orders processes of
    # one login session, so the campaign raises its own session group's weight (root only) and
    # its own priority; children (pw.x, xspectra.x) inherit both.
    echo -10 > /proc/self/autogroup 2>/dev/null || true
    renice -n -10 -p $$ >/dev/null 2>&1 || true
    budget=${1:-60}
    chunk=${2:-40}
    select=${3:-ur-stratified}
    workers=${4:-2}
    procs=${5:-1}
    extra=("${@:6}")
    dataset=${AMORPHXAS_DATASET:-$(.venv/bin/amorphxas dataset path)}
    commit() {
        n=$(.venv/bin/amorphxas dataset info "$dataset" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["n_sites"])')
        for attempt in 1 2 3 4 5; do
            git add "$dataset" && git commit -q -m "dataset: campaign checkpoint, $n site spectra" -- "$dataset" && break
            sleep 5
        done
    }
    # One `amorphxas compute` runs the whole budget (chunked runs left a worker idle at every
    # chunk end while the other finished its site); a background loop commits meanwhile.
    # `kill <this script>` stops the running compute at once (its DFT jobs are terminated and
    # redone on restart), commits what is finished, and exits
    child=
    ( while sleep $(( chunk * 60 )); do commit; done ) &
    committer=$!
    stop() {
        kill "$committer" 2>/dev/null
        [ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"
        commit; exit 0
    }
    trap stop TERM INT
    end=$(( $(date +%s) + budget * 60 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        left=$(( (end - $(date +%s)) / 60 ))
        [ "$left" -le 0 ] && break
        if [ -f "$select" ] && [ "$(.venv/bin/python -c 'import sys; from amorphxas.spectra.campaign import select_sites; print(len(select_sites(sys.argv[1], sites_file=sys.argv[2])))' "$dataset" "$select")" = 0 ]; then
            select=ur-stratified
        fi
        if [ "$select" = ur-stratified ]; then
            mkdir -p runs/campaign
            .venv/bin/amorphxas select "$dataset" --strategy ur-stratified --n 40 \
                -o runs/campaign/next_sites.json || break
            picks=(--sites runs/campaign/next_sites.json)
        elif [ -f "$select" ]; then
            picks=(--sites "$select")
        else
            picks=(--select "$select" --n 500)
        fi
        started=$(date +%s)
        .venv/bin/amorphxas compute "$dataset" "${picks[@]}" --budget "$left" \
            --workers "$workers" --procs "$procs" "${extra[@]}" &
        child=$!
        wait "$child"
        child=
        commit
        # nothing left to compute (or every pick failed at once): do not spin until the budget
        [ $(( $(date +%s) - started )) -lt 60 ] && break
    done
    kill "$committer" 2>/dev/null
}

main "$@"; exit $?
